"""The annotated photo as an interactive figure: zoom into a crowd, hover over a face to read it, click to open it."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from face2data.results import class_summary
from face2data.ui.image_uri import jpeg_data_uri

# A click target per face, sized to the face on the shown photo but never too small to hit.
MIN_TARGET_PX, MAX_TARGET_PX = 14, 80
PLOTLY_MIN_PX = 10  # the least width and height Plotly accepts for a figure


def hover_text(face) -> str:
    """'Face 3: 34 years (28–41), female 97 %, White 88 %' — what hovering over a face tells."""
    age = f"{face.age_years} years ({face.age_low:.0f}–{face.age_high:.0f})"
    return f"Face {face.index + 1}: {age}, {class_summary(face)}"


def photo_figure(photo: np.ndarray, faces: list, scale: float, column_px: int | None = None) -> go.Figure:
    """The shown photo (boxes and labels already drawn) with a hover and click (or tap) target per face.

    ``scale`` maps the faces' boxes (photo pixels) onto the shown photo; each target's ``customdata`` is the face
    index, which the page reads from a click. The figure has the photo's own pixel size, or, given ``column_px``,
    the width of a column that wide (a phone's: the figure then stretches to the column) and the height that
    keeps the photo's shape there.
    """
    height, width = photo.shape[:2]
    screen = 1.0 if column_px is None else column_px / width  # screen pixels per shown photo pixel
    fig = go.Figure(go.Image(source=jpeg_data_uri(photo), hoverinfo="skip"))
    boxes = np.array([face.box for face in faces], dtype=float).reshape(-1, 4) * scale
    fig.add_trace(
        go.Scatter(
            x=boxes[:, 0] + boxes[:, 2] / 2,
            y=boxes[:, 1] + boxes[:, 3] / 2,
            mode="markers",
            marker={
                "symbol": "square",
                "size": np.clip(boxes[:, 2] * 0.9 * screen, MIN_TARGET_PX, MAX_TARGET_PX),
                "color": "rgba(255,255,255,0.01)",  # invisible, yet it takes hovers and clicks
            },
            selected={"marker": {"opacity": 1}},
            unselected={"marker": {"opacity": 1}},
            customdata=[face.index for face in faces],
            hovertext=[hover_text(face) for face in faces],
            hoverinfo="text",
            showlegend=False,
        )
    )
    fig.update_xaxes(visible=False, range=[0, width], constrain="domain")
    fig.update_yaxes(visible=False, range=[height, 0], scaleanchor="x", constrain="domain")
    fig.update_layout(
        width=max(width, PLOTLY_MIN_PX) if column_px is None else None,
        height=max(round(height * screen), PLOTLY_MIN_PX),  # a long thin photo is shown a few pixels tall
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        dragmode="zoom",
        clickmode="event+select",
    )
    return fig
