"""The app in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

One ``streamlit run`` process serves the whole module. The tests upload the sample photo, take a webcam snapshot
through Chromium's fake camera (fed with a Y4M video of the sample face made here), upload a broken file, and visit
every page; screenshots land in artifacts/screenshots/ for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fake_camera import write_y4m
from servers import cpu_seconds, free_port, is_idle, wait_until, wait_until_ready

from face2data.limits import MAX_BATCH_FILES
from face2data.paths import MODEL_PATH

pytestmark = pytest.mark.slow  # see pyproject.toml: left out of the fast lane

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("FACE2DATA_CHROMIUM", "/usr/bin/chromium"))
SAMPLE = ROOT / "face2data" / "assets" / "astronaut.jpg"
PHONE = {"width": 390, "height": 844}
PHONE_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
)
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
SERVER: dict[str, int] = {}  # the app server's pid, once the module's server runs
# The first prediction loads TensorFlow, the model and the detector; on a busy 2-core machine that takes a while.
FIRST_PREDICTION_MS = 180_000
SHAP_MS = 240_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """Serve the app with ``streamlit run`` on a free loopback port for the whole module."""
    if not MODEL_PATH.exists():
        pytest.skip(f"no trained model at {MODEL_PATH}")
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
               "--server.headless", "true", "--server.address", "127.0.0.1"]  # fmt: skip
    log = tmp_path_factory.mktemp("streamlit") / "server.log"  # a file, not a pipe: a full pipe would block it
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    SERVER["pid"] = server.pid
    try:
        wait_until_ready(f"{url}/_stcore/health", server, lambda body: body == b"ok",
                         log=lambda: log.read_text(errors="replace"))  # fmt: skip
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium whose fake webcam shows the sample face; skips with the reason when it cannot start."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    video = write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m", cv2.imread(str(SAMPLE))[:, :, ::-1])
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"]
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright_api.sync_playwright() as playwright:
        try:
            context = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                headless=True,
                args=args,
                viewport={"width": 1400, "height": 1000},
                permissions=["camera"],
            )
        except playwright_api.Error as error:
            pytest.skip(f"Chromium could not start: {str(error).splitlines()[0]}")
        context.set_default_timeout(60_000)  # a busy machine renders slowly
        yield context
        context.close()


@pytest.fixture(scope="module", autouse=True)
def screenshot_dir():
    """A fresh artifacts/screenshots/ for this run."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


def _open(browser, url: str):
    page = browser.new_page()
    page.goto(url)
    page.get_by_test_id("stApp").wait_for()
    return page


def _wait_until_idle(page) -> None:
    """Until the app's script has finished its run (Streamlit's "Running…" indicator is gone)."""
    page.wait_for_load_state("networkidle")
    playwright_api.expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=120_000)


def _server_idle() -> bool:
    """Whether the app server uses under a tenth of a core over the next half second."""
    return is_idle(SERVER["pid"])


def _shoot(page, name: str) -> None:
    """A screenshot of the whole app at the page's width: the viewport is made as tall as the page's content,
    charts drawn first; then the viewport is as it was."""
    before = page.viewport_size
    for _ in range(2):  # charts grow once they are drawn in a taller viewport: measure twice
        full = page.evaluate(
            "() => { const r = document.querySelector('[data-testid=stMainBlockContainer]').getBoundingClientRect();"
            " return r.top + r.height + 80; }"
        )
        page.set_viewport_size({"width": before["width"], "height": min(max(int(full), 800), 9000)})
        page.wait_for_function(  # every visible Plotly chart has been drawn
            "() => Array.from(document.querySelectorAll('[data-testid=stPlotlyChart]'))"
            ".filter(e => e.offsetParent !== null).every(e => e.querySelector('.main-svg'))",
            timeout=120_000,
        )
        page.wait_for_timeout(500)
    page.evaluate("() => document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), timeout=120_000)
    page.set_viewport_size(before)


def _expect_no_exception(page) -> None:
    assert page.get_by_test_id("stException").count() == 0, page.get_by_test_id("stException").first.inner_text()


def test_upload_shows_prediction(browser, app_url):
    page = _open(browser, app_url)
    page.locator("input[type=file]").set_input_files(str(SAMPLE))
    page.get_by_text("Predicted age").first.wait_for(timeout=FIRST_PREDICTION_MS)
    _expect_no_exception(page)
    assert page.get_by_text("1 face found", exact=True).count() == 1
    assert page.get_by_test_id("stMetricValue").filter(has_text="years").count() >= 1
    _shoot(page, "predict_upload")
    page.close()


def test_broken_upload_shows_message(browser, app_url, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG")
    page = _open(browser, app_url)
    page.locator("input[type=file]").set_input_files(str(broken))
    alert = page.get_by_test_id("stAlertContentError")
    alert.wait_for(timeout=FIRST_PREDICTION_MS)
    assert "cannot be used as a photo" in alert.inner_text()
    _expect_no_exception(page)
    _shoot(page, "predict_broken_file")
    page.close()


def test_photo_kept_across_pages_avif_read_and_text_refused_in_words(browser, app_url, tmp_path):
    from PIL import Image

    avif = tmp_path / "astronaut.avif"
    Image.open(SAMPLE).save(avif, format="AVIF")
    page = _open(browser, app_url)
    page.locator("input[type=file]").set_input_files(str(avif))
    page.get_by_text("1 face found", exact=True).wait_for(timeout=FIRST_PREDICTION_MS)
    for name in ("Explain", "Training", "Predict"):
        page.get_by_test_id("stSidebarNav").get_by_text(name, exact=True).click()
        page.wait_for_load_state("networkidle")
    page.get_by_text("1 face found", exact=True).wait_for(timeout=30_000)  # the AVIF photo is still there
    page.get_by_test_id("stRadio").get_by_text("Webcam snapshot", exact=True).click()
    page.get_by_role("button", name="Take Photo").wait_for(timeout=30_000)
    # Under the webcam, the uploaded photo's results are not shown as if they were the snapshot's: a line says
    # where they are.
    page.get_by_text("come back under “Upload a photo”", exact=False).wait_for(timeout=30_000)
    playwright_api.expect(page.get_by_text("1 face found", exact=True)).to_have_count(0)
    # Leaving the webcam while Chromium is still opening the camera can swallow the click (a person would click
    # again): give the camera the same moment the snapshot test gives it.
    _wait_until_idle(page)
    page.wait_for_timeout(1500)
    page.get_by_test_id("stRadio").get_by_text("Upload a photo", exact=True).click()
    page.get_by_test_id("stFileUploader").wait_for(timeout=60_000)
    page.get_by_text("1 face found", exact=True).wait_for(timeout=30_000)  # and back, still there
    page.get_by_text("Showing the photo you uploaded earlier", exact=False).wait_for(timeout=30_000)
    _expect_no_exception(page)
    _shoot(page, "predict_after_page_changes")
    text = tmp_path / "notes.txt"
    text.write_text("not a photo, just a few words\n" * 20)
    page.locator("input[type=file]").set_input_files(str(text))
    alert = page.get_by_test_id("stAlertContentError")
    alert.wait_for(timeout=30_000)
    assert "not an image" in alert.inner_text()
    _expect_no_exception(page)
    page.close()


def test_downloads_match_the_shown_results(browser, app_url):
    import csv
    import io
    import json

    from PIL import Image

    page = _open(browser, app_url)
    page.locator("input[type=file]").set_input_files(str(SAMPLE))
    shown_age = page.get_by_test_id("stMetricValue").filter(has_text="years").first
    shown_age.wait_for(timeout=FIRST_PREDICTION_MS)
    taken = {}
    for name, label in (("CSV", "CSV"), ("JSON", "JSON"), ("PNG", "Annotated photo (PNG)")):
        _wait_until_idle(page)
        with page.expect_download() as download:
            page.get_by_test_id("stDownloadButton").get_by_role("button", name=label, exact=True).click()
        taken[name] = Path(download.value.path()).read_bytes()
    rows = list(csv.DictReader(io.StringIO(taken["CSV"].decode())))
    report = json.loads(taken["JSON"])
    assert len(rows) == len(report["faces"]) == 1 and report["error"] is None
    assert f"{float(rows[0]['age']):.0f} years" == shown_age.inner_text() == f"{report['faces'][0]['age']:.0f} years"
    assert rows[0]["gender"] == report["faces"][0]["gender"]
    assert Image.open(io.BytesIO(taken["PNG"])).size == Image.open(SAMPLE).size  # the annotated photo as shown
    _expect_no_exception(page)
    page.close()


def test_crowd_shows_progress_and_a_clicked_face_opens_its_card(browser, app_url, tmp_path):
    from conftest import crowd_photo

    crowd = tmp_path / "crowd.jpg"
    cv2.imwrite(str(crowd), crowd_photo()[:, :, ::-1])
    page = _open(browser, app_url)
    page.locator("input[type=file]").set_input_files(str(crowd))
    page.get_by_text("48 faces found and read").wait_for(timeout=FIRST_PREDICTION_MS)  # the finished progress
    page.get_by_text("48 faces found", exact=True).wait_for()
    photo_chart = page.get_by_test_id("stPlotlyChart").first
    targets = photo_chart.locator(".scatterlayer path.point")
    playwright_api.expect(targets).to_have_count(48, timeout=30_000)
    _shoot(page, "predict_crowd")
    box = targets.nth(4).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    playwright_api.expect(photo_chart.locator(".hoverlayer")).to_contain_text("Face 5:", timeout=10_000)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("Face 5 (aligned)").wait_for(timeout=30_000)  # the clicked face's card is open
    _expect_no_exception(page)
    page.close()


def test_on_a_phone_the_photo_fits_the_column_and_a_tapped_face_opens_its_card(browser, app_url, tmp_path):
    from conftest import crowd_photo

    crowd = tmp_path / "crowd.jpg"
    rgb = crowd_photo(rows=3, cols=4, side=110, seed=3)
    cv2.imwrite(str(crowd), rgb[:, :, ::-1])
    page = _open(browser, app_url)
    page.set_viewport_size(PHONE)
    page.locator("input[type=file]").set_input_files(str(crowd))
    page.get_by_text("12 faces found", exact=True).wait_for(timeout=FIRST_PREDICTION_MS)
    narrow = page.locator(".st-key-photo_narrow [data-testid=stPlotlyChart]")
    targets = narrow.locator(".scatterlayer path.point")
    playwright_api.expect(targets).to_have_count(12, timeout=30_000)
    playwright_api.expect(page.locator(".st-key-photo_wide")).to_be_hidden()  # the desktop drawing is not shown
    box = narrow.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    height, width = rgb.shape[:2]
    assert abs(box["height"] - box["width"] * height / width) < 3  # the photo's own shape: no blank bands
    _shoot(page, "phone_predict_crowd")
    # A tap on face 7's marker: at its centre, whatever Plotly layer lies on top (force skips the check that
    # the marker itself would receive it)
    targets.nth(6).click(force=True)
    page.get_by_text("Face 7 (aligned)").wait_for(timeout=30_000)
    _expect_no_exception(page)
    page.close()


@pytest.mark.parametrize("path", ["batch", "explain", "training", "evaluation", "about"])
def test_every_page_fits_a_phone(browser, app_url, path):
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    page.goto(f"{app_url}/{path}")
    page.get_by_test_id("stApp").wait_for()
    _wait_until_idle(page)
    _expect_no_exception(page)
    # Nothing wider than the screen: wide tables and charts scroll inside themselves, the page does not
    overflow = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=stMain]'); return m.scrollWidth - m.clientWidth; }"
    )
    assert overflow <= 1, f"the {path} page is {overflow} px wider than a phone"
    _shoot(page, f"phone_{path}")
    # Charts drawn for a phone's column: no two titles of one chart run into each other (seven maps or four
    # panels in a row did), and every colour bar is long enough to read (beside its title one was a sliver)
    overlaps, bars = page.evaluate(_CHART_TEXT_OVERLAPS_AND_BARS)
    assert not overlaps, f"on the {path} page these chart titles overlap: {overlaps}"
    assert all(longest >= 100 for longest in bars), f"a colour bar on the {path} page is {min(bars):.0f} px long"
    page.close()


_CHART_TEXT_OVERLAPS_AND_BARS = """() => {
  const overlaps = [], bars = [];
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    if (plot.offsetParent === null) continue;
    const texts = Array.from(plot.querySelectorAll('g.annotation'))
      .map(a => [a.textContent, a.getBoundingClientRect()]).filter(([, r]) => r.width > 0);
    texts.forEach(([t1, r1], i) => texts.slice(i + 1).forEach(([t2, r2]) => {
      if (r1.left < r2.right - 2 && r2.left < r1.right - 2 && r1.top < r2.bottom - 2 && r2.top < r1.bottom - 2)
        overlaps.push(t1 + ' / ' + t2);
    }));
    for (const fills of plot.querySelectorAll('g.colorbar .cbfills')) {
      const r = fills.getBoundingClientRect();
      bars.push(Math.max(r.width, r.height));
    }
  }
  return [overlaps, bars];
}"""


def test_webcam_snapshot_shows_prediction(browser, app_url):
    page = _open(browser, app_url)
    page.get_by_test_id("stRadio").get_by_text("Webcam snapshot", exact=True).click()
    take = page.get_by_role("button", name="Take Photo")
    take.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # let the fake camera deliver frames
    take.click()
    page.get_by_text("Predicted age").first.wait_for(timeout=FIRST_PREDICTION_MS)
    _expect_no_exception(page)
    _shoot(page, "predict_webcam")
    # The Live page shows a frame frozen there, never the Predict page's snapshot before Freeze is pressed
    page.get_by_test_id("stSidebarNav").get_by_text("Live", exact=True).click()
    page.get_by_role("button", name="Freeze").wait_for(timeout=60_000)
    _wait_until_idle(page)
    assert page.get_by_text("Frozen frame").count() == 0 and page.get_by_text("Predicted age").count() == 0
    page.close()


def test_on_a_phone_the_sidebar_closes_once_a_page_is_chosen(browser, app_url):
    page = browser.new_page()
    # A phone is known to Streamlit by its browser's user agent (it folds the sidebar after a tap on a page then)
    browser.new_cdp_session(page).send("Emulation.setUserAgentOverride", {"userAgent": PHONE_USER_AGENT})
    page.set_viewport_size(PHONE)
    page.goto(app_url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.wait_for(state="attached")
    playwright_api.expect(sidebar).to_have_attribute("data-collapsed", "true")  # a phone starts with it closed
    page.get_by_test_id("stExpandSidebarButton").click()
    playwright_api.expect(sidebar).to_have_attribute("data-collapsed", "false")
    page.get_by_test_id("stSidebarNav").get_by_text("About / model card", exact=True).click()
    page.get_by_role("heading", name="About face2data").wait_for(timeout=60_000)
    playwright_api.expect(sidebar).to_have_attribute("data-collapsed", "true")
    box = sidebar.bounding_box()
    assert box is None or box["x"] + box["width"] <= 1, box  # off the screen, not over the page
    _expect_no_exception(page)
    page.close()


def test_explain_page_explains_the_sample(browser, app_url):
    page = _open(browser, f"{app_url}/explain")
    page.get_by_role("button", name="Explain the sample").click()
    page.get_by_text("blurred face (base value)").first.wait_for(timeout=FIRST_PREDICTION_MS + SHAP_MS)
    _expect_no_exception(page)
    # age, gender and ethnicity (the rows render one after another): each with its waterfall chart and its sentence
    # (all three heads pass the faithfulness check on the shipped model, weights/explanation_faithfulness.json)
    playwright_api.expect(page.get_by_text("→ this face")).to_have_count(3, timeout=30_000)
    waterfalls = page.locator("[data-testid=stPlotlyChart] .waterfalllayer")
    playwright_api.expect(waterfalls).to_have_count(3, timeout=60_000)
    sentences = page.get_by_text("compared with a blurred face,")  # "Compared with ..." (age), "For P(x), compared ..."
    playwright_api.expect(sentences).to_have_count(3)
    assert "years" in sentences.first.inner_text() and sentences.first.is_visible()
    assert "percentage points" in sentences.nth(1).inner_text()
    _shoot(page, "explain")
    page.close()


def test_what_if_hides_a_region_and_shows_the_librarys_coalition_value(browser, app_url):
    from face2data.explanation.regions import explain_regions
    from face2data.image_loading import load_rgb_file
    from face2data.predictor import Predictor

    predictor = Predictor()
    crop = predictor.predict_image(load_rgb_file(SAMPLE))[0].crop
    hidden = "hair & forehead"
    expected = explain_regions(predictor.model, crop).what_if([hidden]).heads["age"]
    page = _open(browser, f"{app_url}/explain")
    page.get_by_role("button", name="Explain the sample").click()
    page.get_by_text("What if?").wait_for(timeout=FIRST_PREDICTION_MS + SHAP_MS)  # once the values are exact
    age = page.get_by_test_id("stMetric").filter(has_text="Age").get_by_test_id("stMetricValue")
    playwright_api.expect(age).to_have_text(f"{expected.full_value:.1f} years")  # nothing hidden: the card's age
    page.get_by_test_id("stButtonGroup").get_by_role("button", name=hidden).click()
    playwright_api.expect(age).to_have_text(f"{expected.value:.1f} years", timeout=60_000)
    assert abs(expected.value - expected.full_value) >= 0.05  # hiding the region moved the age
    _expect_no_exception(page)
    _shoot(page, "explain_what_if")
    page.close()


@pytest.mark.parametrize("where", ["card", "page"])
def test_the_predicted_face_is_explained_ahead_of_the_click(browser, app_url, where):
    from face2data.explanation.regions import explain_regions
    from face2data.image_loading import load_rgb_file
    from face2data.predictor import Predictor

    predictor = Predictor()
    expected = explain_regions(predictor.model, predictor.predict_image(load_rgb_file(SAMPLE))[0].crop)
    page = _open(browser, app_url)
    page.get_by_role("button", name="Try a sample").click()
    page.get_by_text("Predicted age").first.wait_for(timeout=FIRST_PREDICTION_MS)
    wait_until(_server_idle, 120, "the app to finish explaining the face ahead")  # a person reads the card
    if where == "card":  # the Explain button on the face's card
        page.get_by_role("button", name="Explain").click()
    else:  # the Explain page
        if page.get_by_test_id("stSidebar").get_attribute("data-collapsed") == "true":  # folded by an earlier test
            page.get_by_test_id("stExpandSidebarButton").click()
        page.get_by_test_id("stSidebarNav").get_by_text("Explain", exact=True).click()
    page.get_by_text("What if?").wait_for(timeout=30_000)
    assert page.get_by_text("an estimate: ±").count() == 0  # the exact values at once, no estimate first
    age = page.get_by_test_id("stMetric").filter(has_text="Age").get_by_test_id("stMetricValue").last  # what-if's
    playwright_api.expect(age).to_have_text(f"{expected.what_if([]).heads['age'].full_value:.1f} years")
    _expect_no_exception(page)
    page.close()


@pytest.mark.parametrize(
    ("path", "heading"), [("training", "Training"), ("evaluation", "Evaluation"), ("about", "About face2data")]
)
def test_page_renders(browser, app_url, path, heading):
    page = _open(browser, f"{app_url}/{path}")
    page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    _expect_no_exception(page)
    _shoot(page, path)
    page.close()


def test_batch_page_scores_a_zip_and_downloads_the_csv(browser, app_url, tmp_path):
    import csv
    import zipfile

    rgb = cv2.imread(str(SAMPLE))
    scene = np.full((480, 640, 3), 150, np.uint8)
    scene[60:360, 300:600] = cv2.resize(rgb, (300, 300), interpolation=cv2.INTER_AREA)
    archive = tmp_path / "holiday.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(SAMPLE, "portrait.jpg")
        out.writestr("beach/scene.jpg", cv2.imencode(".jpg", scene)[1].tobytes())
        out.writestr("notes.txt", "not a photo\n")
    page = _open(browser, f"{app_url}/batch")
    page.locator("input[type=file]").set_input_files(str(archive))
    page.get_by_test_id("stDataFrame").wait_for(timeout=FIRST_PREDICTION_MS)
    _expect_no_exception(page)
    _shoot(page, "batch")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(download.value.path().open(encoding="utf-8")))
    assert [row["file"] for row in rows] == ["holiday.zip/portrait.jpg", "holiday.zip/beach/scene.jpg",
                                             "holiday.zip/notes.txt"]  # fmt: skip
    assert rows[0]["faces"] == rows[1]["faces"] == "1" and rows[0]["gender"] in ("male", "female")
    assert "not an image" in rows[2]["error"]
    page.close()


def test_evaluation_of_your_labelled_zip_shows_matrices_a_gallery_and_downloads(browser, app_url, tmp_path):
    import csv
    import zipfile

    from conftest import face_images

    labels = ["file,age,gender,ethnicity"]
    archive = tmp_path / "museum.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for n, rgb in enumerate(face_images(6, 200, seed=8)):
            out.writestr(f"visitors/v{n}.jpg", cv2.imencode(".jpg", rgb[:, :, ::-1])[1].tobytes())
            labels.append(f"v{n}.jpg,{20 + 9 * n},{('male', 'female')[n % 2]},{('White', 'Asian', 'Black')[n % 3]}")
        out.writestr("visitors/labels.csv", "\n".join(labels) + "\n")
    page = _open(browser, f"{app_url}/evaluation")
    page.get_by_text("Your labelled photos", exact=True).click()
    page.get_by_text("Labelled photos, a CSV of labels, or archives of them").wait_for()  # the shipped set has gone
    page.locator("input[type=file]").set_input_files(str(archive))
    page.get_by_text("6 faces of your photos").wait_for(timeout=FIRST_PREDICTION_MS)
    page.get_by_role("heading", name="Confusion matrices").wait_for()
    _expect_no_exception(page)
    gallery = page.locator("[data-testid=stImage]")
    # the largest age errors, shown first: all 6 faces are off their exact ages (they render one after another)
    playwright_api.expect(gallery).to_have_count(6, timeout=30_000)
    _shoot(page, "evaluation_labelled")
    with page.expect_download() as download:
        page.get_by_role("button", name="Predictions (CSV)").click()
    rows = list(csv.DictReader(download.value.path().open(encoding="utf-8")))
    assert sorted(row["file"] for row in rows) == [f"museum.zip/visitors/v{n}.jpg" for n in range(6)]
    assert {row["gender_true"] for row in rows} == {"male", "female"} and all(row["age_pred"] for row in rows)
    page.get_by_role("button", name="Explain").first.click()
    page.get_by_role("dialog").get_by_text("Age", exact=False).first.wait_for(timeout=SHAP_MS)
    page.get_by_role("dialog").locator("[data-testid=stPlotlyChart]").first.wait_for(timeout=SHAP_MS)
    _expect_no_exception(page)
    page.close()


def test_a_closed_tab_stops_the_evaluation_of_its_photos(browser, app_url, tmp_path):
    import zipfile

    from conftest import face_images

    photo = np.full((1800, 2400, 3), 110, np.uint8)  # a face in a large photo: ~0.1 s of work per photo
    photo[700:1100, 1000:1400] = cv2.resize(face_images(1, 200, seed=4)[0], (400, 400))
    jpeg = cv2.imencode(".jpg", photo[:, :, ::-1])[1].tobytes()
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for n in range(MAX_BATCH_FILES):
            out.writestr(f"{20 + n % 50}_{n % 2}_{n % 5}_2024{n:06d}.jpg", jpeg)
    page = _open(browser, f"{app_url}/evaluation")
    page.get_by_text("Your labelled photos", exact=True).click()
    page.get_by_text("Labelled photos, a CSV of labels, or archives of them").wait_for()
    _wait_until_idle(page)  # the rerun after the click has settled: an upload to its uploader is not lost
    page.locator("input[type=file]").set_input_files(str(archive))
    page.get_by_text(f"of {MAX_BATCH_FILES} photos").wait_for(timeout=FIRST_PREDICTION_MS)
    pid = SERVER["pid"]
    started = cpu_seconds(pid)
    wait_until(lambda: cpu_seconds(pid) > started + 1.0, 30, "the evaluation to be under way")
    page.close()
    closed = time.monotonic()

    wait_until(_server_idle, 15, "the server to stop working for the closed tab")
    # Streamlit alone would let the run go on to its last photo, then keep the session for its 20 s
    assert time.monotonic() - closed < 10


def test_evaluation_compares_another_models_metrics_file(browser, app_url, tmp_path):
    import json

    from face2data.paths import WILD_METRICS_PATH

    if not WILD_METRICS_PATH.is_file():
        pytest.skip("the in-the-wild test set has not been evaluated (weights/wild_test_metrics.json)")
    other = json.loads(WILD_METRICS_PATH.read_text())
    other["gender_accuracy"] -= 0.05  # a worse model
    other["confidence_intervals"]["gender_accuracy"] = [
        other["gender_accuracy"] - 0.01,
        other["gender_accuracy"] + 0.01,
    ]
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    page = _open(browser, f"{app_url}/evaluation")
    page.get_by_text("Compare with another model on this test set").click()
    page.locator("input[type=file]").set_input_files(str(path))
    table = page.get_by_test_id("stDataFrame").first
    table.wait_for(timeout=60_000)
    _expect_no_exception(page)
    _shoot(page, "evaluation_compare")
    page.close()


# Live video: the fake camera plays the still sample face; the page reads the stream back every second.
LIVE_SAMPLES = 6
# The stream is live and keeps up (a stalled one reads 0-2 fps). The frame rate itself is a benchmark figure
# (benchmarks/RESULTS.md, "Live video"), not a timed test's: the same code read 26 fps on a quiet VM and 11 to 16 on
# one whose host took 10-12 % of the CPU (2026-12-07), so a 15-fps bar failed CI on the machine, not the code.
MIN_LIVE_FPS = float(os.environ.get("FACE2DATA_MIN_LIVE_FPS", "5"))


def _start_live_video(page):
    """Press START and wait for the first labelled face; the readout's locator.

    In one CI run the stream never delivered a labelled frame for 3 minutes (the page went back to "Press START")
    and the same test passed when run again at once: a WebRTC connection without ICE servers that did not come
    up. A person would press START again, so the test does that once, after a page reload, before it fails.
    """
    readout = page.get_by_test_id("stMarkdownContainer").filter(has_text="Faces now:")
    start = page.frame_locator("iframe[title*='webrtc']").get_by_role("button", name="START")
    start.click(timeout=60_000)
    try:
        playwright_api.expect(readout).to_contain_text("·", timeout=FIRST_PREDICTION_MS // 2)
    except AssertionError:
        page.reload()
        page.get_by_test_id("stApp").wait_for()
        start.click(timeout=60_000)
        playwright_api.expect(readout).to_contain_text("·", timeout=FIRST_PREDICTION_MS // 2)
    return readout


def test_live_video_labels_a_still_face_steadily(browser, app_url):
    page = _open(browser, f"{app_url}/live")
    readout = _start_live_video(page)
    # WebRTC starts at a low bit rate and sharpens over the first seconds; the frame rate settles over 30 frames.
    page.wait_for_timeout(6000)
    samples = []
    for _ in range(LIVE_SAMPLES):
        fps = float(page.get_by_test_id("stMetricValue").first.inner_text())
        samples.append((fps, readout.inner_text()))
        page.wait_for_timeout(1000)
    _expect_no_exception(page)
    _shoot(page, "live")
    (SCREENSHOTS / "live_fps.txt").write_text("\n".join(f"{fps:.1f} fps  {labels}" for fps, labels in samples))
    texts = [text for _, text in samples]
    changes = sum(a != b for a, b in zip(texts, texts[1:], strict=False))
    # One face; its label may settle once more as the stream sharpens (a shown age moves only past 1 year of
    # hysteresis), but never flips back and forth.
    assert all("1: " in text and "2: " not in text for text in texts) and changes <= 1, samples
    median_fps = sorted(fps for fps, _ in samples)[LIVE_SAMPLES // 2]
    assert median_fps >= MIN_LIVE_FPS, f"{median_fps:.1f} fps: {samples}"
    page.get_by_role("button", name="Freeze").click()
    page.get_by_text("Frozen frame").wait_for(timeout=60_000)
    page.get_by_text("Predicted age").first.wait_for(timeout=60_000)
    _expect_no_exception(page)
    _shoot(page, "live_frozen")
    page.close()
