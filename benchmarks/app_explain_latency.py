"""Seconds from the click to the region explanation on screen in the app, and to its exact values.

    .venv/bin/python benchmarks/app_explain_latency.py [--repeats 5] [--quick]

Starts ``streamlit run streamlit_app.py`` and waits until its warm-up (model, SHAP's kernels, one region
explanation) has finished. Then, in headless Chromium (Playwright, /usr/bin/chromium), each repeat is a new
browser session: the Predict page's sample is predicted, and the clock starts at a click on "Explain", either the
button on the face's card (the explanation opens under the card) or the Explain page in the sidebar, in two ways:

  after reading   the click once the app server is idle again, as when a person has read the card for a few
                  seconds (the app explains a new photo's first face meanwhile)
  at once         the click as soon as the card shows

The clock stops when a region panel is on screen (the estimate, "an estimate: ±", or the exact values) and again
when the exact values' what-if panel appears. Each session explains its face afresh (explanations are kept per
session, not shared between them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

common.setup_path()
sys.path.insert(0, str(common.ROOT / "tests"))

from servers import is_idle  # noqa: E402

from face2data.machine import usable_cores  # noqa: E402

IDLE_SECONDS = 3.0


def wait_idle(pid: int, limit_s: float = 300) -> None:
    """Until the process has used under a tenth of a core over ``IDLE_SECONDS`` (its warm-up is over)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if is_idle(pid, IDLE_SECONDS):
            return
    raise RuntimeError(f"the app server was still busy after {limit_s} s")


def one_session(browser, url: str, pid: int, after_reading: bool, card: bool) -> tuple[float, float, bool]:
    """(seconds to a region panel on screen, seconds to the exact values on screen, whether the first panel was
    the estimate) in a new session."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(300_000)
    page.goto(url)
    page.get_by_role("button", name="Try a sample").click()
    page.get_by_text("Predicted age").first.wait_for()
    if after_reading:
        wait_idle(pid)
    start = time.perf_counter()
    if card:
        page.get_by_role("button", name="Explain").click()
    else:
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Explain").click()
    page.get_by_text("→ this face").first.wait_for()
    first = time.perf_counter() - start
    estimated = page.get_by_text("an estimate: ±").count() > 0
    page.get_by_text("What if?").wait_for()
    exact = time.perf_counter() - start
    page.close()
    wait_idle(pid)  # the next session starts on a quiet server
    return first, exact, estimated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="browser sessions, each explaining afresh")
    parser.add_argument("--quick", action="store_true", help="one session: checks the script works")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1

    from playwright.sync_api import sync_playwright

    info = common.machine_info()
    ways = {
        f"{button}, {when}": (when == "after reading the card", button == "card's button")
        for button in ("card's button", "Explain page")
        for when in ("after reading the card", "at once")
    }
    times: dict[str, list[tuple[float, float, bool]]] = {way: [] for way in ways}
    with common.app_server() as (url, server), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=common.CHROMIUM, args=["--no-sandbox"])
        wait_idle(server.pid)
        for _ in range(args.repeats):
            for way, (after_reading, card) in ways.items():
                times[way].append(one_session(browser, url, server.pid, after_reading, card))
        browser.close()
    common.print_header("From the click on Explain to the region explanation on screen (headless Chromium)", info,
                        args.quick)  # fmt: skip
    rows = []
    for way, runs in times.items():
        first, exact = [t[0] for t in runs], [t[1] for t in runs]
        rows.append([way, f"{statistics.median(first):.2f} ({min(first):.2f}–{max(first):.2f})",
                     f"{sum(t[2] for t in runs)} of {len(runs)}",
                     f"{statistics.median(exact):.2f} ({min(exact):.2f}–{max(exact):.2f})"])  # fmt: skip
    print(f"{args.repeats} sessions each way, {usable_cores()} cores; seconds from the click, median (range):\n")
    print(common.markdown_table(["click", "a region panel on screen", "of which the estimate", "exact values"], rows))
    common.print_json("app_explain_latency", info, args.quick, seconds={w: t for w, t in times.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
