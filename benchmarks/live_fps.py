"""Frames per second of the Live page, one face at 640x480, as a browser sees it.

    .venv/bin/python benchmarks/live_fps.py [--camera-fps 30 60] [--samples 8] [--quick]

Starts ``streamlit run streamlit_app.py``; for each camera rate, headless Chromium (Playwright, /usr/bin/chromium)
plays a 640x480 video of the sample face through its fake camera at that rate, opens the Live page, presses START
and, after 10 s of warm-up, reads the page's "Frames per second" and its labels once a second. A camera of 30
frames a second caps the page at 30 (most webcams deliver 30); the faster camera shows how much the page could
do. Everything runs on this machine's cores: Chromium's camera, VP8 encoding and drawing, and the app server's
decoding, analysis and re-encoding.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

common.setup_path()
sys.path.insert(0, str(common.ROOT / "tests"))

from fake_camera import write_y4m  # noqa: E402

WARM_UP_MS = 10_000


def page_rate(url: str, video: Path, samples: int) -> list[tuple[float, str]]:
    """The Live page's (frames per second, labels) read once a second, ``samples`` times, from ``video``."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]  # fmt: skip
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=common.CHROMIUM, headless=True, args=args, permissions=["camera"],
            viewport={"width": 1400, "height": 1000},
        )  # fmt: skip
        context.set_default_timeout(180_000)
        page = context.new_page()
        page.goto(f"{url}/live")
        page.frame_locator("iframe[title*='webrtc']").get_by_role("button", name="START").click()
        readout = page.get_by_test_id("stMarkdownContainer").filter(has_text="Faces now:")
        readout.filter(has_text="·").wait_for()
        page.wait_for_timeout(WARM_UP_MS)
        readings = []
        for _ in range(samples):
            fps = float(page.get_by_test_id("stMetricValue").first.inner_text())
            readings.append((fps, " ".join(readout.inner_text().split())))
            page.wait_for_timeout(1000)
        context.close()
    return readings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--camera-fps", type=int, nargs="+", default=[30, 60], help="the fake camera's rates")
    parser.add_argument("--samples", type=int, default=8, help="readings, a second apart, per camera rate")
    parser.add_argument("--quick", action="store_true", help="two readings at 30: checks the script works")
    args = parser.parse_args()
    if args.quick:
        args.camera_fps, args.samples = [30], 2

    info = common.machine_info()
    from face2data.image_loading import load_rgb_file

    face = load_rgb_file(common.ASTRONAUT)
    results = {}
    with tempfile.TemporaryDirectory() as folder, common.app_server() as (url, _):
        for rate in args.camera_fps:
            video = write_y4m(Path(folder) / f"face{rate}.y4m", face, fps=rate)
            results[rate] = page_rate(url, video, args.samples)
    common.print_header("The Live page's frame rate, one face at 640x480 (headless Chromium)", info, args.quick)
    rows = []
    for rate, readings in results.items():
        rates = [fps for fps, _ in readings]
        labels = sorted({text for _, text in readings})
        rows.append([f"{rate} fps", f"{statistics.median(rates):.1f}", f"{min(rates):.1f}–{max(rates):.1f}",
                     "; ".join(labels)])  # fmt: skip
    print(common.markdown_table(["camera", "page fps, median", "range", "labels read"], rows))
    common.print_json("live_fps", info, args.quick, readings={str(rate): r for rate, r in results.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
