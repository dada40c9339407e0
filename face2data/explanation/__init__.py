"""SHAP explanations: per-face maps of each head, overlays, and global mean |SHAP| maps."""

from face2data.explanation.global_maps import (
    GlobalMaps,
    GlobalMapsError,
    compute_global_maps,
    load_global_maps,
    save_global_maps,
)
from face2data.explanation.overlay import colour_bar, colour_limits, colourise, overlay, plotly_colorscale
from face2data.explanation.shap_maps import (
    DEFAULT_SETTINGS,
    OUTPUTS,
    ExplainSettings,
    FaceExplanation,
    HeadExplanation,
    explain_face,
    warm_up,
)

__all__ = [
    "DEFAULT_SETTINGS",
    "OUTPUTS",
    "ExplainSettings",
    "FaceExplanation",
    "GlobalMaps",
    "GlobalMapsError",
    "HeadExplanation",
    "colour_bar",
    "colour_limits",
    "colourise",
    "compute_global_maps",
    "explain_face",
    "load_global_maps",
    "overlay",
    "plotly_colorscale",
    "save_global_maps",
    "warm_up",
]
