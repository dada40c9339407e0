"""Memory and time of the Evaluation page's code on the probe's zip: large labelled PNGs padded with zeros.

    .venv/bin/python benchmarks/upload_memory.py [--photos 150] [--side 6000] [--padding-mb 45] [--plain] [--app]
                                                 [--quick]

Builds, in memory, a zip of ``--photos`` PNGs of ``--side`` x ``--side`` pixels (a photo of the sample face in a
plain frame), each followed by ``--padding-mb`` MB of zeros (the archive stays small: zeros compress), labelled by
UTKFace-style names; then evaluates it with ``face2data.ui.labelled.evaluate_uploads``, the Evaluation page's
code, with the shipped model. Prints the process's peak resident memory before and after, and the seconds.

With ``--app`` the zip goes where the probe sent it: ``streamlit run streamlit_app.py`` is started, headless
Chromium (Playwright, /usr/bin/chromium) opens the Evaluation page and uploads the zip, and the app server's
resident memory (before the upload, once the model is loaded) and peak (``VmHWM``) are read from /proc, with the
seconds from the upload to the page's answer.
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

common.setup_path()

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def probe_zip(photos: int, side: int, padding_mb: int, plain: bool = False) -> bytes:
    """The zip: PNGs of a face in a large grey frame (``plain``: the grey frame alone, as the probe's), each
    followed by zeros."""
    from face2data.image_loading import load_rgb_file
    from face2data.predictor import Predictor

    frame = np.full((side, side, 3), 120, np.uint8)
    if not plain:
        face = Predictor().predict_image(load_rgb_file(common.ASTRONAUT))[0].crop
        big = cv2.resize(face, (side // 4, side // 4))
        frame[side // 3 : side // 3 + big.shape[0], side // 3 : side // 3 + big.shape[1]] = big
    png = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes() + bytes(padding_mb * 2**20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(photos):
            archive.writestr(f"{20 + n % 50}_{n % 2}_{n % 5}_2024{n:06d}.png", png)
    return buffer.getvalue()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_mb(pid: int, field: str) -> float:
    """A process's ``VmRSS`` (resident now) or ``VmHWM`` (peak resident) from /proc, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def in_the_app(data: bytes, timeout_ms: int = 900_000) -> tuple[float, float, float, str]:
    """The zip uploaded to a running app's Evaluation page in Chromium: (server MB resident before the upload,
    its peak MB after the answer, seconds from the upload to the answer, the answer's first line)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, common.app_server() as (url, server):
        archive = Path(folder) / "probe.zip"  # Chromium uploads a file: the benchmark's own, not a user's
        archive.write_bytes(data)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=common.CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(timeout_ms)
            page.goto(url)  # the Predict page loads the model in the background: the baseline includes it
            page.get_by_text("Try a sample").wait_for()
            page.get_by_role("button", name="Try a sample").click()
            page.get_by_text("Predicted age").first.wait_for()
            page.goto(f"{url}/evaluation")
            page.get_by_text("Your labelled photos", exact=True).click()
            page.get_by_text("Labelled photos, a CSV of labels, or archives of them").wait_for()
            page.wait_for_timeout(2000)  # the rerun after the click has settled: its uploader stays
            before = memory_mb(server.pid, "VmRSS")
            # Linux: "5" resets the peak to the resident size now, so the peak after is this upload's alone
            Path(f"/proc/{server.pid}/clear_refs").write_text("5")
            start = time.perf_counter()
            page.locator("input[type=file]").set_input_files(str(archive))
            answer = page.get_by_text("faces of your photos").or_(page.get_by_test_id("stAlert")).first
            try:
                answer.wait_for()
            finally:
                page.screenshot(path=str(Path(tempfile.gettempdir()) / "upload_memory_app.png"))
            seconds = time.perf_counter() - start
            text = " ".join(answer.inner_text().split()).removeprefix("block ")[:160]
            browser.close()
        return before, memory_mb(server.pid, "VmHWM"), seconds, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=150)
    parser.add_argument("--side", type=int, default=6000)
    parser.add_argument("--padding-mb", type=int, default=45)
    parser.add_argument("--app", action="store_true", help="upload the zip to a running app in Chromium")
    parser.add_argument("--plain", action="store_true", help="grey PNGs without a face, as the probe's")
    parser.add_argument("--quick", action="store_true", help="5 photos of 2000 px: checks the script works")
    args = parser.parse_args()
    if args.quick:
        args.photos, args.side, args.padding_mb = 5, 2000, 1

    from face2data.tflite_model import load_inference_model
    from face2data.ui.labelled import evaluate_uploads

    info = common.machine_info()
    data = probe_zip(args.photos, args.side, args.padding_mb, args.plain)
    what = f"{len(data) / 2**20:.0f} MB, {args.photos} PNGs of {args.side}x{args.side} + {args.padding_mb} MB zeros"
    if args.app:
        before, after, seconds, answer = in_the_app(data)
        common.print_header("The probe's zip uploaded to the app's Evaluation page (Chromium)", info, args.quick)
        rows = [["zip", what], ["the page's answer", answer],
                ["app server resident before / peak after", f"{before:.0f} / {after:.0f} MB (growth "
                 f"{after - before:.0f} MB)"], ["seconds from the upload to the answer", f"{seconds:.1f}"]]  # fmt: skip
        print(common.markdown_table(["", "measured"], rows))
        common.print_json("upload_memory_app", info, args.quick, zip_mb=len(data) / 2**20, photos=args.photos,
                          answer=answer, server_before_mb=before, server_peak_mb=after, seconds=seconds)  # fmt: skip
        return 0
    model = load_inference_model()
    before = peak_mb()
    start = time.perf_counter()
    try:
        faces = evaluate_uploads([("probe.zip", data)], model).report["n"]
    except ValueError as answer:  # the page says so when no face is found (--plain): the work was done all the same
        faces = 0
        print(str(answer).splitlines()[0])
    seconds = time.perf_counter() - start
    after = peak_mb()
    common.print_header("The Evaluation page's code on the probe's zip", info, args.quick)
    rows = [["zip", what],
            ["faces scored", faces],
            ["peak resident memory before / after", f"{before:.0f} / {after:.0f} MB (growth {after - before:.0f} MB)"],
            ["seconds", f"{seconds:.1f}"]]  # fmt: skip
    print(common.markdown_table(["", "measured"], rows))
    figures = {"zip_mb": len(data) / 2**20, "photos": args.photos, "faces": faces}
    common.print_json("upload_memory", info, args.quick, **figures, peak_before_mb=before, peak_after_mb=after,
                      seconds=seconds)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
