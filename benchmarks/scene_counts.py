"""Faces found per group photo (no ground truth: counts and timings to judge by eye).

    python benchmarks/scene_counts.py [--scenes DIR] [--draw OUT_DIR]

Runs detection, alignment and the quality checks (no model) on every ``*.jpg`` of the scenes folder and
prints the face count, how many faces got each kind of quality note, and the seconds per photo. With
``--draw`` it also writes each photo with its boxes as PNG (green: no note, orange: a note). With ``--mtcnn``
(needs ``pip install mtcnn==1.0.0``) it also counts the faces MTCNN finds of at least the same minimum size,
the detector face2data used before YuNet, on the same photos shrunk the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from face2data.faces import FoundFace, default_detector, find_faces  # noqa: E402
from face2data.faces.detection import DETECT_MAX_SIDE  # noqa: E402
from face2data.image_loading import ImageLoadError, load_rgb_file  # noqa: E402
from face2data.limits import MIN_FACE_PX  # noqa: E402

DEFAULT_SCENES = Path(__file__).resolve().parents[2] / "shared" / "data" / "scenes"
NOTE_KINDS = ("small", "blurred", "turned", "tilted", "low detector confidence")


def draw(rgb: np.ndarray, faces: list[FoundFace]) -> np.ndarray:
    """The photo with numbered boxes (largest face is 1) and the five keypoints of each face."""
    out = rgb.copy()
    thickness = max(1, round(max(rgb.shape[:2]) / 600))
    for i, face in enumerate(faces, start=1):
        x, y, w, h = face.box
        colour = (255, 160, 0) if face.quality_notes else (0, 220, 0)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        for px, py in face.keypoints:
            cv2.circle(out, (round(px), round(py)), thickness, (255, 0, 0), -1)
        cv2.putText(out, str(i), (x, max(y - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness, colour, thickness)
    return out


def mtcnn_count(mtcnn, rgb: np.ndarray) -> int:
    """Faces MTCNN finds at least MIN_FACE_PX tall, on the photo shrunk to DETECT_MAX_SIDE as face2data did."""
    scale = min(1.0, DETECT_MAX_SIDE / max(rgb.shape[:2]))
    small = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    rows = mtcnn.detect_faces(np.ascontiguousarray(small), min_face_size=max(20, round(MIN_FACE_PX * scale)))
    return sum(min(r["box"][2], r["box"][3]) / scale >= MIN_FACE_PX - 0.5 for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=Path, default=DEFAULT_SCENES)
    parser.add_argument("--draw", type=Path, help="write annotated PNGs here")
    parser.add_argument("--mtcnn", action="store_true", help="also count MTCNN's faces (the earlier detector)")
    args = parser.parse_args(argv)
    mtcnn = None
    if args.mtcnn:
        from mtcnn import MTCNN

        mtcnn = MTCNN()
    files = sorted(args.scenes.glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        print(f"no *.jpg in {args.scenes}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    detector = default_detector()
    print(f"detector loaded in {time.perf_counter() - start:.1f} s")
    print(f"{'photo':<12} {'size':>10} {'faces':>5} {'seconds':>7}  notes")
    rows = []
    for path in files:
        try:
            rgb = load_rgb_file(path)
        except ImageLoadError as error:
            print(f"{path.name:<12} error: {error}")
            continue
        start = time.perf_counter()
        faces = find_faces(rgb, detector)
        seconds = time.perf_counter() - start
        notes = {k: sum(any(k in n for n in f.quality_notes) for f in faces) for k in NOTE_KINDS}
        shown = ", ".join(f"{v} {k}" for k, v in notes.items() if v)
        size = f"{rgb.shape[1]}x{rgb.shape[0]}"
        reference = mtcnn_count(mtcnn, rgb) if mtcnn is not None else None
        mark = "" if reference is None else f"  (MTCNN {reference})"
        print(f"{path.name:<12} {size:>10} {len(faces):>5} {seconds:>7.2f}  {shown}{mark}")
        rows.append({"photo": path.name, "faces": len(faces), "seconds": round(seconds, 2), "notes": notes,
                     "mtcnn_faces": reference})  # fmt: skip
        if args.draw:
            args.draw.mkdir(parents=True, exist_ok=True)
            out = cv2.cvtColor(draw(rgb, faces), cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(args.draw / f"{path.stem}_faces.png"), out)
    total = sum(r["faces"] for r in rows)
    print(f"{total} faces in {len(rows)} photos, {np.mean([r['seconds'] for r in rows]):.2f} s per photo")
    if mtcnn is not None:
        fewer = [r["photo"] for r in rows if r["faces"] < r["mtcnn_faces"]]
        print(f"MTCNN: {sum(r['mtcnn_faces'] for r in rows)} faces; photos where YuNet found fewer: "
              f"{', '.join(fewer) or 'none'}")  # fmt: skip
    print(json.dumps({"photos": rows, "faces": total}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
