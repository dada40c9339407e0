"""Load on the HTTP API: the real server on loopback, concurrent clients posting 640x480 photos.

    python benchmarks/api_load.py [--clients 16] [--seconds 60] [--quick]

Starts ``python -m face2data serve`` on a free loopback port and runs two phases of ``--seconds`` each (bounded
in time and in requests, loopback only): (1) every client posts a 640x480 JPEG with one face to /v1/predict in a
loop; (2) the same with 10 % bad files (random bytes, a text file, a truncated JPEG) and 5 % /v1/explain calls.
Prints requests per second, p50/p95/p99 latency per kind, the statuses (anything but 200 for good requests and
400/415 for bad files counts as unexpected), and the server's resident memory before, between and after.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import common

common.setup_path()

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from face2data.image_loading import load_rgb_file  # noqa: E402

MAX_REQUESTS_PER_PHASE = 20_000
EXPECTED = {"predict": {200}, "explain": {200}, "bad": {400, 415}}


def photo_640x480(seed: int) -> bytes:
    """The sample portrait pasted into a 640x480 grey-green backdrop, as JPEG bytes."""
    rng = np.random.default_rng(seed)
    canvas = np.full((480, 640, 3), (90, 120, 100), np.uint8)
    side = int(rng.integers(260, 360))
    x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
    canvas[y : y + side, x : x + side] = cv2.resize(load_rgb_file(common.ASTRONAUT), (side, side))
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return jpeg.tobytes()


def bad_files() -> list[bytes]:
    """Files the API must refuse with a 4xx."""
    good = photo_640x480(99)
    return [np.random.default_rng(1).bytes(5000), b"just some words, not a photo\n" * 40, good[: len(good) // 2]]


def resident_mb(pid: int) -> float:
    """The resident memory of a process (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def client_loop(port: int, deadline: float, photos: list[bytes], mixed: bool, seed: int, out: list) -> None:
    """One client: requests until the deadline; appends (kind, status, seconds) to ``out``."""
    rng = random.Random(seed)
    bad = bad_files()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while time.monotonic() < deadline and len(out) < MAX_REQUESTS_PER_PHASE:
        draw = rng.random() if mixed else 1.0
        kind = "bad" if draw < 0.10 else "explain" if draw < 0.15 else "predict"
        body = rng.choice(bad) if kind == "bad" else rng.choice(photos)
        path = "/v1/explain" if kind == "explain" else "/v1/predict"
        start = time.perf_counter()
        try:
            connection.request("POST", path, body=body, headers={"Content-Type": "image/jpeg"})
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            status = -1
        out.append((kind, status, time.perf_counter() - start))
    connection.close()


def run_phase(port: int, clients: int, seconds: float, photos: list[bytes], mixed: bool) -> list:
    results: list = []
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=client_loop, args=(port, deadline, photos, mixed, i, results))
               for i in range(clients)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def summarise(name: str, results: list, seconds: float) -> tuple[list, dict]:
    kinds: dict[str, dict] = {}
    rows: list = []
    figures: dict = {"requests": len(results), "requests_per_second": len(results) / seconds, "kinds": kinds}
    unexpected = 0
    for kind in ("predict", "explain", "bad"):
        times = sorted(t for k, _, t in results if k == kind)
        statuses = Counter(s for k, s, _ in results if k == kind)
        if not times:
            continue
        wrong = sum(n for s, n in statuses.items() if s not in EXPECTED[kind])
        unexpected += wrong
        pct = {p: times[min(len(times) - 1, int(p / 100 * len(times)))] for p in (50, 95, 99)}
        rows.append([name, kind, len(times), common.ms(pct[50]), common.ms(pct[95]), common.ms(pct[99]),
                     ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())), wrong])  # fmt: skip
        kinds[kind] = {"n": len(times), "p50_s": pct[50], "p95_s": pct[95], "p99_s": pct[99],
                                  "statuses": dict(statuses), "unexpected": wrong}  # fmt: skip
    figures["unexpected"] = unexpected
    return rows, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--quick", action="store_true", help="4 clients for 5 s: checks the script works")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.seconds = 4, 5
    info = common.machine_info()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "face2data", "serve", "--port", str(port)], cwd=common.ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if json.load(response)["status"] == "ready":
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.5)
        photos = [photo_640x480(seed) for seed in range(8)]
        for path in ("/v1/explain", "/v1/predict"):  # warm-up: every code path once, buffers at working size
            warm = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=photos[0],
                                          headers={"Content-Type": "image/jpeg"})  # fmt: skip
            urllib.request.urlopen(warm, timeout=120).read()
        run_phase(port, args.clients, 5, photos, mixed=True)
        memory = {"ready": resident_mb(server.pid)}
        rows, figures = [], {}
        for name, mixed in (("predict only", False), ("mixed: 10 % bad, 5 % explain", True)):
            results = run_phase(port, args.clients, args.seconds, photos, mixed)
            phase_rows, figures[name] = summarise(name, results, args.seconds)
            rows += phase_rows
            memory[f"after {name}"] = resident_mb(server.pid)
        total = sum(f["requests"] for f in figures.values())
    finally:
        server.terminate()
        server.wait(timeout=10)
    common.print_header(f"HTTP API under load ({args.clients} clients, {args.seconds:.0f} s per phase)", info,
                        args.quick)  # fmt: skip
    for name, figure in figures.items():
        print(f"- {name}: {figure['requests']} requests, {figure['requests_per_second']:.1f} per second, "
              f"{figure['unexpected']} unexpected statuses")  # fmt: skip
    print()
    print(common.markdown_table(["phase", "kind", "n", "p50 (ms)", "p95 (ms)", "p99 (ms)", "statuses", "unexpected"],
                                rows))  # fmt: skip
    print("\nServer resident memory: " + ", ".join(f"{k} {v:.0f} MB" for k, v in memory.items())
          + f"; growth over {total} requests: {memory[list(memory)[-1]] - memory['ready']:+.0f} MB")  # fmt: skip
    common.print_json("api_load", info, args.quick, phases=figures, resident_mb=memory, requests=total)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
