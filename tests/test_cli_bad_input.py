"""``python -m face2data predict`` answers every odd file: an error string for a bad one, faces for a good one."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from face2data.cli import main
from face2data.model_loading import ModelFileError, check_model_file

pytestmark = pytest.mark.slow  # see pyproject.toml: left out of the fast lane

PROJECT = Path(__file__).resolve().parents[1]
ASTRONAUT = PROJECT / "face2data" / "assets" / "astronaut.jpg"


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * ((width * 3 + 1) * 50), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


# name on disk: (bytes, what the error must say)
BAD_FILES = {
    "empty.jpg": (lambda: b"", "the file is empty"),
    "random.jpg": (lambda: np.random.default_rng(0).bytes(4096), "not an image"),
    "notes.txt": (lambda: b"shopping list\n- milk\n- eggs\n", "text file"),
    "page.jpg": (lambda: b"<!doctype html><html><head><title>photo</title></head></html>", "web page"),
    "scan.jpg": (lambda: b"%PDF-1.5\n%\xb5\xb5\xb5\xb5\n1 0 obj\n<<>>\nendobj\n", "PDF"),
    "logo.svg": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"/>', "SVG"),
    "iphone.heic": (lambda: b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(100), "HEIC"),
    "cut.jpg": (lambda: ASTRONAUT.read_bytes()[:25_000], "truncated"),
    "icon.png": (lambda: encode(Image.new("RGB", (10, 10), "white"), "PNG"), "too small"),
    "bomb.png": (lambda: bomb_png(100_000, 100_000), "too large"),
}


def odd_but_good_files() -> dict[str, bytes]:
    """The astronaut in formats people upload: CMYK JPEG, EXIF-rotated JPEG, transparent PNG, animated GIF."""
    photo = Image.open(ASTRONAUT).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned left; the viewer turns it right
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.fromarray(np.pad(np.full((472, 472), 255, np.uint8), 20)))
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (512, 512, 3), dtype=np.uint8))
    return {
        "cmyk.jpg": encode(photo.convert("CMYK"), "JPEG", quality=95),
        "rotated.jpg": encode(photo.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95, exif=exif.tobytes()),
        "transparent.png": encode(rgba, "PNG"),
        "animated.gif": encode(photo, "GIF", save_all=True, append_images=[noise], duration=200),
    }


@pytest.fixture(scope="module")
def model_snapshot(tmp_path_factory, shipped_model_path) -> Path:
    """A stable copy of the shipped model (training may rewrite the original while the tests run)."""
    snapshot = tmp_path_factory.mktemp("model") / "face2data.keras"
    for _ in range(3):
        shutil.copyfile(shipped_model_path, snapshot)
        try:
            check_model_file(snapshot)
            return snapshot
        except ModelFileError:
            time.sleep(2)  # copied while training was writing it
    pytest.fail(f"could not take a complete copy of {shipped_model_path}")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    command = [sys.executable, "-m", "face2data", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT, env=env, timeout=600)


def test_mixed_bad_and_good_files_in_one_call(tmp_path, model_snapshot):
    paths = {}
    for name, (make, _) in BAD_FILES.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(make())
    paths["missing.jpg"] = tmp_path / "missing.jpg"
    for name, data in odd_but_good_files().items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    paths["astronaut.jpg"] = ASTRONAUT

    result = run_cli("predict", "--json", "--model", str(model_snapshot), *map(str, paths.values()))

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    reports = {Path(report["file"]).name: report for report in json.loads(result.stdout)}
    assert list(reports) == list(paths)
    expected_errors = {**{name: message for name, (_, message) in BAD_FILES.items()}, "missing.jpg": "no such file"}
    for name, message in expected_errors.items():
        assert isinstance(reports[name]["error"], str) and message in reports[name]["error"], reports[name]
        assert reports[name]["faces"] == []
    reference = reports["astronaut.jpg"]
    assert reference["error"] is None and len(reference["faces"]) == 1
    for name in odd_but_good_files():
        report = reports[name]
        assert report["error"] is None and len(report["faces"]) == 1, report
        face, expected = report["faces"][0], reference["faces"][0]
        # The same face in the same place: orientation, colour space, alpha and frame were all handled.
        assert np.abs(np.subtract(face["box"], expected["box"])).max() <= 12, (name, face["box"], expected["box"])
        assert face["gender"] == expected["gender"]
        assert abs(face["age"] - expected["age"]) <= 10


def test_only_bad_files_exit_non_zero(tmp_path, model_snapshot, capsys):
    files = []
    for name in ("empty.jpg", "scan.jpg", "icon.png"):
        make, _ = BAD_FILES[name]
        files.append(tmp_path / name)
        files[-1].write_bytes(make())
    code = main(["predict", "--json", "--model", str(model_snapshot), *map(str, files), str(tmp_path / "nope.png")])
    captured = capsys.readouterr()
    assert code != 0
    reports = json.loads(captured.out)
    assert len(reports) == 4 and all(isinstance(report["error"], str) for report in reports)
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("model", ["missing.keras", "empty.keras", "missing.tflite", "empty.tflite"])
def test_a_bad_model_file_is_a_clear_error_not_a_traceback(tmp_path, capsys, model):
    (tmp_path / "empty.keras").write_bytes(b"")
    (tmp_path / "empty.tflite").write_bytes(b"")
    code = main(["predict", "--model", str(tmp_path / model), str(ASTRONAUT)])
    captured = capsys.readouterr()
    assert code != 0
    assert model in captured.err and ("not found" in captured.err or "empty" in captured.err)


def test_ctrl_c_on_batch_says_how_to_go_on_without_a_traceback(tmp_path, monkeypatch, capsys):
    import face2data.batch.run

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(face2data.batch.run, "run_batch", interrupted)
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "out.csv")]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err


def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys):
    started = time.perf_counter()
    for option in ("--predictions", "--json"):
        code = main(["evaluate", "--data", str(tmp_path), option, str(tmp_path / "no such folder" / "out.csv")])
        assert code == 2 and "does not exist" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(tmp_path), "--json", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err and time.perf_counter() - started < 5
    blocked = tmp_path / "file"
    blocked.write_text("a file where a folder should be")
    assert main(["batch", str(tmp_path), "--out", str(blocked / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
