"""The head table is the one source: one more row in schema.HEAD_TABLE (and no other change) reaches the model's
outputs and losses, the LiteRT mapping, the result's JSON, the flat columns and row, and the explanation targets.

The run with the extra head is a separate process (tests/scripts/with_a_fourth_head.py), which loads the library
with that one row added and a 32-px input, so this process keeps the real table.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="the export to LiteRT needs TensorFlow")
def test_one_more_row_in_the_head_table_reaches_every_derived_part(tmp_path):
    script = ROOT / "tests" / "scripts" / "with_a_fourth_head.py"
    done = subprocess.run([sys.executable, str(script), str(ROOT), str(tmp_path)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["keras_outputs"] == report["losses"] == ["age", "ethnicity", "gender", "glasses"]
    assert report["litert_outputs"] == {"age": [2, 117], "gender": [2, 2], "ethnicity": [2, 5], "glasses": [2, 2]}
    face = report["result_json"]
    assert face["glasses"] in ("none", "glasses") and set(face["glasses_probabilities"]) == {"none", "glasses"}
    assert face["glasses_probability"] == max(face["glasses_probabilities"].values())
    assert {"glasses", "glasses_probability", "p_none", "p_glasses"} <= set(report["flat_columns"])
    assert report["flat_row"]["glasses"] == face["glasses"]
    assert report["flat_row"]["p_glasses"] == face["glasses_probabilities"]["glasses"]
    assert report["explained_outputs"][-2:] == ["glasses:none", "glasses:glasses"]
    assert report["explained_heads"]["glasses"] == f"P({face['glasses']})"
