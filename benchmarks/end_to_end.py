"""End to end: from the bytes of a 640x480 photo to one prediction per face, split into its stages.

    python benchmarks/end_to_end.py [--model PATH] [--repeats 15] [--threads 0] [--quick]

Two JPEG photos are made here (seeded): the public-domain astronaut portrait (face2data/assets/astronaut.jpg)
pasted once, large, into a 640x480 backdrop, and five times, smaller, into another. Each repeat runs the same
functions ``face2data.predictor.Predictor`` runs, one stage at a time:

  decode     face2data.image_loading.load_rgb(bytes)                 (EXIF, colour, checks)
  detection  predictor.detector.detect(rgb)                          (YuNet, largest face first)
  alignment  face2data.faces.align_face for every face               (similarity warp to the 200x200 frame)
  quality    face2data.faces.quality.quality_notes for every face    (size, blur, pose, confidence notes)
  model      predictor.predict_faces(faces)                          (resize to input size, mirror TTA, results)

and, interleaved with them, the whole ``predictor.predict_photo(name, bytes)`` as a cross-check of the sum, and the
reference: MTCNN's detection alone on the same photo (``mtcnn`` 1.0.0, the detector face2data used before; not
in requirements.txt: ``pip install mtcnn==1.0.0`` to include it). Medians over the repeats after warm-up.

The cold start is measured in a fresh Python process: from ``import face2data`` to the first photo's results
(import, model, detector, first photo), with the process's resident memory after that first prediction, and
whether TensorFlow was imported on the way (the serving path should not).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import common

common.setup_path()

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from face2data.faces.alignment import align_face, reference_layout  # noqa: E402
from face2data.faces.extraction import FoundFace  # noqa: E402
from face2data.faces.quality import quality_notes  # noqa: E402
from face2data.image_loading import load_rgb, load_rgb_file  # noqa: E402
from face2data.paths import TFLITE_PATH  # noqa: E402
from face2data.predictor import Predictor  # noqa: E402

WIDTH, HEIGHT = 640, 480
JPEG_QUALITY = 90
STAGES = ("decode", "detection", "alignment", "quality", "model")


def backdrop(rng: np.random.Generator) -> np.ndarray:
    """A photo-like 640x480 background: a colour gradient plus blurred noise (uint8 RGB)."""
    a, b = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)
    t = np.linspace(0, 1, WIDTH)[None, :, None] * 0.6 + np.linspace(0, 1, HEIGHT)[:, None, None] * 0.4
    image = a + (b - a) * t
    noise = cv2.GaussianBlur(rng.normal(0, 1, (HEIGHT, WIDTH, 3)), (0, 0), 6)
    image = image + noise / max(noise.std(), 1e-6) * 12
    return np.clip(image, 0, 255).astype(np.uint8)


def paste(canvas: np.ndarray, portrait: np.ndarray, side: int, x: int, y: int) -> None:
    """Paste ``portrait`` scaled to ``side`` px with its top-left corner at (x, y)."""
    scaled = cv2.resize(portrait, (side, side), interpolation=cv2.INTER_AREA)
    canvas[y : y + side, x : x + side] = scaled


def make_photos(seed: int = 0) -> dict[str, tuple[bytes, int]]:
    """The two test photos as JPEG bytes with the number of faces pasted into each."""
    rng = np.random.default_rng(seed)
    portrait = load_rgb_file(common.ASTRONAUT)
    one = backdrop(rng)
    side = int(rng.integers(330, 380))
    paste(one, portrait, side, int(rng.integers(0, WIDTH - side)), int(rng.integers(0, HEIGHT - side)))
    five = backdrop(rng)
    # Two rows of cells (3 above, 2 below); each portrait lands somewhere inside its cell.
    cells = [(0, 0, 213, 240), (213, 0, 213, 240), (426, 0, 214, 240), (106, 240, 213, 240), (320, 240, 213, 240)]
    for cx, cy, cw, ch in cells:
        side = int(rng.integers(150, min(cw, ch) + 1))
        paste(five, portrait, side, cx + int(rng.integers(0, cw - side + 1)), cy + int(rng.integers(0, ch - side + 1)))
    photos = {}
    for name, image, faces in (("1 face", one, 1), ("5 faces", five, 5)):
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError("OpenCV could not encode the test photo")
        photos[name] = (encoded.tobytes(), faces)
    return photos


def staged(predictor: Predictor, data: bytes) -> tuple[dict[str, float], int]:
    """Seconds per stage for one photo, calling what Predictor.predict_photo calls, in the same order."""
    seconds = {}
    layout = reference_layout()
    start = time.perf_counter()
    rgb = load_rgb(data)
    seconds["decode"] = time.perf_counter() - start
    start = time.perf_counter()
    detections = predictor.detector.detect(rgb)
    seconds["detection"] = time.perf_counter() - start
    start = time.perf_counter()
    crops = [align_face(rgb, d.keypoints, layout) for d in detections]
    seconds["alignment"] = time.perf_counter() - start
    start = time.perf_counter()
    notes = [quality_notes(d.size, d.score, d.keypoints, c, layout) for d, c in zip(detections, crops, strict=True)]
    seconds["quality"] = time.perf_counter() - start
    faces = [FoundFace(d.box, d.score, d.keypoints, c, n) for d, c, n in zip(detections, crops, notes, strict=True)]
    start = time.perf_counter()
    results = predictor.predict_faces(faces)
    seconds["model"] = time.perf_counter() - start
    return seconds, len(results)


COLD_START = """
import json, sys, time
start = time.perf_counter()
import face2data
from face2data.predictor import Predictor
imported = time.perf_counter()
predictor = Predictor(model_path=sys.argv[2])
loaded = time.perf_counter()
faces = predictor.predict_photo(sys.argv[1], open(sys.argv[1], "rb").read()).faces
done = time.perf_counter()
rss_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(json.dumps({"import face2data": imported - start, "load model and detector": loaded - imported,
                  "first photo (1 face)": done - loaded, "total": done - start, "faces": len(faces),
                  "resident_mb": rss_kb / 1024, "tensorflow_imported": "tensorflow" in sys.modules}))
"""


def cold_start(model_path: Path, data: bytes, tmp: Path) -> dict:
    """From ``import face2data`` to the first photo's results in a fresh process, with its resident memory."""
    photo = tmp / "cold_start.jpg"
    photo.write_bytes(data)
    done = subprocess.run([sys.executable, "-c", COLD_START, str(photo), str(model_path)],
                          capture_output=True, text=True, check=True, cwd=common.ROOT)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def mtcnn_detector():
    """MTCNN (the reference), or None when the package is not installed."""
    try:
        from mtcnn import MTCNN
    except ImportError:
        return None
    return MTCNN()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", type=Path, default=TFLITE_PATH, help="the .tflite (default, as the app) or .keras model"
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-photos", type=Path, help="also write the two test photos here as JPEG, to look at")
    parser.add_argument("--quick", action="store_true", help="tiny repeats: checks the script works")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup = 2, 1
    info = common.machine_info()
    common.print_header("End to end (bytes → per-face results)", info, args.quick)
    photos = make_photos(args.seed)
    if args.save_photos:
        args.save_photos.mkdir(parents=True, exist_ok=True)
        for name, (data, _) in photos.items():
            (args.save_photos / f"end_to_end_{name.replace(' ', '_')}.jpg").write_bytes(data)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cold = cold_start(args.model, photos["1 face"][0], Path(tmp))
    steps = ("import face2data", "load model and detector", "first photo (1 face)", "total")
    print("### Cold start (a fresh process, from `import face2data` to the first photo's results)\n")
    print(common.markdown_table(["step", "seconds"], [[k, f"{cold[k]:.2f}"] for k in steps]) + "\n")
    print(f"Resident memory after the first prediction: {cold['resident_mb']:.0f} MB; TensorFlow imported: "
          f"{'yes' if cold['tensorflow_imported'] else 'no'}\n")  # fmt: skip
    predictor = Predictor(model_path=args.model)
    mtcnn = mtcnn_detector()
    if mtcnn is None:
        print("MTCNN reference skipped: `pip install mtcnn==1.0.0` to compare with it.\n")

    figures: dict = {"cold_start": cold, "photos": {}}
    rows = []
    for name, (data, expected) in photos.items():
        for _ in range(args.warmup):
            staged(predictor, data)
            predictor.predict_photo("photo", data)
        stage_samples: dict[str, list[float]] = {s: [] for s in STAGES}
        whole: list[float] = []
        reference: list[float] = []
        found: set[int] = set()
        rgb = load_rgb(data)
        if mtcnn is not None:
            mtcnn.detect_faces(rgb)  # warm-up
        for _ in range(args.repeats):
            seconds, count = staged(predictor, data)
            found.add(count)
            for stage in STAGES:
                stage_samples[stage].append(seconds[stage])
            start = time.perf_counter()
            predictor.predict_photo("photo", data)
            whole.append(time.perf_counter() - start)
            if mtcnn is not None:
                start = time.perf_counter()
                mtcnn.detect_faces(rgb)
                reference.append(time.perf_counter() - start)
        medians = {s: common.median(v) for s, v in stage_samples.items()}
        summed = sum(medians.values())
        faces_found = sorted(found)
        figures["photos"][name] = {
            "bytes": len(data),
            "faces_pasted": expected,
            "faces_found": faces_found,
            "stages": {s: common.spread(v) for s, v in stage_samples.items()},
            "sum_of_stage_medians_s": summed,
            "predict_photo": common.spread(whole),
            "mtcnn_detection_only": common.spread(reference) if reference else None,
        }
        ratio = common.median(reference) / common.median(whole) if reference else None
        rows.append(
            [f"{name} ({len(data) // 1024} KB JPEG)", ",".join(map(str, faces_found))]
            + [common.ms(medians[s]) for s in STAGES]
            + [common.ms(summed), common.ms(common.median(whole))]
            + [common.ms(common.median(reference)) if reference else "—", f"{ratio:.1f}x" if ratio else "—"]
        )
        if faces_found != [expected]:
            print(f"WARNING: {name}: {expected} faces pasted, {faces_found} found")
    headers = (["photo (640x480)", "faces found"] + [f"{s} (ms)" for s in STAGES]
               + ["sum (ms)", "predict_photo (ms)", "MTCNN detection alone (ms)", "MTCNN / whole"])  # fmt: skip
    print(f"### Per photo, median of {args.repeats} after {args.warmup} warm-up\n")
    print(common.markdown_table(headers, rows) + "\n")
    info["load_average_1min_end"] = common.load_average()
    common.print_json("end_to_end", info, args.quick, **figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
