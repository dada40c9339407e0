"""Model speed: our network next to two reference architectures, and the ways to run ours.

    python benchmarks/model_speed.py [--model PATH] [--threads 2] [--repeats 30] [--batch-repeats 8] [--quick]

Part 1 (architectures) times, interleaved in one process and on the same thread budget, milliseconds per face
at batch 1 and images per second at batch 32 for
  * ours: the shipped face2data.keras (MobileNetV3Large trunk at schema.INPUT_SIZE, three softmax heads);
  * Inception-ResNet-v2 at 160x160 with random weights (keras.applications, no top, average pooling) plus the
    same three heads as ours: a stand-in for the FaceNet Inception-ResNet backbone of the multi-task write-up;
  * the face2data Flask demo's small CNN, rebuilt from its description with random weights: 198x198 input, three
    separate branches (age: linear regression, gender: sigmoid, race: 5-way softmax), each three
    Conv2D(3x3)-ReLU-BatchNorm-MaxPool-Dropout blocks of 16/32/64 filters, then Flatten-Dense(128)-ReLU-BatchNorm-
    Dropout and the output.
All three run twice: as a traced ``tf.function`` (graph mode) and converted to TFLite float32 (how the app runs
ours, see face2data/tflite_model.py); ratios compare networks within one runtime. Ratios are medians over rounds
of paired timings (each round runs every model once, in a rotating order).

Part 2 (runners) times our model called six ways, at batch 1 (one face), 2 (one face with the mirror TTA the
app uses) and 10 (five faces with the mirror): eager ``model(x, training=False)``, ``predict_on_batch``,
``predict``, ``tf.function``, ``tf.function(jit_compile=True)`` (XLA), the exported SavedModel
(``model.export``) and TFLite (converted from that SavedModel, if the converter works offline; run with LiteRT's
interpreter from ai-edge-litert when installed, else TensorFlow's deprecated ``tf.lite.Interpreter``). Every runner's
outputs are checked against the eager call. Random inputs in 0..255 (speed does not depend on the pixels).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import common

common.setup_path()

import numpy as np  # noqa: E402

from face2data.paths import MODEL_PATH, TFLITE_PATH  # noqa: E402
from face2data.schema import ETHNICITIES, GENDERS, INPUT_SIZE, NUM_AGES  # noqa: E402

RUNNER_BATCHES = (1, 2, 10)  # one face; one face + mirror (the app's call); five faces + mirror
APP_BATCHES = {2: "1 face (with mirror)", 10: "5 faces (with mirror)"}
TFLITE_RUNTIME = "ai_edge_litert" if importlib.util.find_spec("ai_edge_litert") else "tf.lite"
OUTPUT_TOLERANCE = 1e-3  # max |probability difference| to the eager call that still counts as the same model


def build_inception_resnet(input_size: int = 160):
    """Inception-ResNet-v2 trunk (random weights, average pooling) with heads shaped like ours."""
    import keras
    from keras import layers

    trunk = keras.applications.InceptionResNetV2(
        include_top=False, weights=None, input_shape=(input_size, input_size, 3), pooling="avg"
    )
    inputs = keras.Input((input_size, input_size, 3))
    features = trunk(inputs)
    outputs = {}
    for head, classes in (("age", NUM_AGES), ("gender", len(GENDERS)), ("ethnicity", len(ETHNICITIES))):
        hidden = layers.Dense(128, activation="relu")(features)
        outputs[head] = layers.Dense(classes, activation="softmax", name=head)(hidden)
    return keras.Model(inputs, outputs, name="inception_resnet_v2_160")


def build_demo_cnn(input_size: int = 198, filters: tuple[int, ...] = (16, 32, 64), pools: tuple[int, ...] = (3, 2, 2)):
    """The Flask demo's three-branch CNN as described (filter counts and pool sizes are our reasonable picks)."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3))
    outputs = {}
    for name, units, activation in (("age", 1, "linear"), ("gender", 1, "sigmoid"), ("race", 5, "softmax")):
        x = inputs
        for count, pool in zip(filters, pools, strict=True):
            x = layers.Conv2D(count, 3, padding="same")(x)
            x = layers.Activation("relu")(x)
            x = layers.BatchNormalization()(x)
            x = layers.MaxPooling2D(pool)(x)
            x = layers.Dropout(0.25)(x)
        x = layers.Flatten()(x)
        x = layers.Dense(128, activation="relu")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Dropout(0.5)(x)
        outputs[name] = layers.Dense(units, activation=activation, name=name)(x)
    return keras.Model(inputs, outputs, name="face2data_demo_cnn_198")


def _to_numpy(outputs) -> dict[str, np.ndarray]:
    if isinstance(outputs, dict):
        return {k: np.asarray(v) for k, v in outputs.items()}
    return {str(i): np.asarray(v) for i, v in enumerate(outputs)}


def graph_call(model) -> Callable[[np.ndarray], dict]:
    """``model`` traced into a tf.function (one trace per batch shape); returns NumPy outputs."""
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False))
    return lambda x: _to_numpy(fn(x))


def _graph_runner(model, batch: int) -> Callable[[np.ndarray], dict]:
    """A runtime factory: the batch size does not matter to a traced tf.function."""
    return graph_call(model)


def architecture_section(ours, args, rng: np.random.Generator, tmp: Path) -> dict:
    """Part 1: ms per face at batch 1 and images/s at batch ``args.big_batch`` of the three networks,
    once as traced tf.functions and once as TFLite (how the app runs ours); ratios are within one runtime."""
    print("building the reference networks (random weights) ...", flush=True)
    models = {f"ours (MobileNetV3L, {INPUT_SIZE} px)": ours}
    models["Inception-ResNet-v2 160 px + 3 heads"] = build_inception_resnet()
    models["face2data demo CNN 198 px, 3 branches"] = build_demo_cnn()
    sizes = {name: int(model.inputs[0].shape[1]) for name, model in models.items()}
    runtimes: dict[str, dict[str, Callable[[int], Callable]]] = {"tf.function": {}, "TFLite": {}}
    for i, (name, model) in enumerate(models.items()):
        runtimes["tf.function"][name] = functools.partial(_graph_runner, model)
        print(f"converting {name} to TFLite ...", flush=True)
        model.export(str(tmp / f"arch{i}"), format="tf_saved_model", verbose=False)
        runtimes["TFLite"][name] = tflite_factory(tmp / f"arch{i}", args.threads)
    ours_name = next(iter(models))
    figures: dict = {}
    for runtime, factories in runtimes.items():
        results = {}
        for batch, repeats in ((1, args.repeats), (args.big_batch, args.batch_repeats)):
            inputs = {n: rng.uniform(0, 255, (batch, s, s, 3)).astype(np.float32) for n, s in sizes.items()}
            runs = {name: factory(batch) for name, factory in factories.items()}
            fns = {name: (lambda n=name, runs=runs, inputs=inputs: runs[n](inputs[n])) for name in models}
            results[batch] = common.interleaved(fns, repeats=repeats, warmup=args.warmup)
        rows, figures[runtime] = [], {}
        for name, model in models.items():
            single, big = results[1][name], results[args.big_batch][name]
            params = model.count_params()
            figure = {
                "input": sizes[name],
                "parameters": params,
                "float32_weights_mb": round(params * 4 / 1e6, 1),
                "batch1": common.spread(single),
                f"batch{args.big_batch}": common.spread(big),
                "ms_per_face_batch1": round(common.median(single) * 1000, 2),
                f"images_per_second_batch{args.big_batch}": round(args.big_batch / common.median(big), 1),
                "batch1_time_vs_ours": round(common.paired_ratios(single, results[1][ours_name]), 2),
                f"batch{args.big_batch}_time_vs_ours": round(
                    common.paired_ratios(big, results[args.big_batch][ours_name]), 2
                ),
            }
            figures[runtime][name] = figure
            rows.append(
                [
                    name,
                    f"{params / 1e6:.1f} M ({figure['float32_weights_mb']:.0f} MB)",
                    common.ms(figure["batch1"]["median_s"]),
                    f"{common.ms(figure['batch1']['q1_s'])}–{common.ms(figure['batch1']['q3_s'])}",
                    common.rate(figure[f"images_per_second_batch{args.big_batch}"]),
                    f"{figure['batch1_time_vs_ours']:.2f}×",
                    f"{figure[f'batch{args.big_batch}_time_vs_ours']:.2f}×",
                ]
            )
        headers = [
            f"network ({runtime}, random weights except ours)",
            "parameters (float32 size)",
            "ms/face, batch 1 (median)",
            "batch 1 IQR (ms)",
            f"images/s, batch {args.big_batch}",
            "time vs ours, batch 1",
            f"time vs ours, batch {args.big_batch}",
        ]
        print(f"\n### Architectures as {runtime} ({args.threads} threads; {args.repeats} rounds at batch 1, "
              f"{args.batch_repeats} at batch {args.big_batch}; interleaved)\n")  # fmt: skip
        print(common.markdown_table(headers, rows) + "\n")
    return figures


def _check(name: str, outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> float:
    """Largest absolute difference to the eager outputs, matching heads by their class count."""
    by_width = {v.shape[-1]: v for v in outputs.values()}
    worst = 0.0
    for head, expected in reference.items():
        got = by_width.get(expected.shape[-1])
        if got is None or got.shape != expected.shape:
            raise ValueError(f"{name}: no output shaped like the {head} head {expected.shape}")
        worst = max(worst, float(np.max(np.abs(got - expected))))
    return worst


def tflite_interpreter(flatbuffer: bytes, threads: int | None):
    """A TFLite interpreter: LiteRT's (ai-edge-litert) when installed, else TensorFlow's deprecated tf.lite one."""
    if TFLITE_RUNTIME == "ai_edge_litert":
        from ai_edge_litert.interpreter import Interpreter
    else:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        return Interpreter(model_content=flatbuffer, num_threads=threads or None)


def tflite_factory(saved_model_dir: Path, threads: int | None) -> Callable[[int], Callable]:
    """Convert an exported SavedModel to TFLite float32; returns ``batch -> run(x) -> outputs``."""
    import tensorflow as tf

    flatbuffer = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir)).convert()

    def factory(batch: int):
        interpreter = tflite_interpreter(flatbuffer, threads)
        index = interpreter.get_input_details()[0]["index"]
        size = int(interpreter.get_input_details()[0]["shape"][1])
        interpreter.resize_tensor_input(index, [batch, size, size, 3])
        interpreter.allocate_tensors()
        outputs = [d["index"] for d in interpreter.get_output_details()]

        def run(x):
            interpreter.set_tensor(index, x)
            interpreter.invoke()
            return {str(i): interpreter.get_tensor(o) for i, o in enumerate(outputs)}

        return run

    return factory


def build_runners(model, tmp: Path, threads: int | None) -> tuple[dict[str, Callable], dict[str, str], dict]:
    """Factories ``batch -> callable(x) -> outputs`` per way of running ``model``; unavailable ones with a reason."""
    import tensorflow as tf

    factories: dict[str, Callable] = {}
    unavailable: dict[str, str] = {}
    setup_seconds: dict[str, float] = {}
    factories["model(x, training=False)"] = lambda batch: lambda x: _to_numpy(model(x, training=False))
    if TFLITE_PATH.exists():  # the shipped .tflite through the library's wrapper: exactly what the app calls
        from face2data.tflite_model import TFLiteModel

        app_model = TFLiteModel(TFLITE_PATH.read_bytes(), threads=threads)
        factories["face2data TFLiteModel (the app's call)"] = lambda batch: app_model.predict_on_batch
    factories["model.predict_on_batch(x)"] = lambda batch: lambda x: _to_numpy(model.predict_on_batch(x))
    factories["model.predict(x)"] = lambda batch: lambda x: _to_numpy(model.predict(x, verbose=0))
    plain = tf.function(lambda x: model(x, training=False))
    factories["tf.function"] = lambda batch: lambda x: _to_numpy(plain(x))
    xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
    factories["tf.function(jit_compile=True)"] = lambda batch: lambda x: _to_numpy(xla(x))

    export_dir = tmp / "saved_model"
    start = time.perf_counter()
    try:
        model.export(str(export_dir), format="tf_saved_model", verbose=False)
        loaded = tf.saved_model.load(str(export_dir))
        setup_seconds["exported SavedModel (model.export)"] = time.perf_counter() - start
        factories["exported SavedModel (model.export)"] = lambda batch: lambda x: _to_numpy(loaded.serve(x))
    except Exception as error:  # export support varies between Keras/TF versions
        unavailable["exported SavedModel (model.export)"] = f"{type(error).__name__}: {error}"[:300]
        return factories, unavailable, setup_seconds

    start = time.perf_counter()
    try:
        factories[f"TFLite float32 ({TFLITE_RUNTIME})"] = tflite_factory(export_dir, threads)
        setup_seconds["TFLite"] = time.perf_counter() - start
    except Exception as error:
        unavailable[f"TFLite float32 ({TFLITE_RUNTIME})"] = f"{type(error).__name__}: {error}"[:300]
    return factories, unavailable, setup_seconds


def runner_section(model, args, rng: np.random.Generator, tmp: Path) -> dict:
    """Part 2: our model run every available way, at the batch sizes the app uses."""
    print("preparing the ways to run our model (SavedModel export, TFLite conversion) ...", flush=True)
    factories, unavailable, setup_seconds = build_runners(model, tmp, args.threads)
    figures: dict = {"batches": {}, "unavailable": unavailable, "setup_seconds": setup_seconds}
    for batch in args.runner_batches:
        x = rng.uniform(0, 255, (batch, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
        reference = _to_numpy(model(x, training=False))
        fns, first_call, differences = {}, {}, {}
        for name, factory in factories.items():
            try:
                run = factory(batch)
                start = time.perf_counter()
                outputs = run(x)  # the first call traces / compiles: reported, not part of the medians
                first_call[name] = time.perf_counter() - start
                differences[name] = _check(name, outputs, reference)
            except Exception as error:
                unavailable[f"{name} (batch {batch})"] = f"{type(error).__name__}: {error}"[:300]
                continue
            fns[name] = lambda run=run, x=x: run(x)
        samples = common.interleaved(fns, repeats=args.repeats, warmup=args.warmup)
        figures["batches"][batch] = {
            name: {
                **common.spread(times),
                "ms_per_call": round(common.median(times) * 1000, 2),
                "ms_per_image": round(common.median(times) * 1000 / batch, 2),
                "first_call_s": round(first_call[name], 2),
                "max_abs_difference_to_eager": differences[name],
            }
            for name, times in samples.items()
        }
        fastest = min(samples, key=lambda n: common.median(samples[n]))
        rows = [
            [
                name + (" **(fastest)**" if name == fastest else ""),
                common.ms(common.median(times)),
                f"{common.ms(common.spread(times)['q1_s'])}–{common.ms(common.spread(times)['q3_s'])}",
                common.ms(common.median(times) / batch),
                f"{common.median(times) / common.median(samples[fastest]):.2f}×",
                f"{first_call[name]:.1f}",
                f"{differences[name]:.1e}" + ("" if differences[name] <= OUTPUT_TOLERANCE else " (DIFFERS)"),
            ]
            for name, times in sorted(samples.items(), key=lambda item: common.median(item[1]))
        ]
        label = APP_BATCHES.get(batch, f"{batch} image(s)")
        print(f"\n### Our model, batch {batch}: {label} ({args.repeats} interleaved rounds)\n")
        headers = ["way to run", "ms/call (median)", "IQR (ms)", "ms/image", "vs fastest", "first call (s)",
                   "max |Δp| vs eager"]  # fmt: skip
        print(common.markdown_table(headers, rows) + "\n")
        figures["batches"][batch]["fastest"] = fastest
    for name, reason in unavailable.items():
        print(f"- not measured: {name}: {reason}")
    if setup_seconds:
        print("- one-off preparation: " + ", ".join(f"{k} {v:.1f} s" for k, v in setup_seconds.items()))
    measured = figures["batches"]
    recommendation = {label: measured[batch]["fastest"] for batch, label in APP_BATCHES.items() if batch in measured}
    if recommendation:
        print("- fastest at the app's call sizes: " + "; ".join(f"{k}: {v}" for k, v in recommendation.items()))
    figures["fastest_for_app"] = recommendation
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODEL_PATH, help="our model (.keras)")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra- and inter-op threads (0: default)")
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds at batch 1 and for the runners")
    parser.add_argument("--batch-repeats", type=int, default=8, help="timed rounds at the big batch")
    parser.add_argument("--big-batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per model/runner first")
    parser.add_argument("--runner-batches", type=int, nargs="+", default=list(RUNNER_BATCHES))
    parser.add_argument("--skip-architectures", action="store_true")
    parser.add_argument("--skip-runners", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny repeats and batches: checks the script works")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.batch_repeats, args.warmup, args.big_batch = 2, 1, 1, 4

    common.configure_tensorflow_threads(args.threads)
    from face2data.model_loading import load_trained_model

    info = common.machine_info()
    common.print_header("Model speed", info, args.quick)
    model = load_trained_model(args.model)
    size_mb = args.model.stat().st_size / 1e6
    print(f"our model: {args.model} ({size_mb:.1f} MB file, {model.count_params() / 1e6:.2f} M parameters)")
    rng = np.random.default_rng(args.seed)
    figures: dict = {"threads": args.threads, "model_file_mb": round(size_mb, 1), "parameters": model.count_params()}
    with tempfile.TemporaryDirectory(prefix="face2data_bench_") as tmp:
        if not args.skip_architectures:
            figures["architectures"] = architecture_section(model, args, rng, Path(tmp))
        if not args.skip_runners:
            figures["runners"] = runner_section(model, args, rng, Path(tmp))
    info["load_average_1min_end"] = common.load_average()
    common.print_json("model_speed", info, args.quick, **figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
