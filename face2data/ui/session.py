"""This browser tab's session: whether anyone is still there to see the work a page is doing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx


def tab_is_open() -> bool:
    """False once the browser tab of this script run has closed or lost its connection.

    Streamlit keeps a closed tab's session for ``server.disconnectedSessionTTL`` and lets its script run on
    meanwhile; outside a running app (tests, bare mode) the tab counts as open."""
    context = get_script_run_ctx(suppress_warning=True)
    if context is None or not runtime.exists():
        return True
    return runtime.get_instance().is_active_session(context.session_id)


def photo_progress(bar: Any) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback for work over many photos: it moves ``bar`` (an ``st.progress``)
    and ends the script's run as soon as its tab has gone, so an abandoned page's work stops at the next photo
    instead of running on for nobody (its threads finish the photos they hold and nothing else)."""

    def progress(done: int, total: int) -> None:
        if not tab_is_open():
            st.stop()
        bar.progress(done / total, f"{done} of {total} photos")

    return progress
