"""Batch scoring: every kind of input, the row schema, resumable outputs, the local and Ray engines, the CLI."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ASTRONAUT, face_images, tar_bytes, zip_bytes

from face2data.batch.run import run_batch
from face2data.batch.writers import OutputError, RowWriter, prepare_resume, read_rows
from face2data.cli import main
from face2data.inputs import iter_entries, iter_upload_entries
from face2data.results import COLUMNS, file_rows
from face2data.schema import CLASS_HEADS, ETHNICITIES

ROOT = Path(__file__).resolve().parents[1]


def scene_jpegs(count: int, size: tuple[int, int] = (320, 240), seed: int = 0) -> list[bytes]:
    """JPEG photos of one varied sample face each, pasted at a random place into a grey scene."""
    rng = np.random.default_rng(seed)
    width, height = size
    side = min(width, height) * 5 // 8
    photos = []
    for face in face_images(count, size=side, seed=seed):
        canvas = np.full((height, width, 3), int(rng.integers(60, 200)), np.uint8)
        x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
        canvas[y : y + side, x : x + side] = face
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        assert ok
        photos.append(data.tobytes())
    return photos


@pytest.fixture(scope="module")
def photos() -> list[bytes]:
    return scene_jpegs(4)


@pytest.fixture
def inputs(tmp_path, photos) -> Path:
    """A folder of every kind of input: photos, a sub-folder, a zip, a tar.gz, a corrupt zip, junk."""
    root = tmp_path / "in"
    (root / "album" / "2024").mkdir(parents=True)
    (root / "one.jpg").write_bytes(photos[0])
    (root / "album" / "two.jpg").write_bytes(photos[1])
    (root / "album" / "2024" / "three.jpg").write_bytes(photos[2])
    (root / "album" / ".hidden.jpg").write_bytes(photos[3])
    (root / "album" / "notes.txt").write_text("not a photo\n")
    (root / "photos.zip").write_bytes(zip_bytes({"a.jpg": photos[0], "docs/readme.txt": b"hello\n",
                                                 "__MACOSX/._a.jpg": b"fork", "empty.jpg": b""}))  # fmt: skip
    (root / "photos.tar.gz").write_bytes(tar_bytes({"b.jpg": photos[1], "grey.png": _png_without_face()}))
    (root / "broken.zip").write_bytes(b"PK\x03\x04 this archive was cut short")
    (root / "cut.tar.gz").write_bytes(tar_bytes({"c.jpg": photos[2]})[:60])
    return root


def _png_without_face() -> bytes:
    ok, data = cv2.imencode(".png", np.full((80, 80, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


# --- inputs --------------------------------------------------------------------------------


def test_every_kind_of_input_is_listed_with_archives_read_in_memory(inputs):
    entries = list(iter_entries([str(inputs / "one.jpg"), str(inputs / "album"), str(inputs / "*.zip"),
                                 str(inputs / "photos.tar.gz"), str(inputs / "cut.tar.gz"),
                                 str(inputs / "missing.jpg"), str(inputs / "*.png")]))  # fmt: skip
    names = [e.name.removeprefix(str(inputs) + "/") for e in entries]
    assert names == [
        "one.jpg",
        "album/notes.txt", "album/two.jpg", "album/2024/three.jpg",  # recursive, sorted, hidden left out
        "broken.zip", "photos.zip/a.jpg", "photos.zip/docs/readme.txt", "photos.zip/empty.jpg",  # the glob
        "photos.tar.gz/b.jpg", "photos.tar.gz/grey.png",
        "cut.tar.gz", "missing.jpg", "*.png",
    ]  # fmt: skip
    by_name = {name: entry for name, entry in zip(names, entries, strict=True)}
    assert by_name["photos.zip/a.jpg"].data == by_name["one.jpg"].read()  # member bytes, in memory
    assert by_name["album/two.jpg"].data is None and by_name["album/two.jpg"].path  # a file: read by the worker
    assert "damaged or not a ZIP file" in by_name["broken.zip"].error
    assert "damaged or not a tar file" in by_name["cut.tar.gz"].error
    assert by_name["missing.jpg"].error == "no such file or folder"
    assert by_name["*.png"].error == "no file matches this pattern"
    assert not list(inputs.rglob("a.jpg")), "nothing is extracted to disk"


def test_resumed_names_are_skipped_without_reading_and_names_come_once(inputs):
    skip = {str(inputs / "one.jpg"), str(inputs / "photos.zip/a.jpg")}
    names = [e.name for e in iter_entries([str(inputs / "one.jpg"), str(inputs / "photos.zip"),
                                           str(inputs / "photos.zip")], skip=skip)]  # fmt: skip
    assert names == [str(inputs / "photos.zip/docs/readme.txt"), str(inputs / "photos.zip/empty.jpg")]
    listed = list(iter_entries([str(inputs / "photos.zip")], read=False))
    assert all(e.data is None and e.error is None for e in listed)


def test_uploads_open_zip_and_tar_in_memory(photos):
    uploads = [("a.jpg", photos[0]), ("more.zip", zip_bytes({"x/b.jpg": photos[1]})),
               ("more.tar.gz", tar_bytes({"c.jpg": photos[2]})), ("bad.zip", b"not a zip")]  # fmt: skip
    entries = list(iter_upload_entries(uploads))
    assert [e.name for e in entries] == ["a.jpg", "more.zip/x/b.jpg", "more.tar.gz/c.jpg", "bad.zip"]
    assert entries[1].data == photos[1] and entries[2].data == photos[2]
    assert "cannot be read" in entries[3].error


# --- rows and outputs ---------------------------------------------------------------------


FACE = {"box": [1, 2, 30, 40], "score": 0.9, "age": 31.5, "age_years": 32, "age_low": 25, "age_high": 40,
        "gender": "female", "gender_probability": 0.8, "gender_probabilities": {"male": 0.2, "female": 0.8},
        "ethnicity": "Asian", "ethnicity_probability": 0.85,
        "ethnicity_probabilities": {"White": 0.1, "Black": 0.0, "Asian": 0.85, "Indian": 0.05, "Others": 0.0},
        "quality_notes": ["small face", "blurred"]}  # fmt: skip
# every other class head of the table: its first class, certain
FACE |= {
    key: value
    for head in CLASS_HEADS
    if head.name not in FACE
    for key, value in (
        (head.name, head.classes[0]),
        (f"{head.name}_probability", 1.0),
        (f"{head.name}_probabilities", {c: float(c == head.classes[0]) for c in head.classes}),
    )
}


def sample_rows() -> list[dict]:
    return (file_rows("two faces.jpg", [FACE, {**FACE, "quality_notes": []}]) + file_rows("none.jpg", [])
            + file_rows('odd, "name".jpg', None, "the file is empty"))  # fmt: skip


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_rows_read_back_as_written_in_every_format(tmp_path, suffix):
    rows = sample_rows()
    writer = RowWriter(tmp_path / f"out{suffix}")
    writer.write(rows[:2])
    writer.write(rows[2:])
    assert read_rows(tmp_path / f"out{suffix}") == rows
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0]["quality_notes"] == "small face; blurred" and rows[1]["quality_notes"] is None
    assert rows[2]["faces"] == 0 and rows[2]["face"] is None
    assert rows[3]["error"] == "the file is empty" and rows[3]["faces"] is None


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_cut_write_is_ignored_by_readers_and_repaired_on_resume(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    rows = sample_rows()
    RowWriter(path).write(rows[2:])
    RowWriter(path).write(rows[:2])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 30])  # the kill landed inside the last write: face 2 of 2 is cut
    assert [r["file"] for r in read_rows(path)] == ["none.jpg", 'odd, "name".jpg', "two faces.jpg"]
    assert prepare_resume(path) == {"none.jpg", 'odd, "name".jpg'}  # the file with a face missing is not done
    assert read_rows(path) == rows[2:]
    assert path.read_bytes().endswith(b"\n")


def test_parquet_parts_of_a_killed_run_are_dropped_on_resume(tmp_path):
    path = tmp_path / "out.parquet"
    rows = sample_rows()
    RowWriter(path).write(rows)
    (path / "part-killed.parquet").write_bytes(b"PAR1 half a part")
    (path / ".part-x.parquet.tmp").write_bytes(b"temporary")
    assert prepare_resume(path) == {"two faces.jpg", "none.jpg", 'odd, "name".jpg'}
    assert sorted(p.name for p in path.iterdir()) == [p.name for p in path.glob("part-*.parquet")]
    assert read_rows(path) == rows


def test_an_existing_output_needs_resume_or_overwrite(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("something\n")
    with pytest.raises(OutputError, match="--resume"):
        run_batch([str(ASTRONAUT)], out)
    with pytest.raises(OutputError, match=".csv, .jsonl or .parquet"):
        run_batch([str(ASTRONAUT)], tmp_path / "out.xlsx")
    with pytest.raises(OutputError, match="Parquet"):
        run_batch([str(ASTRONAUT)], tmp_path / "new.csv", engine="ray")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("mine.csv", "file,faces,comment\nx.jpg,3,my note\n"),  # other columns
        ("mine.jsonl", '{"a": 1}\n'),  # not a row
        ("notes.jsonl", "not JSON at all\n"),
        ("mine.parquet", None),  # a Parquet part of other columns
    ],
)
def test_resume_refuses_an_output_batch_did_not_write_and_leaves_it_as_it_is(tmp_path, name, content):
    out = tmp_path / name
    if content is None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        out.mkdir()
        pq.write_table(pa.table({"file": ["x.jpg"], "comment": ["my note"]}), out / "part-0.parquet")
        before = (out / "part-0.parquet").read_bytes()
    else:
        out.write_text(content)
    with pytest.raises(OutputError, match="not an output of face2data batch"):
        run_batch([str(ASTRONAUT)], out, resume=True)
    assert (out / "part-0.parquet").read_bytes() == before if content is None else out.read_text() == content


def test_resume_refuses_a_row_whose_values_are_not_batchs(tmp_path):
    out = tmp_path / "out.csv"
    RowWriter(out).write(sample_rows())
    out.write_text(out.read_text().replace(",2,1,", ",lots,1,", 1))
    with pytest.raises(OutputError, match="not of its column's type"):
        prepare_resume(out)


# --- scoring ------------------------------------------------------------------------------


def test_batch_rows_are_the_predict_json_of_each_file(shipped_tflite_path, inputs, tmp_path, capsys):
    files = [inputs / "one.jpg", inputs / "album" / "two.jpg", inputs / "album" / "notes.txt"]
    out = tmp_path / "out.jsonl"
    summary = run_batch([str(inputs)], out, workers=1, progress=False)
    rows = {row["file"]: row for row in read_rows(out)}
    assert summary.files == len(rows) == 11 and summary.faces == 5 and summary.without_face == 1
    assert main(["predict", "--json", *map(str, files)]) == 0
    reports = json.loads(capsys.readouterr().out)
    for report in reports:
        row = rows[report["file"]]
        if report["error"]:
            assert row["error"] == report["error"] and row["faces"] is None
            continue
        (face,) = report["faces"]
        assert row["faces"] == row["face"] == 1
        assert [row["x"], row["y"], row["width"], row["height"]] == face["box"]
        for key in ("score", "age", "age_low", "age_high", "gender", "gender_probability", "ethnicity"):
            assert row[key] == face[key], key
        assert {e: row[f"p_ethnicity_{e}"] for e in ETHNICITIES} == face["ethnicity_probabilities"]
    prefix = str(inputs) + "/"
    assert rows[prefix + "photos.zip/a.jpg"]["age"] == rows[prefix + "one.jpg"]["age"]  # same bytes, same answer
    assert rows[prefix + "photos.tar.gz/grey.png"]["faces"] == 0
    assert rows[prefix + "photos.zip/empty.jpg"]["error"] == "the file is empty"
    assert "not an image" in rows[prefix + "photos.zip/docs/readme.txt"]["error"]
    assert "damaged" in rows[prefix + "broken.zip"]["error"]


def test_a_resume_counts_as_skipped_only_the_given_files_already_done(shipped_tflite_path, inputs, tmp_path):
    out = tmp_path / "out.csv"
    run_batch([str(inputs / "one.jpg"), str(inputs / "album")], out, workers=1, progress=False)
    summary = run_batch([str(inputs / "one.jpg")], out, workers=1, resume=True, progress=False)
    assert summary.skipped == 1 and summary.files == 0  # not every file the output holds


@pytest.mark.slow
def test_worker_processes_give_the_rows_of_one_process(shipped_tflite_path, inputs, tmp_path):
    run_batch([str(inputs)], tmp_path / "one.csv", workers=1, progress=False)
    run_batch([str(inputs)], tmp_path / "two.csv", workers=2, progress=False)
    assert read_rows(tmp_path / "two.csv") == read_rows(tmp_path / "one.csv")


@pytest.mark.slow
def test_a_run_killed_half_way_reads_and_resumes_to_the_rows_of_a_clean_run(shipped_tflite_path, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, data in enumerate(scene_jpegs(36, size=(960, 720), seed=1)):
        (folder / f"{i:02d}.jpg").write_bytes(data)
    out = tmp_path / "killed.csv"
    command = [sys.executable, "-m", "face2data", "batch", str(folder), "--out", str(out), "--chunk-size", "2",
               "--workers", "2", "--quiet"]  # fmt: skip
    # Its own session: the kill takes the worker processes with it, as a kill of the whole job would.
    run = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while run.poll() is None and len(read_rows(out)) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    partial = read_rows(out)
    assert 6 <= len(partial) < 36, "the run was killed half-way"
    assert main(["batch", str(folder), "--out", str(out), "--resume", "--workers", "1", "--quiet"]) == 0
    clean = tmp_path / "clean.csv"
    assert main(["batch", str(folder), "--out", str(clean), "--workers", "1", "--quiet"]) == 0
    resumed = read_rows(out)
    assert resumed[: len(partial)] == partial  # what was done stayed, and was not scored again
    assert sorted(resumed, key=lambda r: r["file"]) == read_rows(clean)


# --- Ray ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_ray_engine_on_a_local_ray_gives_the_rows_of_the_local_engine(shipped_tflite_path, photos, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'ray[data]')")
    folder = tmp_path / "in"
    folder.mkdir()
    for i, data in enumerate(photos[:3]):
        (folder / f"{i}.jpg").write_bytes(data)
    (folder / "more.zip").write_bytes(zip_bytes({"a.jpg": photos[3], "notes.txt": b"text\n"}))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_batch([str(folder)], tmp_path / "ray.parquet", engine="ray", progress=False)
    finally:
        ray.shutdown()
    run_batch([str(folder)], tmp_path / "local.parquet", workers=1, progress=False)
    ray_rows = sorted(read_rows(tmp_path / "ray.parquet"), key=lambda r: r["file"])
    assert summary.files == 5 and summary.faces == 4 and summary.errors == 1
    assert ray_rows == read_rows(tmp_path / "local.parquet")


NO_TENSORFLOW = """
import importlib.abc, json, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "ray"):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, NoTensorFlow())
from face2data.batch.run import run_batch

summary = run_batch([sys.argv[1]], sys.argv[2], workers=1, progress=False)
print(json.dumps({"faces": summary.faces, "loaded": sorted(m for m in sys.modules if m in ("tensorflow", "ray"))}))
"""


def test_the_local_engine_imports_neither_tensorflow_nor_ray(shipped_tflite_path, tmp_path):
    out = tmp_path / "out.jsonl"
    done = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, str(ASTRONAUT), str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"faces": 1, "loaded": []}


def test_odd_archive_members_each_get_a_row_saying_why_they_were_not_read():
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is told to write
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("a.jpg", b"first")
            archive.writestr("a.jpg", b"second")
            archive.writestr("../outside.jpg", b"x")
            archive.writestr("inner.zip", b"PK")
            archive.writestr(".hidden.jpg", b"x")
    entries = {entry.name: entry for entry in iter_upload_entries([("set.zip", buffer.getvalue())])}
    assert entries["set.zip/a.jpg"].read() == b"first"
    assert "same name" in entries["set.zip/a.jpg (copy 2)"].error
    assert "outside the archive" in entries["set.zip/../outside.jpg"].error
    assert "archive inside an archive" in entries["set.zip/inner.zip"].error
    assert "set.zip/.hidden.jpg" not in entries  # hidden files are left out silently, as before


def test_tar_members_that_are_not_files_and_empty_archives_get_a_row_saying_so(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(_tar_info("a.jpg", 5), io.BytesIO(b"first"))
        for name, kind, target in (("link.jpg", tarfile.SYMTYPE, "a.jpg"), ("same.jpg", tarfile.LNKTYPE, "a.jpg"),
                                   ("pipe", tarfile.FIFOTYPE, "")):  # fmt: skip
            info = _tar_info(name, 0)
            info.type, info.linkname = kind, target
            archive.addfile(info)
    entries = {entry.name: entry for entry in iter_upload_entries([("set.tar", buffer.getvalue())])}
    assert entries["set.tar/a.jpg"].read() == b"first"
    assert "a symbolic link (to a.jpg)" in entries["set.tar/link.jpg"].error
    assert "a hard link (to a.jpg, read under that name)" in entries["set.tar/same.jpg"].error
    assert "a device or a pipe" in entries["set.tar/pipe"].error
    empty = io.BytesIO()
    with tarfile.open(fileobj=empty, mode="w") as archive:
        archive.addfile(_tar_info("folder", 0, tarfile.DIRTYPE))
    [entry] = iter_upload_entries([("empty.tar", empty.getvalue())])
    assert entry.name == "empty.tar" and entry.error == "the archive holds no file"


def test_a_compressed_tar_that_expands_like_a_bomb_is_read_no_further(tmp_path):
    # it used to be inflated to its end on every pass: minutes of CPU for a tar.bz2 of a few hundred kilobytes
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as archive:
        zeros = 60 * 2**20
        archive.addfile(_tar_info("zeros.bin", zeros), io.BytesIO(bytes(zeros)))
        archive.addfile(_tar_info("a.jpg", 5), io.BytesIO(b"first"))
    [entry] = iter_upload_entries([("bomb.tar.gz", buffer.getvalue())])
    assert entry.name == "bomb.tar.gz" and "compression bomb" in entry.error


def test_a_linked_folder_is_not_followed_and_says_so(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    (tmp_path / "photos" / "loop").symlink_to(tmp_path / "photos")
    entries = {Path(entry.name).name: entry for entry in iter_entries([str(tmp_path / "photos")])}
    assert entries["a.jpg"].error is None and "not followed" in entries["loop"].error


def _tar_info(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc (Linux)")
def test_kill_9_of_a_batch_leaves_no_worker_behind(tmp_path):
    import signal

    folder = tmp_path / "photos"
    folder.mkdir()
    for n, data in enumerate(scene_jpegs(4) * 100):
        (folder / f"p{n}.jpg").write_bytes(data)
    command = [sys.executable, "-m", "face2data", "batch", str(folder), "--out", str(tmp_path / "o.csv"),
               "--workers", "2", "--quiet"]  # fmt: skip
    batch = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2 and batch.poll() is None:
        time.sleep(0.2)
        workers = _children(batch.pid)
    assert batch.poll() is None and workers, "the batch ended before its workers could be seen"
    os.kill(batch.pid, signal.SIGKILL)
    batch.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    alive = []
    for pid in workers:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":  # a zombie is gone, only not yet reaped
            alive.append(pid)
    assert not alive
