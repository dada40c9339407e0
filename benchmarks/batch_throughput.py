"""Batch throughput: N photos through ``python -m face2data batch`` with the local and the Ray engine.

    python benchmarks/batch_throughput.py [--photos 2000] [--engines local,ray] [--workers N] [--keep DIR]

The photos are made here (seeded) from the UTKFace test split (``../shared/data/UTKFace.tar.gz``, the split of
``face2data.data.split``): one to three test faces, each scaled to 90-200 px, pasted into a 640x480 photo-like
backdrop and saved as JPEG, so the detector has a whole scene to search. Each engine then runs as the user runs
it, a fresh ``python -m face2data batch FOLDER --out ...`` process (the Ray engine starts its local Ray inside
it), timed from start to exit. While it runs, its process tree (pool workers; Ray's raylet, GCS and actors) is
sampled every 0.2 s from /proc for CPU time and resident memory:

  photos/s           photos / wall seconds (process start, model load, Ray start-up included)
  CPU per photo      CPU seconds of the whole tree / photos: the cost a cluster estimate scales from
  peak memory        the largest sum of resident memory over the tree (Ray's shared object store is counted
                     in each process that maps it, so Ray's figure is an upper bound)
  resume             a second run with ``--resume`` on the finished output: everything is skipped; what it
                     costs is listing the inputs and reading the output back

For Ray, the dataset's own execution time (from its log, without Ray's start-up) is shown as well.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

common.setup_path()

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from face2data.data.sources import iter_image_bytes, list_image_names  # noqa: E402
from face2data.data.split import split_of  # noqa: E402
from face2data.image_loading import load_rgb  # noqa: E402

WIDTH, HEIGHT = 640, 480
TICK = os.sysconf("SC_CLK_TCK")
OUTPUT = {"local": "out-local.csv", "ray": "out-ray.parquet"}


def backdrop(rng: np.random.Generator) -> np.ndarray:
    """A photo-like 640x480 background: a colour gradient plus blurred noise (as in end_to_end.py)."""
    a, b = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)
    t = np.linspace(0, 1, WIDTH)[None, :, None] * 0.6 + np.linspace(0, 1, HEIGHT)[:, None, None] * 0.4
    noise = cv2.GaussianBlur(rng.normal(0, 1, (HEIGHT, WIDTH, 3)), (0, 0), 6)
    return np.clip(a + (b - a) * t + noise / max(noise.std(), 1e-6) * 12, 0, 255).astype(np.uint8)


def make_photos(archive: Path, count: int, folder: Path, seed: int = 0) -> int:
    """Write ``count`` 640x480 JPEG scenes of 1-3 UTKFace test faces each into ``folder``; returns faces pasted."""
    names = sorted(n for n in list_image_names(archive) if split_of(n) == "test")
    faces = [load_rgb(data) for _, data in iter_image_bytes(archive, wanted=set(names[: count * 2]))]
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pasted = 0
    for i in range(count):
        canvas = backdrop(rng)
        n = int(rng.integers(1, 4))
        cells = rng.permutation(3)[:n]  # three 213 px wide columns: faces never overlap
        for cell in cells:
            side = int(rng.integers(90, 201))
            face = cv2.resize(faces[(i * 3 + int(cell)) % len(faces)], (side, side), interpolation=cv2.INTER_AREA)
            x = int(cell) * 213 + int(rng.integers(0, 213 - side + 1))
            y = int(rng.integers(0, HEIGHT - side))
            canvas[y : y + side, x : x + side] = face
        pasted += n
        cv2.imwrite(
            str(folder / f"{i:06d}.jpg"), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
    return pasted


def _tree(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from "state" on; the name may hold spaces


def _sample(root: int) -> tuple[float, float]:
    """CPU seconds (own and reaped children's) and resident MB summed over the tree of ``root``."""
    cpu, rss = 0.0, 0.0
    for pid in _tree(root):
        try:
            fields = _stat(pid)
            cpu += sum(int(v) for v in fields[11:15]) / TICK  # utime, stime, cutime, cstime
            status = Path(f"/proc/{pid}/status").read_text()
            rss += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024
        except (OSError, StopIteration, ValueError, IndexError):
            continue
    return cpu, rss


def run(command: list[str]) -> dict:
    """Run one batch command; wall seconds, CPU seconds of its tree, peak resident MB, its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=common.ROOT, stdout=log, stderr=subprocess.STDOUT)
        cpu, peak = 0.0, 0.0
        while process.poll() is None:
            sample_cpu, rss = _sample(process.pid)
            cpu, peak = max(cpu, sample_cpu), max(peak, rss)
            time.sleep(0.2)
        wall = time.perf_counter() - start
        log.seek(0)
        text = log.read().decode(errors="replace")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{text[-3000:]}")
    executed = re.findall(r"execution finished in ([0-9.]+) seconds", text)
    summary = next((line for line in reversed(text.splitlines()) if " files in " in line), "")
    return {"wall_s": wall, "cpu_s": max(cpu, reaped), "peak_rss_mb": peak,
            "ray_execution_s": float(executed[-1]) if executed else None, "summary": summary}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--data", type=Path, default=common.SHARED_DATA / "UTKFace.tar.gz")
    parser.add_argument("--engines", default="local,ray")
    parser.add_argument("--workers", type=int, default=common.usable_cores(), help="processes / local Ray CPUs")
    parser.add_argument("--keep", type=Path, help="make the photos and outputs here (kept) instead of a temp folder")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"UTKFace archive not found: {args.data}", file=sys.stderr)
        return 1
    info = common.machine_info()
    common.print_header(f"Batch throughput ({args.photos} photos of 640x480)", info, quick=False)
    with tempfile.TemporaryDirectory(prefix="face2data-batch-") as tmp:
        work = args.keep or Path(tmp)
        photos = work / "photos"
        started = time.perf_counter()
        pasted = make_photos(args.data, args.photos, photos) if not photos.exists() else None
        print(f"Made {args.photos} photos ({pasted} faces pasted) in {time.perf_counter() - started:.0f} s.\n")
        figures: dict = {"photos": args.photos, "faces_pasted": pasted, "workers": args.workers, "engines": {}}
        rows = []
        for engine in args.engines.split(","):
            out = work / OUTPUT[engine]
            batch = [sys.executable, "-m", "face2data", "batch", str(photos), "--out", str(out), "--engine", engine,
                     "--workers", str(args.workers), "--quiet"]  # fmt: skip
            first = run([*batch, "--overwrite"])
            resumed = run([*batch, "--resume"])
            figures["engines"][engine] = {"run": first, "resume": resumed}
            rate = args.photos / first["wall_s"]
            executed = first["ray_execution_s"]
            rows.append([
                engine, f"{first['wall_s']:.1f}", common.rate(rate),
                f"{args.photos / executed:.1f}" if executed else "—",
                common.ms(first["cpu_s"] / args.photos), f"{first['peak_rss_mb']:.0f}",
                f"{resumed['wall_s']:.1f}", first["summary"].split(";")[0],
            ])  # fmt: skip
    headers = ["engine", "wall (s)", "photos/s", "photos/s (Ray execution only)", "CPU per photo (ms)",
               "peak memory (MB)", "resume, all done (s)", "what it found"]  # fmt: skip
    print(f"{args.workers} workers (local: processes; ray: CPUs of the local Ray)\n")
    print(common.markdown_table(headers, rows) + "\n")
    info["load_average_1min_end"] = common.load_average()
    common.print_json("batch_throughput", info, False, **figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
