"""The serving path (predict and explain) runs with TensorFlow and Keras impossible to import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from face2data.schema import HEADS

pytestmark = pytest.mark.slow  # see pyproject.toml: left out of the fast lane

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
    assert result["explained"] == result["regions"] == sorted(HEADS)


# Only what README's app command installs (requirements.txt): no training, Ray, JAX or test packages.
NOT_IN_THE_APP_INSTALL = ("tensorflow", "keras", "tf_keras", "jax", "jaxlib", "ray", "pytest", "hypothesis", "lz4")

APP_SCRIPT = f"""
import importlib.abc, json, subprocess, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_IN_THE_APP_INSTALL!r}:
            raise ImportError(f"{{name}} is not in the app's install")
        return None

sys.meta_path.insert(0, NotInstalled())

from streamlit.testing.v1 import AppTest

import face2data.ui.live, streamlit_webrtc  # the Live page needs a real browser (the browser test); its imports here

errors = {{}}
for page in ("predict", "batch", "explain", "training", "evaluation", "about"):
    app = AppTest.from_file("streamlit_app.py", default_timeout=120).run()
    app.switch_page(f"app_pages/{{page}}.py").run()
    errors[page] = [str(e.value) for e in app.exception]

from face2data import cli
import contextlib, io
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = cli.main(["predict", "face2data/assets/astronaut.jpg", "--json"])
print(json.dumps({{"errors": errors, "predict": json.loads(out.getvalue()), "code": code}}))
"""


def test_requirements_for_the_app_leave_out_training_ray_and_tests():
    wanted = [
        line.split("==")[0].split("[")[0].strip().lower()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not {name.replace("-", "_") for name in wanted} & {*NOT_IN_THE_APP_INSTALL, "tensorflow_cpu", "mypy"}
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev and "tensorflow-cpu" in dev and "pytest" in dev


def test_every_page_and_predict_run_with_only_the_app_install(shipped_tflite_path):
    done = subprocess.run([sys.executable, "-c", APP_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == {page: [] for page in result["errors"]}
    assert result["code"] == 0 and result["predict"][0]["faces"]
