"""``python -m face2data`` — train, evaluate, predict and explain from the command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from face2data.paths import MODEL_PATH, REGION_GLOBAL_PATH, SHAP_GLOBAL_PATH, TFLITE_PATH  # noqa: E402
from face2data.safe_text import printable, printable_lines  # noqa: E402
from face2data.schema import CLASS_HEADS, HEADS, SOURCES  # noqa: E402


class CommandError(Exception):
    """What stops a command: ``main`` prints ``error: <message>`` on stderr and exits with ``code``."""

    def __init__(self, message: object, code: int = 2) -> None:
        super().__init__(str(message))
        self.code = code


@contextmanager
def _failing(code: int, *kinds: type[BaseException], prefix: str = "") -> Iterator[None]:
    """Turn the expected errors ``kinds`` of a command's work into a CommandError with exit status ``code``."""
    try:
        yield
    except kinds as error:
        raise CommandError(f"{prefix}{error}", code) from error


def _setup_logging(log_file: Path | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers)


def _loss_weights(text: str) -> dict[str, float]:
    """Parse ``gender=2,ethnicity=1.5`` into per-head loss weights."""
    from face2data.schema import HEADS

    weights = {}
    for item in text.split(","):
        head, _, value = (part.strip() for part in item.partition("="))
        if head not in HEADS:
            raise argparse.ArgumentTypeError(f"{head!r} is not a head; heads: {', '.join(HEADS)}")
        try:
            weight = float(value)
        except ValueError:
            weight = float("nan")
        if not weight >= 0:  # false for nan too
            raise argparse.ArgumentTypeError(f"{item!r}: the weight must be a number ≥ 0")
        weights[head] = weight
    return weights


def _train_config(args: argparse.Namespace):
    """The TrainConfig of ``train``'s options; an option not given keeps TrainConfig's default."""
    from dataclasses import fields

    from face2data.training import TrainConfig

    return TrainConfig(**{field.name: getattr(args, field.name) for field in fields(TrainConfig) if field.name in args})


def _cmd_train(args: argparse.Namespace) -> int:
    from face2data.machine import prepare_training_environment

    prepare_training_environment(getattr(args, "devices", None))
    from face2data.training import train

    config = _train_config(args)
    _setup_logging(Path(config.out) / "train.log")
    path = train(config)
    print(f"best model: {path}")
    return 0


def _cmd_train_heads(args: argparse.Namespace) -> int:
    from face2data.head_training import train_heads_command
    from face2data.machine import prepare_training_environment

    prepare_training_environment(1)
    _setup_logging()
    print(f"model: {train_heads_command(args.init, args.data, args.out, args.head)}")
    return 0


def _cmd_crops(args: argparse.Namespace) -> int:
    from face2data.crops import CROPS_SUFFIX, load_crops, write_crops_copy

    if args.out and not args.out.endswith(CROPS_SUFFIX):
        raise CommandError(f"--out must end with {CROPS_SUFFIX}")
    _setup_logging()
    with _failing(2, FileNotFoundError, ValueError):
        found = load_crops(args.data)
    print(f"{found.source}: {len(found.faces)} aligned faces, no face found in {len(found.missed)}, "
          f"{len(found.skipped)} files skipped")  # fmt: skip
    if args.out:
        index, count = args.shard
        written = write_crops_copy(args.data, args.out, tuple(args.splits.split(",")), (index, count))
        print(f"wrote {written} faces to {args.out}")
    return 0


def _dataset_kind(data: str) -> str | None:
    import tarfile

    from face2data.data.sources import dataset_kind

    with _failing(2, OSError, ValueError, tarfile.TarError, prefix=f"{data}: "):
        return dataset_kind(data)


def _shard(text: str) -> tuple[int, int]:
    """``I/N`` as (I, N), 0 <= I < N; argparse's error otherwise."""
    index, _, count = text.partition("/")
    if not (index.isascii() and index.isdigit() and count.isascii() and count.isdigit()) or int(index) >= int(count):
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N with 0 <= I < N (0/1 is every face)")
    return int(index), int(count)


def _positive(text: str) -> int:
    """A whole number of at least 1; argparse's error otherwise."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _check_writable(option: str, path: str | None) -> None:
    """A CommandError now for an output file that cannot be written, so no work is done and lost."""
    if path is None:
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise CommandError(f"{option} {path} is a folder; give a file name")
    if not folder.is_dir():
        raise CommandError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise CommandError(f"{option} {path} cannot be written (no permission)")


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from face2data.evaluation.run import evaluate, evaluate_labelled, headline, labelled_headline, write_predictions
    from face2data.paths import evaluation_paths

    _setup_logging()
    # Without --source, a folder or archive that is none of the shipped data sets is your own labelled photos
    # (UTKFace-style names label your photos; they do not make them UTKFace's test split).
    recognised = None if args.source is not None else _dataset_kind(args.data)
    labelled = args.labels is not None or args.source == "labelled" or (args.source is None and recognised is None)
    if labelled and args.shipped:
        raise CommandError("--shipped is for the test sets the model card reports, not for your own photos")
    for option, path in (("--json", args.json), ("--predictions", args.predictions)):
        _check_writable(option, path)  # before the work, not after it
    model = _inference_model(args.model)
    with _failing(2, FileNotFoundError, ValueError):
        if labelled:
            report, rows, problems = evaluate_labelled(model, args.data, args.labels)
            if problems:
                print(printable_lines(problems.message()), file=sys.stderr)
        else:
            report, rows = evaluate(model, args.data, args.split, args.source)
    report = {"model": Path(args.model).name, **report}
    json_path, predictions_path = args.json, args.predictions
    if args.shipped:
        json_path, predictions_path = evaluation_paths(report["source"])
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=1))
    if predictions_path:
        write_predictions(rows, predictions_path, "labelled" if labelled else report["source"])
    print(labelled_headline(report) if labelled else headline(report))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from face2data.calibration import write_calibration
    from face2data.evaluation.calibrate import calibrate, calibration_table

    _setup_logging()
    model = _inference_model(args.model)
    with _failing(2, FileNotFoundError, ValueError):
        report = calibrate(model, args.model, args.data)
    print(calibration_table(report))
    if args.write:
        print(f"wrote {write_calibration(report)}")
    return 0


def _load_predictor(model_path: str):
    """The Predictor for ``--model``; a CommandError saying why the model cannot be loaded."""
    from face2data.model_loading import ModelFileError
    from face2data.predictor import Predictor

    with _failing(2, ModelFileError, OSError, ValueError, prefix="cannot load the model: "):
        return Predictor(model_path=model_path)


def _cmd_predict(args: argparse.Namespace) -> int:
    import json

    from face2data.image_loading import ImageLoadError, read_image_bytes
    from face2data.results import PhotoResult
    from face2data.text_table import format_table

    predictor = _load_predictor(args.model)
    photos = []
    for path in args.images:
        try:
            data = read_image_bytes(path)
        except ImageLoadError as error:
            photos.append(PhotoResult(str(path), error=str(error)))
        else:  # as batch and the API read a photo: boxes in its own pixels however large it is
            photos.append(predictor.predict_photo(str(path), data, read_possible=args.read_possible))
    print(json.dumps([p.to_dict() for p in photos], ensure_ascii=False) if args.json else format_table(photos))
    return 0 if any(photo.error is None for photo in photos) else 1


def _cmd_export(args: argparse.Namespace) -> int:
    from face2data.model_loading import ModelFileError, load_trained_model
    from face2data.tflite_model import export_tflite, largest_difference, load_tflite_model

    with _failing(2, ModelFileError):
        model = load_trained_model(Path(args.model))
    path = export_tflite(model, args.out)
    difference = largest_difference(model, load_tflite_model(path))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); largest probability difference to {args.model}: "
          f"{difference:.1e}")  # fmt: skip
    return 0


def _cmd_model_card(args: argparse.Namespace) -> int:
    from face2data.model_card import write_model_card

    print(f"wrote {write_model_card()}")
    return 0


def _explain_settings(args: argparse.Namespace):
    from dataclasses import replace

    from face2data.explanation import DEFAULT_SETTINGS

    return replace(DEFAULT_SETTINGS, max_evals=args.max_evals) if args.max_evals else DEFAULT_SETTINGS


def _cmd_explain(args: argparse.Namespace) -> int:
    import json

    from face2data.explanation.commands import explain_photo
    from face2data.image_loading import ImageLoadError
    from face2data.safe_text import safe_name

    predictor = _load_predictor(args.model)
    out = args.out if args.out is not None or args.json else "explanations"
    # ImageLoadError is a ValueError: the inner context sees it first
    classes = {head.name: getattr(args, head.name) for head in CLASS_HEADS}
    with _failing(1, ValueError), _failing(2, ImageLoadError, prefix=f"{safe_name(args.image)}: "):
        faces = explain_photo(args.image, out, predictor, args.face, classes, _explain_settings(args))
    print(json.dumps([f.to_dict() for f in faces], ensure_ascii=False) if args.json else _explained_text(faces))
    return 0


def _explained_text(faces: list) -> str:
    """``explain``'s report: per face and head, the class explained, a sentence and the ranked region values;
    with pixel maps, the PNG and each map's sum against the model's output; the methods last."""
    lines, methods = [], []
    for face in faces:
        lines.append(f"face {face.number}: regions in {face.regions.seconds:.2f} s")
        for head in HEADS:
            part = face.regions[head]
            lines.append(f"  {head:9s} {part.target:15s} {part.sentence()}")
            lines.append("            " + ", ".join(f"{name} {value:+.2f}" for name, value in part.ranked()))
        methods = [face.regions.method]
        if face.pixels is not None:
            lines.append(f"  pixel maps: {printable(face.overlay)}  ({face.pixels.seconds:.1f} s)")
            for head in HEADS:
                h = face.pixels[head]
                total = h.base_value + h.values.sum()
                lines.append(f"  {head:9s} {h.target:15s} base {h.base_value:8.3f} + sum of map {h.values.sum():+8.3f} "
                             f"= {total:8.3f} (model output {h.output_value:.3f})")  # fmt: skip
            methods.append(face.pixels.method)
    return "\n".join(lines + [f"method: {method}" for method in methods])


def _inference_model(path: str):
    """The inference model at ``path`` (.tflite or .keras); a CommandError saying why it cannot load."""
    from face2data.model_loading import ModelFileError
    from face2data.tflite_model import load_inference_model

    with _failing(2, ModelFileError):
        return load_inference_model(Path(path))


def _cmd_explain_regions_global(args: argparse.Namespace) -> int:
    from face2data.explanation.commands import explain_regions_global

    _setup_logging()
    model = _inference_model(args.model)
    with _failing(1, OSError, ValueError):
        path = explain_regions_global(model, args.data, args.out, args.n, args.seed, Path(args.model).name)
    print(f"wrote {path}")
    return 0


def _cmd_explain_global(args: argparse.Namespace) -> int:
    from face2data.explanation.commands import explain_global

    _setup_logging()
    model = _inference_model(args.model)
    with _failing(1, OSError, ValueError):
        path = explain_global(
            model, args.data, args.out, args.n, args.seed, _explain_settings(args), Path(args.model).name
        )
    print(f"wrote {path}")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from face2data.batch.run import EngineUnavailable, run_batch
    from face2data.batch.writers import OutputError
    from face2data.model_loading import ModelFileError

    cores = os.cpu_count() or 1
    if args.engine == "local" and args.workers is not None and args.workers > cores:
        raise CommandError(f"--workers {args.workers}: this machine has {cores} cores, and a worker more than a core "
                           "only holds another copy of the model in memory")  # fmt: skip
    # OSError: an output that cannot be written (the folder is read-only, the disk is full): one line, no traceback
    with _failing(2, OutputError, ModelFileError, EngineUnavailable, OSError):
        summary = run_batch(
            args.inputs, args.out, engine=args.engine, workers=args.workers, resume=args.resume,
            overwrite=args.overwrite, model=args.model, ray_address=args.ray_address, chunk_files=args.chunk_size,
            progress=not args.quiet,
        )  # fmt: skip
    print(f"{summary.line()}; wrote {printable(args.out)}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from face2data.machine import limit_malloc_arenas

    limit_malloc_arenas(2)  # the worker threads of uvicorn's pool would otherwise each keep an arena
    _setup_logging()
    # The app's own request log (method, path, status, time) replaces uvicorn's access log.
    uvicorn.run("face2data.api.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, access_log=False, log_level="info")  # fmt: skip
    return 0


# One builder per command, in the order `python -m face2data --help` lists them; the helpers below add the options
# several commands share.
SAMPLE_FACES = 300  # test faces explained by the global explanations unless --n says otherwise


def _command(commands, name: str, run, help: str, description: str | None = None, **kwargs) -> argparse.ArgumentParser:
    """A sub-command ``name`` that ``main`` runs with ``run(args)``."""
    command = commands.add_parser(name, help=help, description=description, **kwargs)
    command.set_defaults(run=run)
    return command


def _add_data(command: argparse.ArgumentParser, help: str, each: bool = False) -> None:
    """The required ``--data`` source; with ``each``, given once per source."""
    command.add_argument("--data", required=True, help=help, **({"action": "append"} if each else {}))


def _add_model(
    command: argparse.ArgumentParser, help: str = "the .tflite (or .keras) model to use", default: Path = TFLITE_PATH
) -> None:
    command.add_argument("--model", default=str(default), help=help)


def _add_max_evals(command: argparse.ArgumentParser, what: str = "model evaluations") -> None:
    command.add_argument("--max-evals", type=int, help=f"{what} per face (default: the library's)")


def _add_test_sample(command: argparse.ArgumentParser, n_help: str, seed_help: str) -> None:
    """``--n`` seeded test faces and their ``--seed``."""
    command.add_argument("--n", type=int, default=SAMPLE_FACES, help=f"{n_help} (default {SAMPLE_FACES})")
    command.add_argument("--seed", type=int, default=0, help=seed_help)


def _add_train(commands) -> None:
    # Options left out are not set at all, so TrainConfig's defaults (the only copy of them) apply.
    train = _command(commands, "train", _cmd_train, argument_default=argparse.SUPPRESS,
                     help="train (or resume) the model on UTKFace, FairFace and All-Age-Faces")  # fmt: skip
    _add_data(train, "a UTKFace, FairFace or All-Age-Faces folder or archive, or a crops file; give --data once per "
              "source", each=True)  # fmt: skip
    train.add_argument(
        "--epochs", type=int, help="total epochs (default 34; when resuming, a new total re-plans the schedule)"
    )
    train.add_argument("--out", help="where the model, history and checkpoint go")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--seed", type=int)
    train.add_argument("--stop-after", type=int, help="run at most this many epochs now; run again to resume")
    train.add_argument("--init", help="start a new run from the weights of this face2data .keras model (of any "
                       "input size) instead of random weights")  # fmt: skip
    train.add_argument("--workers", type=_positive, help="threads preparing batches (default: cores, max 8)")
    _add_train_model_options(train)


def _add_train_heads(commands) -> None:
    heads = _command(commands, "train-heads", _cmd_train_heads,
                     help="fit the head-table heads a trained model lacks on its frozen trunk (minutes)")  # fmt: skip
    _add_data(heads, "a source with the new heads' labels (folder, archive or crops file); once per source",
              each=True)  # fmt: skip
    heads.add_argument("--init", default=str(MODEL_PATH), help="the trained face2data .keras model")
    heads.add_argument("--head", action="append", help="fit this head (again); default: the heads it lacks")
    heads.add_argument("--out", required=True, help="folder for the model and heads.json")


def _add_train_model_options(train: argparse.ArgumentParser) -> None:
    """How the network learns: the heads' loss weights, dropout, augmentation, devices."""
    train.add_argument("--loss-weights", type=_loss_weights, metavar="HEAD=W,...",
                       help="multiply heads' losses, e.g. gender=2,ethnicity=1.5 (others keep 1)")  # fmt: skip
    train.add_argument("--dropout", type=float,
                       help="dropout before the heads, half inside each (default: face2data/model.py)")  # fmt: skip
    train.add_argument("--augment-strength", type=float,
                       help="scale of the augmentation's ranges (default 1: as in face2data/data/augment.py); "
                       "mirror flips at any strength")  # fmt: skip
    train.add_argument("--devices", type=int,
                       help="split every batch over this many devices (default: all visible; more than one needs "
                       "KERAS_BACKEND=jax, see README)")  # fmt: skip


def _add_crops(commands) -> None:
    crops = _command(
        commands, "crops", _cmd_crops,
        help="detect and align every face of a source once (cached); optionally copy the crops to a file",
        description="Runs a UTKFace, FairFace or All-Age-Faces source through the face detector and the alignment "
        "and caches the aligned crops (FACE2DATA_CACHE, default ~/.cache/face2data). With --out, writes a "
        "self-contained copy (some splits, one shard) that `train --data` reads on another machine.",
    )  # fmt: skip
    _add_data(crops, "a UTKFace, FairFace or All-Age-Faces folder or archive")
    crops.add_argument("--out", help="write the crops (of --splits, shard --shard) to this .crops.npz file")
    crops.add_argument("--splits", default="train,val,test", help="comma-separated splits for --out")
    crops.add_argument("--shard", default="0/1", type=_shard, help="I/N: every N-th face from the I-th, for --out")


def _add_evaluate(commands) -> None:
    evaluate = _command(
        commands, "evaluate", _cmd_evaluate,
        help="evaluate the model on a test set (UTKFace, FairFace, All-Age-Faces) or on your own labelled photos",
        description="With a UTKFace, FairFace or All-Age-Faces source: the metrics of its test split. With your own "
        "photos (a folder or zip/tar archive, labelled in a CSV inside it, in --labels, or in UTKFace-style file "
        "names): the same metrics on them, per group, with every unusable row or photo reported.",
    )  # fmt: skip
    _add_data(evaluate, "a UTKFace, FairFace or All-Age-Faces folder or archive, or a folder or archive of your "
              "own photos")  # fmt: skip
    evaluate.add_argument(
        "--source",
        choices=(*SOURCES, "labelled"),
        help="the kind of source (default: recognised from --data; 'labelled' for your own photos)",
    )
    evaluate.add_argument("--labels", help="a CSV of labels for your own photos (columns: file, and any of age, "
                          "gender, ethnicity); implies --source labelled")  # fmt: skip
    evaluate.add_argument(
        "--shipped", action="store_true", help="write the metrics and predictions to the source's files in weights/"
    )
    evaluate.add_argument("--split", choices=("test", "all"), default="test", help="the test split, or every image")
    evaluate.add_argument("--json", help="write the metrics to this JSON file")
    evaluate.add_argument("--predictions", help="write one CSV row per image to this file")
    _add_model(evaluate, "the .tflite model to evaluate, as the app serves it (or a .keras model: needs TensorFlow)")


def _add_calibrate(commands) -> None:
    calibrate = _command(
        commands, "calibrate", _cmd_calibrate,
        help="fit one temperature per class head on the validation splits; measure it on the test splits",
        description="Fits a temperature for the probabilities of each class head "
        f"({', '.join(head.name for head in CLASS_HEADS)}) on the pooled validation "
        "faces of every --data source (never a test face) and prints the expected calibration error and the "
        "log-likelihood before and after it, on those faces and on each test split. With --write, stores the "
        "temperatures in weights/calibration.json for this model file: the app, the CLI and the API then apply them.",
    )  # fmt: skip
    _add_data(calibrate, "a UTKFace, FairFace or All-Age-Faces folder or archive; give --data once per source",
              each=True)  # fmt: skip
    calibrate.add_argument("--write", action="store_true", help="write weights/calibration.json")
    _add_model(calibrate, "the .tflite model to calibrate (the file the app serves)")


def _add_export(commands) -> None:
    export = _command(commands, "export", _cmd_export,
                      help="convert the trained .keras model to the .tflite file the app runs")  # fmt: skip
    _add_model(export, "the trained .keras model", MODEL_PATH)
    export.add_argument("--out", default=str(TFLITE_PATH), help="the .tflite file to write")


def _add_model_card(commands) -> None:
    _command(commands, "model-card", _cmd_model_card, help="render weights/MODEL_CARD.md from the shipped metrics")


def _add_predict(commands) -> None:
    predict = _command(commands, "predict", _cmd_predict,
                       help="predict age, gender and ethnicity of every face in photos")  # fmt: skip
    predict.add_argument("images", nargs="+", help="image files (JPEG, PNG, ...)")
    predict.add_argument("--json", action="store_true", help="print one JSON array, one object per file")
    _add_model(predict)
    predict.add_argument("--read-possible", action="store_true",
                         help="also read possible faces (boxes the detector is not sure are faces; listed with "
                         '"possible_face": true and no attributes otherwise)')  # fmt: skip


def _add_explain(commands) -> None:
    explain = _command(
        commands, "explain", _cmd_explain,
        help="explain every face in a photo: region values per head (and, with --out, SHAP pixel-map PNGs)",
        description="Explain each face of a photo: how much each named facial region (eyes, mouth, hair ...) moved "
        "each head's output away from the output for a blurred face (exact Shapley values), and SHAP pixel maps "
        "(red: pushed the output up, blue: down) written to DIR/<photo>_face<K>.png. With --json, prints one JSON "
        "array (per face: prediction, and per head the base value, the output and every region's value) and "
        "writes the PNGs only when --out is given.",
    )  # fmt: skip
    explain.add_argument("image", help="an image file (JPEG, PNG, ...)")
    explain.add_argument("--out", help="folder for the pixel-map PNGs (default: ./explanations; none with --json)")
    explain.add_argument("--json", action="store_true", help="print the region values as JSON")
    explain.add_argument("--face", type=int, help="explain only face K (1 = the largest); default: every face")
    for head in CLASS_HEADS:
        explain.add_argument(f"--{head.name}", metavar="CLASS",
                             help=f"{head.title} class to explain (default: the predicted one)")  # fmt: skip
    _add_max_evals(explain, "pixel-map model evaluations")
    _add_model(explain)


def _add_explain_regions_global(commands) -> None:
    regions_all = _command(
        commands, "explain-regions-global", _cmd_explain_regions_global,
        help="mean region values per head over test faces of each source, written to weights/region_global.json",
        description="Explain N seeded test-split faces of each --data source by named regions and store the mean "
        "absolute and mean signed value of every region per head, overall and per labelled ethnicity, gender and "
        "age range. The file holds aggregated figures only (no images). Rerun it after the model changes.",
    )  # fmt: skip
    sources = "UTKFace, FairFace or All-Age-Faces folder or archive; give --data once per test set"
    _add_data(regions_all, sources, each=True)
    _add_test_sample(regions_all, "test faces per source", "seed of the samples of test faces")
    regions_all.add_argument("--out", default=str(REGION_GLOBAL_PATH), help="the JSON file to write")
    _add_model(regions_all, "the .tflite (or .keras) model to explain")


def _add_explain_global(commands) -> None:
    explain_all = _command(
        commands, "explain-global", _cmd_explain_global,
        help="mean |SHAP| maps per head over test faces, written to weights/shap_global.npz",
        description="Explain N seeded test-split UTKFace faces and store the mean absolute SHAP map of each head "
        "(and of each ethnicity class, over the faces predicted as it). The file holds aggregated maps only.",
    )  # fmt: skip
    _add_data(explain_all, "UTKFace folder or archive")
    _add_test_sample(explain_all, "number of test faces", "seed of the sample of test faces")
    explain_all.add_argument("--out", default=str(SHAP_GLOBAL_PATH), help="the .npz file to write")
    _add_max_evals(explain_all)
    _add_model(explain_all, "the .tflite (or .keras) model to explain")


def _add_batch(commands) -> None:
    batch = _command(
        commands, "batch", _cmd_batch,
        help="score many photos (files, folders, globs, .zip/.tar archives) into a CSV, JSONL or Parquet file",
        description="One row per face (box, detector score, age and its range, the class and the probabilities of "
        f"each class head: {', '.join(head.name for head in CLASS_HEADS)}; quality notes) and one row per file "
        "without a face or that cannot be read (with why). "
        "Archives are read in memory. A killed run leaves a readable file; --resume continues it.",
    )  # fmt: skip
    batch.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (recursive), globs, archives")
    batch.add_argument("--out", required=True, help="results.csv, results.jsonl or results.parquet (a folder)")
    batch.add_argument("--resume", action="store_true", help="continue an interrupted run: skip files done in --out")
    batch.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    _add_batch_engine(batch)
    _add_model(batch)


def _add_batch_engine(batch: argparse.ArgumentParser) -> None:
    """Where and how the batch runs: engine, workers, Ray cluster, chunk size, progress bar."""
    from face2data.batch.run import CHUNK_FILES

    batch.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: processes on this machine (default); ray: Ray Data, writes Parquet")  # fmt: skip
    batch.add_argument("--workers", type=_positive,
                       help="worker processes (local) or CPUs of the local Ray (ray); default: every core")  # fmt: skip
    batch.add_argument("--ray-address", help="join this Ray cluster (auto, ray://host:10001) instead of a local Ray")
    batch.add_argument("--chunk-size", type=int, default=CHUNK_FILES,
                       help=f"files per durable write (default {CHUNK_FILES})")  # fmt: skip
    batch.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_serve(commands) -> None:
    serve = _command(
        commands, "serve", _cmd_serve,
        help="run the HTTP API (FastAPI on uvicorn; OpenAPI docs at /docs)",
        description="Serves /health, /v1/model, /v1/predict and /v1/explain. Binds to localhost unless told "
        "otherwise. Set FACE2DATA_API_KEY to require 'Authorization: Bearer <key>', FACE2DATA_CORS_ORIGINS to "
        "allow browser pages from other origins.",
    )  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=_positive, default=1, help="server processes, each with its own model")


COMMANDS = (_add_train, _add_train_heads, _add_crops, _add_evaluate, _add_calibrate, _add_export, _add_model_card,
            _add_predict, _add_explain, _add_explain_regions_global, _add_explain_global, _add_batch,
            _add_serve)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="python -m face2data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m face2data``."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CommandError as error:
        print(f"error: {printable_lines(str(error))}", file=sys.stderr)
        return error.code
    except BrokenPipeError:  # the reader went away (``predict ... | head``): nothing more to say
        return 1
    except OSError as error:  # writing the output failed (a full disk, /dev/full): one line, not a traceback
        print(f"error: {printable_lines(error.strerror or str(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback (batch output written so far stays whole)
        resume = " (run the same command with --resume to go on)" if args.command == "batch" else ""
        print(f"interrupted{resume}", file=sys.stderr)
        return 130
