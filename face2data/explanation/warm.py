"""Pay the first explanation's one-off costs before a user waits for it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from face2data.explanation.regions import explain_regions
from face2data.explanation.shap_maps import DEFAULT_SETTINGS, ExplainSettings, explain_face
from face2data.schema import INPUT_SIZE


def warm_up(model, settings: ExplainSettings = DEFAULT_SETTINGS) -> None:
    """Compile SHAP's numba kernels once (about 18 s on 2 cores; every later explanation skips it).

    Also runs one region explanation, so the model's batch buffers for it are allocated before a user waits.
    """
    crop = np.full((INPUT_SIZE, INPUT_SIZE, 3), 128, np.uint8)
    explain_face(model, crop, settings=replace(settings, max_evals=20))
    explain_regions(model, crop)
