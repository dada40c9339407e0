"""App startup: seconds from ``streamlit run streamlit_app.py`` to the first page served, per fresh process.

    python benchmarks/app_startup.py [--repeats 3] [--browser] [--quick]

Each repeat starts ``python -m streamlit run streamlit_app.py --server.headless true --server.port <free port>``
from the repository root and polls the port every 50 ms, timing (from the moment the process was started):

  health    GET /_stcore/health answers 200 "ok" (the server is up)
  index     GET / answers 200 with the page's HTML (what a browser loads first)
  script    a client session on /_stcore/stream (the websocket a browser opens, spoken here with Streamlit's
            own protobuf messages) asks for the landing page and receives "script finished": the page a
            visitor sees is complete. Script errors (exception elements) are counted.
  with --browser (Playwright's Chromium, if installed): a headless browser opens the page, waits for the
            app, clicks "Try a sample" and waits for "Predicted age": the first prediction, which loads
            TensorFlow, the model and the detector.

The resident memory of the server is read from /proc after the script run (and after the prediction). The
process is then terminated. The first repeat reads files from a cold page cache more often than the others.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import common

common.setup_path()

POLL_SECONDS = 0.05
CHROMIUM = Path(os.environ.get("FACE2DATA_CHROMIUM", "/usr/bin/chromium"))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, timeout: float = 2.0) -> tuple[int, bytes] | None:
    """Status and body of a GET, or None while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except OSError:
        return None


def wait_until(check, deadline: float, process: subprocess.Popen) -> float:
    """Poll ``check()`` until it is true; the perf_counter time it first was. Raises when the server dies or stalls."""
    while time.perf_counter() < deadline:
        if check():
            return time.perf_counter()
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        time.sleep(POLL_SECONDS)
    raise TimeoutError("the app did not answer in time")


def first_script_run(port: int, timeout: float) -> tuple[float, int, str]:
    """Open a session like a browser, request the landing page; (seconds to script_finished, exceptions, status)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    start = time.perf_counter()
    exceptions = 0
    with connect(
        f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=[Subprotocol("streamlit")], open_timeout=timeout
    ) as ws:
        request = BackMsg()
        request.rerun_script.query_string = ""
        request.rerun_script.page_script_hash = ""
        ws.send(request.SerializeToString())
        while True:
            remaining = timeout - (time.perf_counter() - start)
            if remaining <= 0:
                raise TimeoutError("the landing page's script did not finish in time")
            message = ForwardMsg()
            message.ParseFromString(ws.recv(timeout=remaining))
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                exceptions += message.delta.new_element.WhichOneof("type") == "exception"
            if kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)
                if status != "FINISHED_EARLY_FOR_RERUN":
                    return time.perf_counter() - start, exceptions, status


def first_prediction(port: int, timeout_s: float) -> dict:
    """Seconds for a headless browser to load the app, and from the "Try a sample" click to the first result."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page()
            start = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("button", name="Try a sample").wait_for(timeout=timeout_s * 1000)
            loaded = time.perf_counter() - start
            start = time.perf_counter()
            page.get_by_role("button", name="Try a sample").click()
            page.get_by_text("Predicted age").first.wait_for(timeout=timeout_s * 1000)
            predicted = time.perf_counter() - start
            errors = page.get_by_test_id("stException").count()
        finally:
            browser.close()
    return {"browser_page_ready_s": loaded, "sample_click_to_prediction_s": predicted, "browser_exceptions": errors}


def resident_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (Linux /proc), None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def one_start(args, browser: bool) -> dict:
    """Start the app once, time it, stop it."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(args.app), "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=common.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = started + args.timeout
        health = wait_until(lambda: (get(f"{base}/_stcore/health") or (0, b""))[0] == 200, deadline, process)
        index = wait_until(lambda: b"<html" in (get(f"{base}/") or (0, b""))[1].lower(), deadline, process)
        script_s, exceptions, status = first_script_run(port, args.timeout)
        result = {
            "health_s": health - started,
            "index_s": index - started,
            "script_finished_s": time.perf_counter() - started,
            "script_run_s": script_s,
            "script_status": status,
            "script_exceptions": exceptions,
            "server_rss_mb_after_script": resident_mb(process.pid),
        }
        if browser:
            result.update(first_prediction(port, args.timeout))
            result["server_rss_mb_after_prediction"] = resident_mb(process.pid)
        return result
    except Exception as error:
        if process.poll() is not None and process.stderr:
            tail = process.stderr.read().decode(errors="replace")[-1500:]
            raise RuntimeError(f"{error}; streamlit's stderr:\n{tail}") from error
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def browser_available() -> str | None:
    """None when Playwright and Chromium are there; otherwise why not."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (set FACE2DATA_CHROMIUM)"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", type=Path, default=Path("streamlit_app.py"), help="relative to the repository root")
    parser.add_argument("--repeats", type=int, default=3, help="fresh server processes")
    parser.add_argument("--browser", action="store_true", help="also time the first prediction in headless Chromium")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed for each step")
    parser.add_argument("--quick", action="store_true", help="one start: checks the script works")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    if not (common.ROOT / args.app).exists():
        print(f"{common.ROOT / args.app} does not exist", file=sys.stderr)
        return 1
    import streamlit

    info = common.machine_info()
    info["streamlit"] = streamlit.__version__
    common.print_header("App startup", info, args.quick)
    browser = args.browser
    if browser and (reason := browser_available()):
        print(f"--browser skipped: {reason}\n")
        browser = False
    runs = []
    for i in range(args.repeats):
        print(f"start {i + 1}/{args.repeats} ...", flush=True)
        runs.append(one_start(args, browser))
    keys = [
        ("health_s", "/_stcore/health ok"),
        ("index_s", "index page served"),
        ("script_finished_s", "landing page script finished"),
        ("script_run_s", "of which the script run"),
    ]
    if browser:
        keys += [
            ("browser_page_ready_s", "browser: page ready (after the server is up)"),
            ("sample_click_to_prediction_s", "browser: 'Try a sample' → first prediction"),
        ]
    rows = [[label, f"{common.median([r[k] for r in runs]):.2f}", " / ".join(f"{r[k]:.2f}" for r in runs)]
            for k, label in keys]  # fmt: skip
    print(f"\n### Seconds from `streamlit run` (median of {args.repeats} fresh starts)\n")
    print(common.markdown_table(["milestone", "median (s)", "each start (s)"], rows) + "\n")
    rss = [r["server_rss_mb_after_script"] for r in runs if r["server_rss_mb_after_script"]]
    if rss:
        print(f"- server resident memory after the landing page: {common.median(rss):.0f} MB")
    if browser:
        rss = [r["server_rss_mb_after_prediction"] for r in runs if r.get("server_rss_mb_after_prediction")]
        print(f"- server resident memory after the first prediction: {common.median(rss):.0f} MB")
    errors = sum(r["script_exceptions"] + r.get("browser_exceptions", 0) for r in runs)
    statuses = sorted({r["script_status"] for r in runs})
    print(f"- script status: {', '.join(statuses)}; exceptions shown: {errors}")
    medians = {k: round(common.median([r[k] for r in runs]), 3) for k, _ in keys}
    info["load_average_1min_end"] = common.load_average()
    common.print_json("app_startup", info, args.quick, medians_s=medians, runs=runs, browser=browser)
    return 0 if errors == 0 else 2


if __name__ == "__main__":
    raise SystemExit(main())
