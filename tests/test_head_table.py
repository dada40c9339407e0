"""The head table is the one source: one more row in schema.HEAD_TABLE (and no other change) reaches the model's
outputs and losses, the LiteRT mapping, the result's JSON, the flat columns and row, and the explanation targets.

The run with the extra head is a separate process (tests/scripts/with_a_fourth_head.py), which loads the library
with that one row added and a 32-px input, so this process keeps the real table.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from face2data.schema import HEAD_TABLE

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="the export to LiteRT needs TensorFlow")
def test_one_more_row_in_the_head_table_reaches_every_derived_part(tmp_path):
    script = ROOT / "tests" / "scripts" / "with_a_fourth_head.py"
    done = subprocess.run([sys.executable, str(script), str(ROOT), str(tmp_path)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    heads = sorted(head.name for head in HEAD_TABLE) + ["glasses"]
    assert report["keras_outputs"] == sorted(heads)
    assert {f"{head}_loss" for head in heads} <= set(report["history_columns"])
    assert report["litert_outputs"]["glasses"] == [2, 2] and report["litert_outputs"]["age"] == [2, 117]
    face = report["result_json"]
    assert face["glasses"] in ("none", "glasses") and set(face["glasses_probabilities"]) == {"none", "glasses"}
    assert face["glasses_probability"] == max(face["glasses_probabilities"].values())
    assert {"glasses", "glasses_probability", "p_glasses_none", "p_glasses_glasses"} <= set(report["flat_columns"])
    assert report["flat_row"]["glasses"] == face["glasses"]
    assert report["flat_row"]["p_glasses_glasses"] == face["glasses_probabilities"]["glasses"]
    assert report["explained_outputs"][-2:] == ["glasses:none", "glasses:glasses"]
    assert report["explained_heads"]["glasses"] == f"P({face['glasses']})"
    # No face is labelled for glasses: evaluated and calibrated like the others, it gets no figures, no error.
    assert "gender_accuracy" in report["metrics"] and "glasses_accuracy" not in report["metrics"]
    assert "gender" in report["calibration"]["temperatures"] and "glasses" not in report["calibration"]["temperatures"]
    pages = {page.stem for page in (ROOT / "app_pages").glob("*.py")} - {"live"}  # Live: the browser test
    assert report["page_exceptions"] == dict.fromkeys(pages, [])
    assert "glasses" in json.dumps(report["api_model"])


# Where head names may be written by hand: the table itself and the parsers of the sources' labels.
NAMING_ALLOWED = {"schema.py", "data/labels.py", "data/label_table.py", "data/sources.py"}
HEAD_WORDS = re.compile(r"gender|ethnicit|(?<![a-z])race", re.IGNORECASE)


def _lines_naming_heads(path: Path) -> set[int]:
    """Lines of a module that name a head as an identifier or a short string key (prose is left out)."""
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        text = token.string
        if token.type == tokenize.STRING:
            text = text.strip("rbfuRBFU").strip("'\"")
            if len(text) > 24 or " " in text.strip():
                continue
        elif token.type != tokenize.NAME:
            continue
        if HEAD_WORDS.search(text):
            lines.add(token.start[0])
    return lines


def test_outside_the_table_and_the_label_parsers_heads_are_hardly_named_by_hand():
    package = ROOT / "face2data"
    paths = [*package.rglob("*.py"), *(ROOT / "app_pages").glob("*.py"), ROOT / "streamlit_app.py"]
    allowed = {package / name for name in NAMING_ALLOWED}
    naming = {path: found for path in paths if path not in allowed and (found := _lines_naming_heads(path))}
    lines = sum(len(found) for found in naming.values())
    assert len(naming) <= 6 and lines <= 40, {str(p.relative_to(ROOT)): sorted(v) for p, v in naming.items()}
