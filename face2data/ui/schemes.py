"""Which head of each attribute the pages show: where an attribute has several heads (schemes: the five ethnicity
classes, FairFace's seven groups), the face cards, photo labels, Live labels and explanations show one of them.

The choice is the user's, made in the sidebar of the Predict, Explain and Live pages and kept in the session, so it
holds across pages and reruns. It is read from ``schema.HEAD_TABLE``: nothing here names an attribute, and while
every attribute has one head there is nothing to choose and no widget is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from face2data.schema import HEAD_BY_NAME, HEAD_TABLE, Head, shown_heads

CHOICE_KEY = "shown_heads"  # session state: attribute -> the name of the head shown for it


def alternatives(table: Sequence[Head] = HEAD_TABLE) -> dict[str, list[Head]]:
    """Every attribute with more than one head, with its heads in table order (the first is the default)."""
    by_attribute: dict[str, list[Head]] = {}
    for head in table:
        by_attribute.setdefault(head.attribute, []).append(head)
    return {attribute: heads for attribute, heads in by_attribute.items() if len(heads) > 1}


def choice() -> dict[str, str]:
    """The heads chosen so far in this session, by attribute (empty: every attribute's first head)."""
    return dict(st.session_state.get(CHOICE_KEY, {}))


def shown() -> tuple[Head, ...]:
    """One head per attribute, age included, as this session shows faces (``schema.shown_heads``)."""
    return shown_heads(choice())


def shown_classes() -> tuple[Head, ...]:
    """The class heads among ``shown()``."""
    return tuple(head for head in shown() if head.kind == "classes")


def _scheme(head: Head) -> str:
    return head.scheme or head.title


def picker() -> None:
    """In the sidebar, one choice per attribute with several heads; the choice is kept in the session."""
    kept = choice()
    for attribute, heads in alternatives().items():
        by_name = {head.name: head for head in heads}
        names = list(by_name)
        picked = st.sidebar.radio(
            f"{heads[0].title} on the face cards",
            names,
            index=names.index(kept[attribute]) if kept.get(attribute) in by_name else 0,
            format_func=lambda name: _scheme(HEAD_BY_NAME[name]),
            key=f"scheme_{attribute}",
            help="Which of the model's heads for this is shown on the cards, the photo labels and the explanations. "
            "Downloads and the API give every head.",
        )
        kept[attribute] = picked or names[0]
    st.session_state[CHOICE_KEY] = kept
