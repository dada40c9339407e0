"""Zips and tars of odd members, driven through the Evaluation page's code under a memory limit: every archive
gets an evaluation or a ValueError that says why, and memory stays bounded (the process may not pass the limit).

Runs in a child process whose address space is limited (``RLIMIT_AS``), with a NumPy stand-in for the model:
what is fuzzed is reading, decoding and detection, not the network."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # see pyproject.toml: left out of the fast lane

ROOT = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 3 * 2**30

CHILD = r"""
import io, resource, struct, sys, tarfile, zipfile, zlib
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, "tests")
import cv2
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
from conftest import face_images
from face2data.schema import HEAD_TABLE
from face2data.ui.labelled import evaluate_uploads


class StandIn:
    def predict_on_batch(self, batch):
        return {{h.name: np.full((len(batch), h.size), 1.0 / h.size, np.float32) for h in HEAD_TABLE}}


def png_claiming(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


photo = cv2.imencode(".jpg", cv2.cvtColor(face_images(1, 200)[0], cv2.COLOR_RGB2BGR))[1].tobytes()
contents = st.sampled_from([photo, photo[: len(photo) // 2], b"", b"not an image", png_claiming(30000, 30000),
                            png_claiming(6000, 6000), b"PK\x03\x04" + bytes(40)])
names = st.sampled_from(["30_1_0_2020.jpg", "41_0_2_2021.jpg", "../up.jpg", "a/../../b.jpg", "inner.zip",
                         "dup.jpg", "dup.jpg", "caf\udce9.jpg", ".hidden.jpg", "=cmd.jpg", "x\\y.jpg"])
tables = st.sampled_from([None, "file,age\ndup.jpg,30\n", "file;age\n", "file,age\n" + "x" * 200000,
                          "\ufefffile,age,gender\n=cmd.jpg,nan,f\n"])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.lists(st.tuples(names, contents), min_size=1, max_size=6), tables, st.sampled_from(["zip", "tar"]))
def run(members, table, kind):
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in members:
                archive.writestr(name.encode("utf-8", "surrogateescape").decode("latin-1"), data)
            if table is not None:
                archive.writestr("labels.csv", table)
    else:
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for name, data in members + ([("labels.csv", table.encode())] if table is not None else []):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    try:
        evaluation = evaluate_uploads([("set." + kind, buffer.getvalue())], StandIn())
    except ValueError as error:
        assert str(error).strip()
    else:
        assert evaluation.report["n"] >= 1


run()
# VmHWM, not ru_maxrss: ru_maxrss survives fork and exec, so it would report the pytest parent's peak.
status = open("/proc/self/status").read().split("VmHWM:")[1]
print(f"peak {{int(status.split()[0]) * 1024}}")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="limits the child's memory with RLIMIT_AS")
def test_odd_archives_through_the_evaluation_page_code_stay_within_a_memory_limit():
    child = CHILD.format(limit=LIMIT_BYTES)
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    peak = int(done.stdout.split("peak ")[-1])
    assert peak < LIMIT_BYTES
