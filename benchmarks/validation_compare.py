"""Candidate models side by side on the validation splits: the figures that decide which model is shipped.

    python benchmarks/validation_compare.py --model weights/face2data.keras --model runs/X/face2data.keras [--soup]

Each model runs every validation face of UTKFace and FairFace (the cached aligned crops, as training validates)
with mirror TTA, as the app serves it; ``--soup`` adds the average of the models' weights (they must share one
architecture); ``--ensemble`` adds the mean of the models' outputs (each model run as served); ``--more-views``
adds, for each model, the mean over four more views (zoom ±6 %, shifts of 3 px, each mirrored too);
``--gender-thresholds`` prints gender accuracy when "female" needs P(female) above 0.4 to 0.6.
The test splits stay untouched, so choosing among the printed models does not tune on them.
Prints markdown tables and one JSON line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import common

common.setup_path()

import cv2  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from face2data.crops import load_crops  # noqa: E402
from face2data.data.scores import RANGE_HIT_KEY, source_figures  # noqa: E402
from face2data.outputs import predict_probabilities  # noqa: E402
from face2data.schema import AGE_RANGE_TOLERANCE, CLASS_HEADS, HEAD_BY_NAME, NO_LABEL  # noqa: E402

SOURCES = (
    common.SHARED_DATA / "UTKFace.tar.gz",
    common.SHARED_DATA / "FairFace-train.tar.gz",
    common.SHARED_DATA / "AllAgeFaces.tar.gz",
)
SOURCE_TITLES = {"utkface": "UTKFace", "fairface": "FairFace", "allagefaces": "All-Age-Faces"}
# The figures shown of each source (those ``source_figures`` gives it): key -> (column title, scale).
FIGURES = {
    "age_mae": ("MAE", 1),
    RANGE_HIT_KEY: (f"age in range ± {AGE_RANGE_TOLERANCE} %", 100),
    **{f"{head.name}_accuracy": (f"{head.name} %", 100) for head in CLASS_HEADS},
}

EXTRA_VIEWS = ((0.94, 0, 0), (1.06, 0, 0), (1.0, 3, 0), (1.0, 0, 3))  # (zoom, x shift, y shift) in pixels
THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6)
GENDER = HEAD_BY_NAME["gender"]
FEMALE = GENDER.classes.index("female")


def shifted_view(images: np.ndarray, zoom: float, dx: float, dy: float) -> np.ndarray:
    """The faces zoomed about their centre and shifted, edges reflected as in training's augmentation."""
    size = images.shape[1]
    matrix = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), 0, zoom)
    matrix[:, 2] += np.array([dx, dy])
    return np.stack([cv2.warpAffine(i, matrix, (size, size), borderMode=cv2.BORDER_REFLECT_101) for i in images])


def weight_soup(models: list[keras.Model]) -> keras.Model:
    """A copy of the first model holding the mean of all the models' weights."""
    soup = keras.models.clone_model(models[0])
    soup.set_weights([np.mean(parts, axis=0) for parts in zip(*(m.get_weights() for m in models), strict=True)])
    return soup


def table_columns(figures: dict[str, dict[str, float]]) -> list[tuple[str, str, str, int]]:
    """(source, figure key, column title, scale) of each FIGURES figure of each source in ``figures``."""
    return [
        (source, key, f"{SOURCE_TITLES.get(source, source)} {title}", scale)
        for source, values in figures.items()
        for key, (title, scale) in FIGURES.items()
        if key in values
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="a .keras model (repeat for several)")
    parser.add_argument("--soup", action="store_true", help="also the average of the models' weights")
    parser.add_argument("--ensemble", action="store_true", help="also the mean of the models' outputs")
    parser.add_argument("--more-views", action="store_true", help="also each model with four more test-time views")
    parser.add_argument("--gender-thresholds", action="store_true", help="gender accuracy at thresholds 0.4 to 0.6")
    parser.add_argument(
        "--data", action="append", help="sources (default: UTKFace, FairFace and All-Age-Faces in ../shared/data)"
    )
    args = parser.parse_args()
    info = common.machine_info()  # before the work, so that its load average is the machine's, not ours

    models = {path: keras.models.load_model(path, compile=False) for path in args.model}
    if args.soup:
        models["weight soup of the above"] = weight_soup(list(models.values()))
    validation = {}
    for source in args.data or SOURCES:
        crops = load_crops(Path(source))
        validation[crops.source] = crops.faces.of_splits("val")

    results: dict[str, dict[str, dict[str, float]]] = {}
    outputs_of: dict[str, dict[str, dict[str, np.ndarray]]] = {}  # each given model's outputs, for --ensemble
    thresholds: dict[str, dict[str, list[float]]] = {}
    for name, model in models.items():
        results[name], thresholds[name] = {}, {}
        for source, faces in validation.items():
            probabilities = predict_probabilities(model, faces.images, flip=True, batch_size=256)
            if name in args.model:
                outputs_of.setdefault(name, {})[source] = probabilities
            results[name][source] = source_figures(faces, probabilities)
            truth = faces.labels[GENDER.name]
            labelled = truth != NO_LABEL
            p_female, female = probabilities[GENDER.name][labelled, FEMALE], truth[labelled] == FEMALE
            thresholds[name][source] = [float(((p_female > t) == female).mean()) for t in THRESHOLDS]
            if args.more_views:
                views = [probabilities] + [
                    predict_probabilities(model, shifted_view(faces.images, *view), batch_size=256)
                    for view in EXTRA_VIEWS
                ]
                mean = {head: np.mean([v[head] for v in views], axis=0) for head in probabilities}
                results.setdefault(f"{name} + 4 more views", {})[source] = source_figures(faces, mean)
    if args.ensemble:
        outputs = list(outputs_of.values())
        results["mean output of the models"] = {
            source: source_figures(
                faces, {head: np.mean([o[source][head] for o in outputs], axis=0) for head in outputs[0][source]}
            )
            for source, faces in validation.items()
        }

    print(common.machine_line(info))
    print("validation faces: " + ", ".join(f"{source} {len(faces)}" for source, faces in validation.items()))
    shown = table_columns(next(iter(results.values())))
    print("| model | " + " | ".join(label for _, _, label, _ in shown) + " |")
    print("|---" * (len(shown) + 1) + "|")
    for name, figures in results.items():
        cells = [f"{figures[source][key] * scale:.2f}" for source, key, _, scale in shown]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.gender_thresholds:
        print(f"\ngender accuracy (%) when P(female) > t; t = {', '.join(map(str, THRESHOLDS))}")
        for name, per_source in thresholds.items():
            for source, accuracies in per_source.items():
                print(f"| {name} | {source} | " + " | ".join(f"{a * 100:.2f}" for a in accuracies) + " |")
    validation_faces = {source: len(faces) for source, faces in validation.items()}
    extra = {"gender_thresholds": {"t": THRESHOLDS, **thresholds}} if args.gender_thresholds else {}
    print(json.dumps({"machine": info, "validation_faces": validation_faces, **results, **extra}))


if __name__ == "__main__":
    main()
