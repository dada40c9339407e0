"""Plotly figures of the app, built from plain data (DataFrames, dicts, arrays) so they can be tested alone."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from itertools import product

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from face2data.data.scores import RANGE_HIT_KEY
from face2data.results import whole_percent
from face2data.schema import AGE_BUCKETS, AGE_RANGE_TOLERANCE, AGES, CLASS_HEADS, HEAD_BY_NAME, HEAD_TABLE
from face2data.ui.artifacts import best_epoch, normalise_rows
from face2data.ui.image_uri import jpeg_data_uri

TRAIN_COLOUR = "#2E6FBA"
VAL_COLOUR = "#D9822B"
BEST_COLOUR = "#2CA02C"
CLASS_MAPS_PER_ROW = 5  # more classes' maps go on two rows
FEW_POINTS = 200  # a scatter of at most this many points draws them large
PANEL_TITLE_CHARS = 22  # a panel title's line: half a phone's column (about 170 px) at the titles' 12 px


def _compact(fig: go.Figure, height: int, title: str | None = None, top: int | None = None) -> go.Figure:
    fig.update_layout(
        height=height,
        title=title,
        margin={"l": 10, "r": 10, "t": top if top is not None else 40 if title else 10, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    return fig


def _curves(history: pd.DataFrame, panels: Sequence[tuple[str, str]], rows: int, cols: int, height: int) -> go.Figure:
    """Train (solid) and validation (dashed) curves of ``metric`` per panel, best epoch marked."""
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[_wrapped(title) for _, title in panels])
    best = best_epoch(history)
    for i, (metric, _) in enumerate(panels):
        row, col = i // cols + 1, i % cols + 1
        for prefix, name, colour, dash in (
            ("", "train", TRAIN_COLOUR, "solid"),
            ("val_", "validation", VAL_COLOUR, "dash"),
        ):
            if prefix + metric not in history:
                continue
            fig.add_trace(
                go.Scatter(
                    x=history["epoch"],
                    y=history[prefix + metric],
                    name=name,
                    mode="lines+markers",
                    line={"color": colour, "dash": dash},
                    marker={"size": 4},
                    legendgroup=name,
                    showlegend=i == 0,
                    hovertemplate=f"epoch %{{x}}<br>{name} {metric}: %{{y:.4g}}<extra></extra>",
                ),
                row=row,
                col=col,
            )
        fig.add_vline(x=best, line={"color": BEST_COLOUR, "dash": "dot"}, row=row, col=col)
        fig.update_xaxes(title_text="epoch", dtick=max(1, -(-len(history) // 10)), row=row, col=col)
    # A legend entry for the vertical best-epoch lines.
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="lines",
            line={"color": BEST_COLOUR, "dash": "dot"},
            name=f"best epoch {best} (lowest validation loss)",
        ),
        row=1,
        col=1,
    )
    return _legend_above_titles(fig, height)


def _wrapped(title: str) -> str:
    """A panel title broken into lines that fit half a phone's column (one line on a desktop's wider panels
    would do, but a figure cannot know the screen)."""
    return "<br>".join(textwrap.wrap(title, PANEL_TITLE_CHARS))


def _legend_above_titles(fig: go.Figure, height: int) -> go.Figure:
    """Panel titles at 12 px and the legend at the top of the figure, above them (on a phone the legend takes
    two or three lines)."""
    _compact(fig, height, top=90)
    fig.update_annotations(font_size=12)
    fig.update_layout(legend={"yref": "container", "y": 1.0, "yanchor": "top"})
    return fig


def _in_history(history: pd.DataFrame, panels: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The panels whose figure the history holds (train or validation): a head added later has none in an older
    run's history."""
    return [(metric, title) for metric, title in panels if metric in history or f"val_{metric}" in history]


def accuracy_title(head: str) -> str:
    """'gender accuracy (%)': a class head's accuracy, for axes and panels."""
    return f"{HEAD_BY_NAME[head].title.lower()} accuracy (%)"


def loss_figure(history: pd.DataFrame) -> go.Figure:
    """Total and per-head losses, train vs validation, two panels a row."""
    panels = [("loss", "total loss"), *((f"{h.name}_loss", f"{h.title.lower()} loss") for h in HEAD_TABLE)]
    panels = _in_history(history, panels)
    rows = -(-len(panels) // 2)
    return _curves(history, panels, rows=rows, cols=2, height=280 * rows)


def metrics_figure(history: pd.DataFrame) -> go.Figure:
    """Age error (years) and each class head's accuracy (%), train vs validation."""
    panels = [("age_mae", "age error (years)"), *((f"{h.name}_accuracy", accuracy_title(h.name)) for h in CLASS_HEADS)]
    panels = _in_history(history, panels)
    percent = history.copy()
    for column in percent.columns:
        if column.endswith("_accuracy"):
            percent[column] = percent[column] * 100
    rows = -(-len(panels) // 2)  # two a row, as the losses: four in a row ran into each other on a phone
    return _curves(percent, panels, rows=rows, cols=2, height=280 * rows)


SOURCE_CURVES = (
    ("utkface", "UTKFace", "#1f77b4"),
    ("fairface", "in the wild (FairFace)", "#d62728"),
    ("allagefaces", "All-Age-Faces", "#2ca02c"),
)
SOURCE_PANELS = (
    ("age_mae", "age MAE (years; exact ages)"),
    (RANGE_HIT_KEY, f"age within range ± {AGE_RANGE_TOLERANCE} (%; age ranges)"),
    *((f"{head.name}_accuracy", accuracy_title(head.name)) for head in CLASS_HEADS),
)


def _has(history: pd.DataFrame, column: str) -> bool:
    return column in history and not history[column].isna().all()


def per_source_figure(history: pd.DataFrame) -> go.Figure | None:
    """Validation figures of each training source per epoch (inference mode), a panel per figure the history
    holds, years and percentages never on one axis; None for a one-source history."""
    columns = {source: [f"val_{source}_{metric}" for metric, _ in SOURCE_PANELS] for source, _, _ in SOURCE_CURVES}
    sources = [source for source, names in columns.items() if any(_has(history, c) for c in names)]
    if len(sources) < 2:
        return None
    panels = [(m, t) for m, t in SOURCE_PANELS if any(_has(history, f"val_{s}_{m}") for s in sources)]
    rows = -(-len(panels) // 2)
    fig = make_subplots(
        rows=rows, cols=2, subplot_titles=[_wrapped(t) for _, t in panels], vertical_spacing=0.36 / rows
    )
    shown: set[str] = set()
    for i, (metric, _) in enumerate(panels):
        row, col = i // 2 + 1, i % 2 + 1
        for source, name, colour in SOURCE_CURVES:
            column = f"val_{source}_{metric}"
            if source not in sources or column not in history or history[column].isna().all():
                continue
            scale = 1 if metric == "age_mae" else 100
            fig.add_trace(
                go.Scatter(
                    x=history["epoch"],
                    y=history[column] * scale,
                    name=name,
                    mode="lines+markers",
                    line={"color": colour},
                    marker={"size": 4},
                    legendgroup=source,
                    showlegend=source not in shown,
                    hovertemplate=f"epoch %{{x}}<br>{name}: %{{y:.2f}}<extra></extra>",
                ),
                row=row,
                col=col,
            )
            shown.add(source)
        fig.update_xaxes(title_text="epoch", dtick=max(1, -(-len(history) // 10)), row=row, col=col)
    return _legend_above_titles(fig, 280 * rows)


def learning_rate_figure(history: pd.DataFrame) -> go.Figure:
    """The learning rate per epoch."""
    fig = go.Figure(
        go.Scatter(
            x=history["epoch"],
            y=history["learning_rate"],
            mode="lines+markers",
            line={"color": TRAIN_COLOUR},
            name="learning rate",
        )
    )
    fig.add_vline(x=best_epoch(history), line={"color": BEST_COLOUR, "dash": "dot"})
    fig.update_yaxes(title_text="learning rate", tickformat=".1e", rangemode="tozero")
    fig.update_xaxes(title_text="epoch", dtick=max(1, -(-len(history) // 10)))
    return _compact(fig, 280)


def confusion_figure(
    labels: Sequence[str],
    counts: Sequence[Sequence[int]],
    normalised: bool,
    title: str,
    rows: Sequence[str] | None = None,
) -> go.Figure:
    """A confusion-matrix heatmap: rows = true class (``rows`` if not ``labels``), columns = predicted class."""
    rows = list(rows) if rows is not None else list(labels)
    matrix = np.asarray(counts, dtype=float)
    values = normalise_rows(matrix) if normalised else matrix
    text = [[f"{v:.0%}" if normalised else f"{int(v)}" for v in row] for row in values]
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=list(labels),
            y=rows,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalised else None,
            customdata=counts,
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata:.0f} faces<extra></extra>",
            colorbar={"title": "share of row" if normalised else "faces"},
        )
    )
    fig.update_yaxes(title_text="true", autorange="reversed", type="category")
    fig.update_xaxes(title_text="predicted", type="category")
    return _compact(fig, 360 if len(rows) > 3 else 280, title)


GROUP_METRICS = {
    "age_mae": ("age MAE (years)", "Reds", "%{z:.1f}"),
    RANGE_HIT_KEY: (f"age within range ± {AGE_RANGE_TOLERANCE} years (%)", "Blues", "%{z:.0f}"),
    **{f"{head.name}_accuracy": (accuracy_title(head.name), "Blues", "%{z:.0f}") for head in CLASS_HEADS},
}


def row_heads(table: pd.DataFrame) -> list[str]:
    """The class heads a table of cells (group × ... × age bucket) is grouped by, one per attribute (the one of
    most classes where a set is labelled in two schemes: the other is implied by it), most classes first."""
    finest: dict[str, str] = {}
    for head in CLASS_HEADS:
        if head.name in table and table[head.name].notna().any():
            kept = finest.get(head.attribute)
            if kept is None or len(head.classes) > len(HEAD_BY_NAME[kept].classes):
                finest[head.attribute] = head.name
    return sorted(finest.values(), key=lambda name: -len(HEAD_BY_NAME[name].classes))


def group_heatmap(table: pd.DataFrame, metric: str, min_n: int = 1, narrow: bool = False) -> go.Figure:
    """``metric`` per row of labelled classes (``row_heads``: "White · female") and age-bucket column, with n per
    cell in the hover and text. ``narrow``: for a phone's column, the figures in the hover (a tap) only and the
    colour bar below the cells, so the cells keep the width.
    """
    title, colours, fmt = GROUP_METRICS[metric]
    heads = row_heads(table)
    rows = [
        " · ".join(combination) or "all faces" for combination in product(*(HEAD_BY_NAME[h].classes for h in heads))
    ]
    z = np.full((len(rows), len(AGE_BUCKETS)), np.nan)
    n = np.zeros_like(z)
    for record in table.to_dict("records"):
        row = " · ".join(str(record[head]) for head in heads) or "all faces"
        if row not in rows:  # a cell of faces without a label of one of the heads: in no row
            continue
        i, j = rows.index(row), AGE_BUCKETS.index(record["age_bucket"])
        n[i, j] = record["n"]
        if record["n"] >= min_n:
            z[i, j] = record[metric]
    text = [
        [
            ("" if np.isnan(v) else f"{v:.1f}" if metric == "age_mae" else f"{v:.0f}") + f"<br>n={int(c)}" if c else ""
            for v, c in zip(zr, nr, strict=True)
        ]
        for zr, nr in zip(z, n, strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(AGE_BUCKETS),
            y=rows,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 10},
            colorscale=colours,
            reversescale=metric != "age_mae",
            customdata=n,
            hovertemplate=f"%{{y}}, age %{{x}}<br>{title}: {fmt}<br>n = %{{customdata:.0f}}<extra></extra>",
            # Below the cells on a phone, its title above it: beside it the title left the bar a sliver
            colorbar={
                "title": {"text": title, "side": "top"},
                "orientation": "h",
                "y": -0.3,
                "len": 1.0,
                "thickness": 14,
            }
            if narrow
            else {"title": title},
            hoverongaps=False,
        )
    )
    if narrow:
        fig.update_traces(texttemplate=None, text=None)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title_text="true age bucket", type="category")
    rows_by = " × ".join([*(HEAD_BY_NAME[head].title.lower() for head in heads), "age bucket"])
    height = 200 + 32 * len(rows) + (120 if narrow else 0)
    return _compact(fig, height, title if narrow else f"{title} per {rows_by} (true labels)")


def age_scatter(predictions: pd.DataFrame) -> go.Figure:
    """Predicted vs true age, one point per test face, with the identity line."""
    top = float(max(predictions["age_true"].max(), predictions["age_pred"].max(), 1)) * 1.04  # edge points whole
    few = len(predictions) <= FEW_POINTS  # your own few photos: points large enough to see and to tap
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, top],
            y=[0, top],
            mode="lines",
            name="perfect",
            line={"color": "#888", "dash": "dash"},
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(  # SVG, not WebGL: browsers without a GPU draw it quickly too
            x=predictions["age_true"],
            y=predictions["age_pred"],
            mode="markers",
            name="test face",
            marker={
                "size": 9 if few else 4,
                "opacity": 0.9 if few else 0.45,
                "color": predictions["abs_error"],
                "colorscale": "Viridis",
                "colorbar": {"title": "|error|"},
            },
            customdata=np.stack([predictions["age_low"], predictions["age_high"]], axis=-1),
            hovertemplate="true %{x}<br>predicted %{y:.1f} (%{customdata[0]:.0f}–%{customdata[1]:.0f})<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="true age", range=[0, top])
    fig.update_yaxes(title_text="predicted age", range=[0, top])
    fig.update_layout(showlegend=False)
    return _compact(fig, 460, "Predicted vs true age (dashed: perfect prediction)")


def error_by_age(predictions: pd.DataFrame) -> go.Figure:
    """Mean absolute error per true age decade, with the number of faces in each."""
    decade = (predictions["age_true"] // 10 * 10).astype(int)
    grouped = predictions.groupby(decade)["abs_error"].agg(["mean", "count"]).reset_index()
    labels = [f"{d}–{d + 9}" for d in grouped["age_true"]]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=grouped["mean"],
            marker_color=TRAIN_COLOUR,
            customdata=grouped["count"],
            text=[f"n={c}" for c in grouped["count"]],
            textposition="outside",
            hovertemplate="true age %{x}<br>MAE %{y:.1f} years<br>n = %{customdata}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="true age", type="category")
    fig.update_yaxes(title_text="mean |error| (years)")
    return _compact(fig, 460, "Age error by true age")


def age_distribution_figure(probabilities: np.ndarray, age: float, low: float, high: float) -> go.Figure:
    """The predicted age distribution, the interval shaded and the expected age marked."""
    probabilities = np.asarray(probabilities, dtype=float)
    top = int(min(len(AGES) - 1, max(high + 15, 30)))
    fig = go.Figure(
        go.Scatter(
            x=AGES[: top + 1],
            y=probabilities[: top + 1],
            mode="lines",
            fill="tozeroy",
            line={"color": TRAIN_COLOUR},
            hovertemplate="age %{x:.0f}: %{y:.1%}<extra></extra>",
        )
    )
    fig.add_vrect(x0=low, x1=high, fillcolor=VAL_COLOUR, opacity=0.15, line_width=0)
    fig.add_vline(x=age, line={"color": VAL_COLOUR})
    fig.update_xaxes(title_text="age", range=[0, top])
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(showlegend=False)
    return _compact(fig, 170)


def class_probability_figure(probabilities: Mapping[str, float]) -> go.Figure:
    """Horizontal bars of a class head's probabilities, in the head's class order."""
    names = list(probabilities)
    values = [float(probabilities[name]) for name in names]
    best = int(np.argmax(values))
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            text=[f"{whole_percent(v)}%" for v in values],
            # every bar says its value: inside a long bar, just past a short one (even a 0 % one)
            textposition=["inside" if v >= 0.5 else "outside" for v in values],
            cliponaxis=False,
            marker_color=[VAL_COLOUR if i == best else TRAIN_COLOUR for i in range(len(names))],
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    fig.update_xaxes(range=[0, 1.02], tickvals=[0, 0.5, 1], tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(showlegend=False)
    return _compact(fig, 190)


def shap_figure(
    overlay_rgb: np.ndarray, values: np.ndarray, colorscale: list, unit: str, title: str | None = None
) -> go.Figure:
    """A SHAP overlay image with a colour bar from 'pushed down' (blue) to 'pushed up' (red).

    ``values`` (any resolution) is laid over the image invisibly so hovering shows the SHAP value of each pixel.
    """
    height, width = overlay_rgb.shape[:2]
    rows, cols = values.shape
    limit = float(np.max(np.abs(values))) or 1e-12
    fig = go.Figure(go.Image(source=jpeg_data_uri(np.asarray(overlay_rgb, np.uint8)), hoverinfo="skip"))
    fig.add_trace(
        go.Heatmap(
            z=np.asarray(values, np.float32),  # hover only (invisible): half the bytes of float64
            x0=(width / cols - 1) / 2,
            dx=width / cols,
            y0=(height / rows - 1) / 2,
            dy=height / rows,
            colorscale=colorscale,
            zmin=-limit,
            zmax=limit,
            opacity=0.0,
            hovertemplate="SHAP %{z:.3g} " + unit + "<extra></extra>",
            colorbar={
                "title": {"text": unit, "side": "right"},
                "tickvals": [-limit, 0, limit],
                "thickness": 12,
                "ticktext": [f"-{limit:.2g}<br>pushed down", "0", f"+{limit:.2g}<br>pushed up"],
                "len": 0.9,
            },
        )
    )
    fig.update_xaxes(visible=False, range=[-0.5, width - 0.5])
    fig.update_yaxes(visible=False, range=[height - 0.5, -0.5], scaleanchor="x")
    return _compact(fig, 300, title)


def importance_figure(values: np.ndarray, title: str, unit: str) -> go.Figure:
    """A mean |SHAP| map (how much each region matters, whatever the direction)."""
    fig = go.Figure(
        go.Heatmap(
            z=values,
            colorscale="Viridis",
            zmin=0,
            hovertemplate="mean |SHAP| %{z:.3g} " + unit + "<extra></extra>",
            colorbar={"title": {"text": f"mean |SHAP|<br>({unit})", "side": "right"}, "thickness": 12},
        )
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return _compact(fig, 300, title)


def class_importance_figure(maps: Mapping[str, np.ndarray], counts: Mapping[str, int], unit: str) -> go.Figure:
    """Mean |SHAP| maps of several classes on one colour scale, so they can be compared: one row of up to five,
    two rows for more, each title a word a line (a phone's 390 px hold five or four narrow maps, not seven)."""
    names = list(maps)
    cols = len(names) if len(names) <= CLASS_MAPS_PER_ROW else -(-len(names) // 2)
    rows = -(-len(names) // cols)
    titles = ["<br>".join([*re.split(r"[ _]", n), f"n = {counts[n]:,}"]) for n in names]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02,
                        vertical_spacing=0.12 if rows > 1 else 0.0)  # fmt: skip
    top = max(float(np.max(m)) for m in maps.values()) or 1.0
    for i, name in enumerate(names):
        row, col, axis = i // cols + 1, i % cols + 1, i + 1
        fig.add_trace(
            go.Heatmap(z=maps[name], coloraxis="coloraxis",
                       hovertemplate=f"{name}<br>mean |SHAP| %{{z:.3g}} {unit}<extra></extra>"),
            row=row, col=col,
        )  # fmt: skip
        fig.update_xaxes(visible=False, row=row, col=col)
        fig.update_yaxes(visible=False, autorange="reversed", scaleanchor=f"x{axis if axis > 1 else ''}", row=row,
                         col=col)  # fmt: skip
    fig.update_annotations(font_size=11)  # the subplot titles
    colorbar = {"title": {"text": f"mean |SHAP|<br>({unit})", "side": "right"}, "thickness": 12}
    fig.update_layout(
        plot_bgcolor="rgba(0,0,0,0)",
        coloraxis={"colorscale": "Viridis", "cmin": 0, "cmax": top, "colorbar": colorbar},
    )
    return _compact(fig, 260 * rows, top=50)


def batch_age_histogram(ages: Sequence[float]) -> go.Figure:
    """How many faces of a batch were predicted at each age (5-year bins)."""
    fig = go.Figure(
        go.Histogram(
            x=list(ages),
            xbins={"start": 0, "end": 120, "size": 5},
            marker_color=TRAIN_COLOUR,
            hovertemplate="age %{x}: %{y} faces<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="predicted age", range=[0, max([100.0, *ages]) + 5])
    _whole_numbers(fig, "faces", int(np.histogram(ages, bins=np.arange(0, 125, 5))[0].max(initial=0)))
    return _compact(fig, 260, "Age")


def batch_counts_figure(counts: Mapping[str, int], title: str, unit: str = "faces") -> go.Figure:
    """Bars of how many faces (or photos) fall in each class, in the order given."""
    fig = go.Figure(
        go.Bar(
            x=list(counts),
            y=list(counts.values()),
            text=[str(v) for v in counts.values()],
            textposition="auto",
            marker_color=TRAIN_COLOUR,
            hovertemplate=f"%{{x}}: %{{y}} {unit}<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")
    _whole_numbers(fig, unit, max(counts.values(), default=0))
    return _compact(fig, 260, title)


def _whole_numbers(fig: go.Figure, title: str, top: int) -> None:
    """A count axis with whole-number ticks (Plotly would draw 0.5 steps for counts up to a few)."""
    fig.update_yaxes(title_text=title, rangemode="tozero", tickformat="d", dtick=1 if top <= 5 else None)


# --- region explanations ---------------------------------------------------------------------

UP_COLOUR = "rgb(178, 24, 43)"  # the red end of the maps' colour scale: pushed the output up
DOWN_COLOUR = "rgb(33, 102, 172)"  # the blue end: pushed it down
LEVEL_COLOUR = "#8c8c8c"
REGION_MAP_SIDE = 240  # pixels: the colour crop at a readable size
# Cells a side of the region map's invisible hover layer (4 screen pixels each): every cell names its region, and
# at the crop's 128 a side those names alone were 250 KB a map, of the 650 KB that made the Explain page slow
HOVER_GRID = 60


def _level_axis(head) -> str:
    return "expected age (years)" if head.head == "age" else f"{head.target} (%)"


WATERFALL_LABEL_ROOM = 0.22  # share of the axis' span left beside the bars for their value labels
# and pixels on the right beside the plot: on a phone's narrow plot that share alone left "37.4 year" cut
WATERFALL_LABEL_PX = 64


def region_waterfall_figure(head, title: str | None = None) -> go.Figure:
    """From the blurred face's output (top) through each region's value, largest first, to this face's output."""
    ranked = head.ranked()
    names = ["blurred face", *(name for name, _ in ranked), "this face"]
    values = [head.base_value, *(v for _, v in ranked), head.output_value]
    text = [head.level(head.base_value), *(f"{v:+.1f}" for _, v in ranked), head.level(head.output_value)]
    unit = "years" if head.head == "age" else "pp"
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=names,
            x=values,
            measure=["absolute", *["relative"] * len(ranked), "total"],
            text=text,
            textposition="outside",
            increasing={"marker": {"color": UP_COLOUR}},
            decreasing={"marker": {"color": DOWN_COLOUR}},
            totals={"marker": {"color": LEVEL_COLOUR}},
            connector={"line": {"color": "#bbbbbb", "width": 1}},
            hovertemplate="%{y}: %{text}" + f" {unit}" + "<extra></extra>",
            cliponaxis=False,  # a label beside a bar at the axis' end is drawn whole, not cut
        )
    )
    low = min(0.0, *np.cumsum(values[:-1]))
    high = max(*np.cumsum(values[:-1]), head.output_value)
    # Room beside the bars for their value labels ("37.1 years", "+2.4"), which are drawn outside the bars: without
    # it a label at either end was cut ("37.1 yea", a "+" without its number).
    if head.head == "age":
        pad = WATERFALL_LABEL_ROOM * (high - low or 1.0)
        axis = [low - (pad if low < 0 else 0), high + pad]
        ticks = None
    else:  # a probability: the axis is 0-100 %, wider where the path between regions leaves it, plus the room
        axis = [min(low, 0.0) - 100 * WATERFALL_LABEL_ROOM, max(high, 100.0) + 100 * WATERFALL_LABEL_ROOM]
        ticks = [0, 25, 50, 75, 100]
    fig.update_xaxes(title_text=_level_axis(head), range=axis, tickvals=ticks)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(showlegend=False)
    return _compact(fig, 380, title).update_layout(margin_r=WATERFALL_LABEL_PX)


def region_map_figure(crop: np.ndarray, labels: np.ndarray, values: np.ndarray, unit: str, names: Sequence[str],
                      colorscale: list, limit: float | None = None) -> go.Figure:  # fmt: skip
    """The colour crop with each region tinted by its value (red added, blue took away) and a colour bar in ``unit``.

    ``labels`` (the region label image, any size) picks each pixel's region; hovering names the region and value.
    ``limit`` is the value drawn at full colour (default: this head's largest); heads in one unit share one.
    """
    import cv2

    side = REGION_MAP_SIDE
    face = cv2.resize(np.asarray(crop, np.uint8), (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    big = cv2.resize(np.asarray(labels, np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)
    values = np.asarray(values, np.float64)
    limit = (limit or float(np.max(np.abs(values)))) or 1e-12
    scaled = values[big] / limit
    positions = np.array([p for p, _ in colorscale], np.float64) * 2 - 1
    rgb = np.array([[int(c) for c in colour[4:-1].split(",")] for _, colour in colorscale], np.float64)
    tint = np.stack([np.interp(scaled, positions, rgb[:, k]) for k in range(3)], axis=-1)
    opacity = (0.15 + 0.55 * np.abs(scaled))[..., None]
    image = face * (1 - opacity) + tint * opacity
    edges = cv2.morphologyEx(big, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    image[edges] = (40, 40, 40)
    fig = go.Figure(go.Image(source=jpeg_data_uri(np.clip(image, 0, 255).astype(np.uint8)), hoverinfo="skip"))
    grid = min(HOVER_GRID, np.asarray(labels).shape[0])
    small = cv2.resize(np.asarray(labels, np.uint8), (grid, grid), interpolation=cv2.INTER_NEAREST)
    step = side / grid
    fig.add_trace(
        go.Heatmap(
            z=values[small].astype(np.float32),
            text=np.asarray(names, dtype=object)[small],
            x0=(step - 1) / 2,
            dx=step,
            y0=(step - 1) / 2,
            dy=step,
            colorscale=colorscale,
            zmin=-limit,
            zmax=limit,
            opacity=0.0,
            hovertemplate="%{text}: %{z:+.2f} " + unit + "<extra></extra>",
            colorbar={
                "title": {"text": unit, "side": "right"},
                "tickvals": [-limit, 0, limit],
                "ticktext": [f"-{limit:.1f}<br>took away", "0", f"+{limit:.1f}<br>added"],
                "thickness": 12,
                "len": 0.9,
            },
        )
    )
    fig.update_xaxes(visible=False, range=[-0.5, side - 0.5])
    fig.update_yaxes(visible=False, range=[side - 0.5, -0.5], scaleanchor="x")
    return _compact(fig, 300)


def region_global_figure(report: Mapping, head: str, groups: Sequence[str], signed: bool) -> go.Figure:
    """Mean |value| (or mean signed value) of each region over test faces, one bar colour per group of faces."""
    part = report["heads"][head]
    regions = list(report["regions"])
    key = "mean_signed" if signed else "mean_abs"
    order = np.argsort(-np.asarray(part["groups"]["all"]["mean_abs"]), kind="stable")
    fig = go.Figure()
    for group in groups:
        n = report["counts"].get(group, 0)
        if n == 0:
            continue
        label = "all faces" if group == "all" else group.split(":", 1)[1]
        fig.add_trace(
            go.Bar(
                y=[regions[i] for i in order],
                x=[part["groups"][group][key][i] for i in order],
                orientation="h",
                name=f"{label} (n = {n:,})",
                hovertemplate=f"{label}<br>%{{y}}: %{{x:.2f}} {part['unit']}<extra></extra>",
            )
        )
    measure = "mean signed value" if signed else "mean |value|"
    fig.update_xaxes(title_text=f"{measure} ({part['unit']})", zeroline=True)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(barmode="group")
    return _compact(fig, 200 + 28 * len(regions) * max(1, min(len(groups), 9)) // 3, top=60)


def reliability_figure(report: Mapping, title: str) -> go.Figure:
    """A reliability diagram: per confidence bin the share of right answers against the diagonal of perfect
    calibration, with the number of faces per bin in the hover."""
    bins = report["bins"]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 100],
            y=[0, 100],
            mode="lines",
            line={"color": "#999999", "dash": "dot"},
            name="perfectly calibrated",
            hoverinfo="skip",
        )  # fmt: skip
    )
    fig.add_trace(
        go.Bar(
            x=[100 * (b["low"] + b["high"]) / 2 for b in bins],
            y=[100 * b["accuracy"] for b in bins],
            width=[100 * (b["high"] - b["low"]) * 0.9 for b in bins],
            customdata=[[100 * b["confidence"], b["n"]] for b in bins],
            marker={"color": VAL_COLOUR},
            name="right answers",
            hovertemplate="mean confidence %{customdata[0]:.1f} %<br>right %{y:.1f} %<br>"
            "n = %{customdata[1]:,}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="confidence of the answer (%)", range=[0, 100])
    fig.update_yaxes(title_text="right answers (%)", range=[0, 100])
    ece = f"expected calibration error {100 * report['ece']:.1f} points"
    return _compact(fig, 340, f"{title}<br><sup>{ece}</sup>", top=96)


def interval_coverage_figure(report: Mapping) -> go.Figure:
    """How often the predicted age interval held the true age, per true age bucket, against its nominal mass."""
    rows = report["by_age_bucket"]
    fig = go.Figure(
        go.Bar(
            x=[row["group"] for row in rows],
            y=[100 * row["coverage"] for row in rows],
            customdata=[row["n"] for row in rows],
            marker={"color": VAL_COLOUR},
            hovertemplate="ages %{x}: %{y:.1f} %<br>n = %{customdata:,}<extra></extra>",
            name="coverage",
        )
    )
    fig.add_hline(y=100 * report["nominal"], line={"color": "#999999", "dash": "dot"},
                  annotation_text=f"nominal {report['nominal']:.0%}")  # fmt: skip
    fig.update_xaxes(title_text="true age bucket", type="category")
    fig.update_yaxes(title_text="true age inside the interval (%)", range=[0, 100])
    return _compact(fig, 320, f"Age interval: {report['coverage']:.1%} of true ages inside (nominal "
                              f"{report['nominal']:.0%})", top=70)  # fmt: skip
