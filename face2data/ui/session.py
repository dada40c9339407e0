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


def tab_checker() -> Callable[[], bool]:
    """``tab_is_open`` for this script run's tab, callable from any thread (a background task's, which has no
    script run of its own)."""
    context = get_script_run_ctx(suppress_warning=True)
    if context is None or not runtime.exists():
        return lambda: True
    session_id = context.session_id
    return lambda: runtime.exists() and runtime.get_instance().is_active_session(session_id)


def stop_if_tab_closed() -> None:
    """End this script run (``st.stop``) when its tab has gone. Called from long work's progress callbacks, so an
    abandoned page's work (many photos, an explanation) stops at its next step instead of running on for nobody."""
    if not tab_is_open():
        st.stop()


def photo_progress(bar: Any) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback for work over many photos: it moves ``bar`` (an ``st.progress``) and
    stops the run once its tab has gone (``stop_if_tab_closed``; worker threads finish the photos they hold)."""

    def progress(done: int, total: int) -> None:
        stop_if_tab_closed()
        bar.progress(done / total, f"{done} of {total} photos")

    return progress
