"""Draw the named facial regions (``face2data.faces.regions``) on a face: the picture in the README.

``python benchmarks/regions_picture.py [OUT.png]`` draws them on the bundled public-domain portrait
(default ``docs/regions.png``). A documentation tool: the app does not draw this picture.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make ``import face2data`` work (tests import it as a module)
    sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from face2data.faces.alignment import reference_layout  # noqa: E402
from face2data.faces.regions import REGIONS, region_labels, region_masks  # noqa: E402
from face2data.schema import CROP_SIZE  # noqa: E402


def region_centres(size: int = CROP_SIZE) -> np.ndarray:
    """(len(REGIONS), 2) x, y of each region's pixel centroid, for labels on pictures."""
    masks = region_masks(size)
    ys, xs = np.mgrid[0:size, 0:size]
    counts = np.maximum(masks.sum(axis=(1, 2)), 1)
    return np.stack([(masks * xs).sum(axis=(1, 2)) / counts, (masks * ys).sum(axis=(1, 2)) / counts], axis=1)


# Distinct colours (RGB) for pictures of the regions, in REGIONS order.
PICTURE_COLOURS = (
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (0, 114, 178),
    (240, 228, 66),
    (213, 94, 0),
    (204, 121, 167),
    (220, 50, 50),
    (120, 80, 200),
    (150, 150, 150),
)


def regions_picture(crop: np.ndarray, side: int = 480) -> np.ndarray:
    """The regions drawn over an aligned face crop (RGB uint8, ``side`` pixels): tints, outlines, names, keypoints."""
    scale = side / CROP_SIZE
    face = cv2.resize(np.asarray(crop, np.uint8), (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    labels = cv2.resize(region_labels(CROP_SIZE), (side, side), interpolation=cv2.INTER_NEAREST)
    tint = np.array(PICTURE_COLOURS, np.float32)[labels]
    image = 0.55 * face + 0.45 * tint
    image[cv2.morphologyEx(labels, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0] = (30, 30, 30)
    image = np.clip(image, 0, 255).astype(np.uint8)
    for x, y in reference_layout().keypoints * scale:
        cv2.circle(image, (int(round(x)), int(round(y))), 4, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(image, (int(round(x)), int(round(y))), 4, (0, 0, 0), 1, cv2.LINE_AA)
    font, size = cv2.FONT_HERSHEY_SIMPLEX, 0.5 * side / 480
    for name, (x, y) in zip(REGIONS, region_centres(CROP_SIZE) * scale, strict=True):
        if name == "background":
            x, y = 0.1 * side, 0.93 * side  # its centroid lies on the face
        elif name in ("left eye", "right eye"):
            y += 0.09 * side  # below the keypoint dot
        width = cv2.getTextSize(name, font, size, 1)[0][0]
        origin = (int(x - width / 2), int(y))
        cv2.putText(image, name, origin, font, size, (255, 255, 255), 3, cv2.LINE_AA)
        cv2.putText(image, name, origin, font, size, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def main(argv: list[str] | None = None) -> int:
    """``python benchmarks/regions_picture.py [OUT.png]``: draw the regions on the bundled public-domain portrait."""
    from face2data.faces.extraction import find_faces
    from face2data.image_loading import load_rgb_file

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else ROOT / "docs" / "regions.png")
    crop = find_faces(load_rgb_file(ROOT / "face2data" / "assets" / "astronaut.jpg"))[0].crop
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(regions_picture(crop), cv2.COLOR_RGB2BGR))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
