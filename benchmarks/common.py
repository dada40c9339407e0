"""Shared helpers of the benchmark scripts: warm-up, repeats, medians, machine facts and output lines.

Every benchmark prints a Markdown table (readable as is, pasteable into benchmarks/RESULTS.md) and, last,
one JSON line with the same figures plus the machine they were measured on.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
ASTRONAUT = ROOT / "face2data" / "assets" / "astronaut.jpg"
CHROMIUM = "/usr/bin/chromium"

if str(ROOT) not in sys.path:  # face2data's machine facts below; setup_path() does the rest
    sys.path.insert(0, str(ROOT))

from face2data.machine import cpu_model, usable_cores  # noqa: E402  (re-exported for the scripts)

# A 1-minute load average above this fraction of the usable cores means other work competed for the CPU.
BUSY_LOAD_PER_CORE = 0.5


def setup_path() -> None:
    """Make ``import face2data`` work when a script is run as ``python benchmarks/<name>.py``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def configure_tensorflow_threads(threads: int | None) -> None:
    """Restrict TensorFlow's intra- and inter-op pools; must run before TensorFlow executes anything."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def load_average() -> float | None:
    """The 1-minute load average, or None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def machine_info() -> dict:
    """Where and when a figure was measured: CPU model, cores, load, date, library versions."""
    info = {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "logical_cpus": os.cpu_count(),
        "load_average_1min": load_average(),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }
    for module in ("tensorflow", "keras", "streamlit"):
        if module in sys.modules:
            info[module] = getattr(sys.modules[module], "__version__", "?")
    return info


def machine_line(info: dict) -> str:
    """One Markdown line naming the machine, for the head of a RESULTS.md section."""
    versions = ", ".join(f"{k} {info[k]}" for k in ("tensorflow", "keras", "streamlit") if k in info)
    return (
        f"Machine: {info['cpu']}, {info['cores']} usable cores, load average {info['load_average_1min']} at start; "
        f"{info['date']}; Python {info['python']}" + (f", {versions}" if versions else "")
    )


def busy_warning(info: dict) -> str | None:
    """A warning when the machine was busy at the start, so the figures are not to be reported."""
    load = info.get("load_average_1min")
    if load is not None and load > BUSY_LOAD_PER_CORE * info["cores"]:
        return (
            f"WARNING: load average {load} on {info['cores']} cores: other work competed for the CPU, "
            "these timings are not representative."
        )
    return None


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes (wall clock)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """``warmup`` untimed calls, then the seconds of ``repeats`` timed calls."""
    for _ in range(warmup):
        fn()
    return [timed(fn) for _ in range(repeats)]


def interleaved(fns: Mapping[str, Callable[[], object]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Time several callables in turns (rotating the order every round), so a noisy neighbour hits all alike.

    Each callable is warmed up ``warmup`` times first; returns the seconds of each timed call per name.
    """
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(timed(fns[name]))
    return samples


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return float(statistics.median(values)) if values else float("nan")


def spread(values: Sequence[float]) -> dict:
    """Median, quartiles, min and max of timings in seconds, and how many there were."""
    values = sorted(values)
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    else:
        q1 = q3 = values[0] if values else float("nan")
    return {
        "median_s": median(values),
        "q1_s": float(q1),
        "q3_s": float(q3),
        "min_s": values[0] if values else float("nan"),
        "max_s": values[-1] if values else float("nan"),
        "n": len(values),
    }


def paired_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """Median over rounds of numerator/denominator: the ratio of two interleaved timings, robust to drift."""
    return median([a / b for a, b in zip(numerator, denominator, strict=True) if b > 0])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pipes and a separator line)."""
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def print_header(title: str, info: dict, quick: bool) -> None:
    """The section title, the machine line and, when applicable, the busy-machine and quick-run warnings."""
    print(f"## {title}\n")
    print(machine_line(info) + "\n")
    warning = busy_warning(info)
    if warning:
        print(warning + "\n")
    if quick:
        print("QUICK RUN (--quick): too few repeats for figures to report; this only checks that the script works.\n")


def print_json(benchmark: str, info: dict, quick: bool, **figures) -> None:
    """The single JSON line closing every benchmark's output."""
    print(json.dumps({"benchmark": benchmark, "quick": quick, "machine": info, **figures}, default=_jsonable))


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def ms(seconds: float) -> str:
    """Seconds as milliseconds with sensible precision."""
    value = seconds * 1000
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def rate(per_second: float) -> str:
    """A throughput with sensible precision."""
    return f"{per_second:.1f}" if per_second < 20 else f"{per_second:.0f}"


@contextmanager
def app_server(ready_seconds: float = 60) -> Iterator[tuple[str, subprocess.Popen]]:
    """``streamlit run streamlit_app.py`` on a free loopback port: (its URL, its process), stopped on exit."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + ready_seconds
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"the app did not answer at {url} within {ready_seconds} s") from None
                time.sleep(0.1)
        yield url, server
    finally:
        server.terminate()
        server.wait(30)
