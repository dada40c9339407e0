"""The serving path (predict and explain) runs with TensorFlow and Keras impossible to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import importlib.abc, json, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, NoTensorFlow())

from face2data.explanation import explain_face, explain_regions
from face2data.image_loading import load_rgb_file
from face2data.predictor import Predictor

predictor = Predictor()
faces = predictor.predict_image(load_rgb_file("face2data/assets/astronaut.jpg"))
explanation = explain_face(predictor.model, faces[0].crop)
regions = explain_regions(predictor.model, faces[0].crop)
print(json.dumps({
    "faces": [face.to_dict() for face in faces],
    "explained": sorted(explanation.heads),
    "regions": sorted(regions.heads),
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")),
}))
"""


def test_predict_and_explain_a_photo_without_tensorflow(shipped_tflite_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert len(result["faces"]) == 1 and result["faces"][0]["gender"] in ("male", "female")
    assert result["explained"] == result["regions"] == ["age", "ethnicity", "gender"]
