"""Which detections are read and which are only "possible faces", on the group photos.

    python benchmarks/possible_faces.py [--scenes DIR] [--montage OUT.png]

Runs detection and alignment (no model) on every ``*.jpg`` of the scenes folder and, for a range of first-look
thresholds, counts the boxes a rule would leave unread: a detection scored below the threshold whose aligned crop
the detector does not confirm (second look below ``CONFIRM_SCORE``), in all and among boxes of at least 40 px.
The row of the shipped threshold (``DOUBTFUL_SCORE``) lists those boxes by photo, position and size, and
``--montage`` writes their aligned crops side by side to be looked at (nothing from the photos is committed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

common.setup_path()

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from face2data.faces import default_detector, find_faces  # noqa: E402
from face2data.faces.extraction import second_look  # noqa: E402
from face2data.faces.quality import CONFIRM_SCORE, DOUBTFUL_SCORE  # noqa: E402
from face2data.image_loading import load_rgb_file  # noqa: E402

LARGE_PX = 40
THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", default=str(common.SHARED_DATA / "scenes"))
    parser.add_argument("--montage", help="write the crops of the boxes left unread to this PNG")
    args = parser.parse_args()
    info = common.machine_info()
    detector = default_detector()
    boxes = []  # (photo, box, score, second look or None, crop)
    for path in sorted(Path(args.scenes).glob("*.jpg")):
        for face in find_faces(load_rgb_file(path), detector):
            again = second_look(face.crop, detector) if face.score < max(THRESHOLDS) else None
            boxes.append((path.name, face.box, face.score, again, face.crop))
    rows, shipped = [], []
    for threshold in THRESHOLDS:
        unread = [b for b in boxes if b[2] < threshold and b[3] is not None and b[3] < CONFIRM_SCORE]
        large = [b for b in unread if max(b[1][2:]) >= LARGE_PX]
        mark = " (shipped)" if threshold == DOUBTFUL_SCORE else ""
        rows.append([f"{threshold:.2f}{mark}", len(boxes), len(boxes) - len(unread), len(unread), len(large)])
        if threshold == DOUBTFUL_SCORE:
            shipped = unread
    common.print_header("Possible faces on the group photos", info, quick=False)
    print(f"Second look: the detector on the aligned crop must score at least {CONFIRM_SCORE}.\n")
    print(common.markdown_table(["first look below", "boxes", "read", "not read", f"not read, ≥ {LARGE_PX} px"], rows))
    print("\nLeft unread at the shipped threshold:\n")
    listed = [[name, f"{box[0]},{box[1]}", max(box[2:]), f"{score:.2f}", f"{again:.2f}"]
              for name, box, score, again, _ in shipped]  # fmt: skip
    print(common.markdown_table(["photo", "x,y", "size px", "first look", "second look"], listed))
    if args.montage and shipped:
        tiles = [cv2.resize(crop, (120, 120), interpolation=cv2.INTER_AREA) for *_, crop in shipped]
        cv2.imwrite(args.montage, cv2.cvtColor(np.concatenate(tiles, axis=1), cv2.COLOR_RGB2BGR))
    print(json.dumps({"machine": info, "rows": rows, "unread": listed}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
