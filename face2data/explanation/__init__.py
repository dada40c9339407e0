"""Explanations: region values (exact Shapley) and SHAP pixel maps per face, overlays, global summaries."""

from face2data.explanation.core import OUTPUTS, class_choices
from face2data.explanation.global_maps import (
    GlobalMaps,
    GlobalMapsError,
    compute_global_maps,
    load_global_maps,
    save_global_maps,
)
from face2data.explanation.overlay import (
    colour_bar,
    colour_limits,
    colourise,
    overlay,
    overlay_png,
    plotly_colorscale,
)
from face2data.explanation.regions import (
    DEFAULT_REGION_SETTINGS,
    REGION_UNITS,
    RegionExplanation,
    RegionHead,
    RegionSettings,
    explain_regions,
)
from face2data.explanation.sampling import sample_test_faces
from face2data.explanation.shap_maps import (
    DEFAULT_SETTINGS,
    ExplainSettings,
    FaceExplanation,
    HeadExplanation,
    explain_face,
)
from face2data.explanation.warm import warm_up

__all__ = [
    "DEFAULT_REGION_SETTINGS",
    "DEFAULT_SETTINGS",
    "OUTPUTS",
    "REGION_UNITS",
    "ExplainSettings",
    "FaceExplanation",
    "GlobalMaps",
    "GlobalMapsError",
    "HeadExplanation",
    "RegionExplanation",
    "RegionHead",
    "RegionSettings",
    "class_choices",
    "colour_bar",
    "colour_limits",
    "colourise",
    "compute_global_maps",
    "explain_face",
    "explain_regions",
    "load_global_maps",
    "overlay",
    "overlay_png",
    "plotly_colorscale",
    "sample_test_faces",
    "save_global_maps",
    "warm_up",
]
