"""Run face2data with one more row in schema.HEAD_TABLE (a two-class "glasses" head) and a 32-px input, changing no
other module, and print what each derived part carries as JSON (tests/test_head_table.py reads it).

    python tests/scripts/with_a_fourth_head.py ROOT OUT_DIR
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

root, out = Path(sys.argv[1]), Path(sys.argv[2])
sys.path.insert(0, str(root))

import face2data  # noqa: E402

schema_path = root / "face2data" / "schema.py"
source = schema_path.read_text()
last_row = '    Head("ethnicity", "classes", "Ethnicity", ETHNICITIES),\n)'
assert last_row in source and "\nINPUT_SIZE = 128\n" in source, "the head table or the input size moved"
source = source.replace(last_row, last_row[:-1] + '    Head("glasses", "classes", "Glasses", ("none", "glasses")),\n)')
source = source.replace("\nINPUT_SIZE = 128\n", "\nINPUT_SIZE = 32\n")  # a tiny network: the test stays fast
schema = types.ModuleType("face2data.schema")
schema.__file__ = str(schema_path)
sys.modules["face2data.schema"] = schema
face2data.schema = schema  # type: ignore[attr-defined]
exec(compile(source, str(schema_path), "exec"), schema.__dict__)

import numpy as np  # noqa: E402

from face2data.explanation.core import OUTPUTS  # noqa: E402
from face2data.explanation.regions import explain_regions  # noqa: E402
from face2data.image_loading import load_rgb  # noqa: E402
from face2data.model import build_model, compile_for_training  # noqa: E402
from face2data.predictor import Predictor  # noqa: E402
from face2data.results import COLUMNS, file_rows  # noqa: E402
from face2data.tflite_model import TFLiteModel, export_tflite  # noqa: E402

model = build_model()
compile_for_training(model, 1e-3, 0.0)
exported = export_tflite(model, out / "four_heads.tflite")
served = TFLiteModel(exported.read_bytes())
outputs = served.predict_on_batch(np.zeros((2, 32, 32, 3), np.float32))
faces = Predictor(model=served).predict_image(load_rgb((root / "face2data" / "assets" / "astronaut.jpg").read_bytes()))
face = faces[0]
explained = explain_regions(served, face.crop)
report = {
    "keras_outputs": sorted(model.output_names),
    "losses": sorted(model.loss) if isinstance(model.loss, dict) else None,
    "litert_outputs": {head: list(values.shape) for head, values in outputs.items()},
    "result_json": face.to_dict(),
    "flat_columns": list(COLUMNS),
    "flat_row": file_rows("astronaut.jpg", [found.to_dict() for found in faces])[0],
    "explained_outputs": list(OUTPUTS),
    "explained_heads": {head: part.target for head, part in explained.heads.items()},
}
(out / "report.json").write_text(json.dumps(report, default=str))
print("ok")
