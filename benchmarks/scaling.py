"""Scaling: how training step time and decoding time grow with length and batch.

Training: `train_on_batch` time of the `train_throughput` encoder-decoder
(ours and keras-hub's blocks, alternated, float32) for source = target
length L in `--lengths` at batch `--batch-size`, and for batch sizes in
`--batch-sizes` at length `--base-length`.

Decoding: our greedy search on `cpu_small` (random weights, the end token
disabled so every run decodes exactly N tokens), cached (growing caches in
`tf.function`), cached with XLA (fixed-size caches) and uncached (the whole
prefix at every step), for N in `--lengths` new tokens at batch
`--decode-batch-size`, and for batch sizes in `--decode-batch-sizes` at
`--base-length` tokens.

Every point is the median of `--repeats` timed runs after one untimed
warm-up. Writes `benchmarks/results/scaling.json` and a 2 x 2 log-log plot,
`benchmarks/results/scaling.png`.

    python -m benchmarks.scaling            # full run, ~25 min on 2 cores (uncached 512 tokens: 12)
    python -m benchmarks.scaling --quick    # tiny models, seconds
"""

import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import train_throughput as tt  # noqa: E402
from keras_transformer.generation import make_search_fn  # noqa: E402
from keras_transformer.models import Seq2SeqTransformer  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
TRAIN_CANDIDATES = ("ours", "keras_hub")
DECODE_VARIANTS = ("cached", "cached/xla", "uncached")
NEVER = -1  # an end id no token has


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--lengths", type=int, nargs="+", default=None,
                        help="sequence lengths / new tokens (default 64 128 256 512)")
    parser.add_argument("--base-length", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="training batch for the length sweep (default 8)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                        help="training batch sizes (default 8 16 32 64)")
    parser.add_argument("--decode-batch-size", type=int, default=None)
    parser.add_argument("--decode-batch-sizes", type=int, nargs="+", default=None,
                        help="decoding batch sizes (default 1 8 32)")
    parser.add_argument("--train-steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--output", default=str(RESULTS / "scaling.json"))
    parser.add_argument("--plot", default=None,
                        help="PNG path (default: the --output path with .png)")
    args = parser.parse_args(argv)
    quick = dict(lengths=[8, 16], base_length=8, batch_size=2, batch_sizes=[2, 4],
                 decode_batch_size=2, decode_batch_sizes=[1, 2], train_steps=1,
                 repeats=1)
    full = dict(lengths=[64, 128, 256, 512], base_length=64, batch_size=8,
                batch_sizes=[8, 16, 32, 64], decode_batch_size=8,
                decode_batch_sizes=[1, 8, 32], train_steps=3, repeats=3)
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def _median_seconds(run, repeats):
    run()  # warm-up: tracing and compilation
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def training_points(args):
    """[{"sweep", "length", "batch_size", "candidate", "step_seconds",
    "tokens_per_s"}] for both sweeps."""
    base = tt.QUICK_CONFIG if args.quick else tt.ModelConfig()
    settings = [("length", length, args.batch_size) for length in args.lengths]
    settings += [("batch", args.base_length, batch) for batch in args.batch_sizes]
    points = []
    for sweep, length, batch in settings:
        config = dataclasses.replace(base, source_length=length, target_length=length,
                                     batch_size=batch)
        batches = tt.make_batches(config, num_batches=2, seed=0)
        keras.backend.clear_session()
        models = {}
        for candidate in TRAIN_CANDIDATES:
            keras.utils.set_random_seed(0)
            models[candidate] = tt.compile_model(tt.build_model(candidate, config), False)
        for candidate, model in models.items():
            seconds = _median_seconds(
                lambda: tt.train_steps(model, batches, args.train_steps), args.repeats
            ) / args.train_steps
            tokens = statistics.mean(b[3] for b in batches)
            points.append({"sweep": sweep, "length": length, "batch_size": batch,
                           "candidate": candidate, "step_seconds": seconds,
                           "tokens_per_s": tokens / seconds})
            print(f"[train] {sweep:>6} L={length:<4} B={batch:<3} {candidate:<10} "
                  f"{1e3 * seconds:9.1f} ms/step", flush=True)
    return points


def decoding_points(args):
    """[{"sweep", "new_tokens", "batch_size", "variant", "seconds",
    "sentences_per_s"}] for both sweeps."""
    preset, vocabulary = ("cpu_tiny", 100) if args.quick else ("cpu_small", 8000)
    longest = max(args.lengths + [args.base_length])
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = Seq2SeqTransformer.from_preset(
        preset, encoder_vocabulary_size=vocabulary, share_embeddings=True,
        max_sequence_length=longest + 1,
    )
    rng = np.random.default_rng(0)
    settings = [("length", n, args.decode_batch_size) for n in args.lengths]
    settings += [("batch", args.base_length, b) for b in args.decode_batch_sizes]
    points = []
    for sweep, new_tokens, batch in settings:
        source = tf.constant(rng.integers(4, vocabulary, size=(batch, 32 if not args.quick
                                                                else 6)).astype("int32"))
        outputs = {}
        for variant in DECODE_VARIANTS:
            search = make_search_fn(model, new_tokens, start_id=2, end_id=NEVER,
                                    use_cache=variant != "uncached",
                                    jit_compile=variant == "cached/xla")

            def run(search=search, variant=variant):
                outputs[variant] = np.asarray(search(source))

            seconds = _median_seconds(run, args.repeats)
            points.append({"sweep": sweep, "new_tokens": new_tokens, "batch_size": batch,
                           "variant": variant, "seconds": seconds,
                           "sentences_per_s": batch / seconds})
            print(f"[decode] {sweep:>6} N={new_tokens:<4} B={batch:<3} {variant:<11} "
                  f"{seconds:8.3f} s", flush=True)
        for variant in DECODE_VARIANTS[:-1]:
            if not np.array_equal(outputs[variant], outputs["uncached"]):
                raise AssertionError(f"{variant} decoding differs from uncached")
    return points


def plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(10, 8))
    panels = [
        (axes[0][0], report["training"], "length", "length", "candidate", "step_seconds",
         f"training, batch {report['config']['batch_size']}", "source = target length",
         "seconds per step"),
        (axes[0][1], report["training"], "batch", "batch_size", "candidate",
         "step_seconds", f"training, length {report['config']['base_length']}",
         "batch size", "seconds per step"),
        (axes[1][0], report["decoding"], "length", "new_tokens", "variant", "seconds",
         f"greedy decoding, batch {report['config']['decode_batch_size']}",
         "new tokens", "seconds per batch"),
        (axes[1][1], report["decoding"], "batch", "batch_size", "variant", "seconds",
         f"greedy decoding, {report['config']['base_length']} new tokens",
         "batch size", "seconds per batch"),
    ]
    for axis, points, sweep, x_key, line_key, y_key, title, x_label, y_label in panels:
        selected = [p for p in points if p["sweep"] == sweep]
        for line in dict.fromkeys(p[line_key] for p in selected):
            xs = [p[x_key] for p in selected if p[line_key] == line]
            ys = [p[y_key] for p in selected if p[line_key] == line]
            axis.plot(xs, ys, marker="o", label=line)
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel(x_label)
        axis.set_ylabel(y_label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.suptitle("keras_transformer scaling (2 CPU cores, float32)")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main(argv=None):
    args = parse_args(argv)
    report = {
        "benchmark": "scaling",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "command": [sys.executable, "-m", "benchmarks.scaling"] + list(argv or []),
        "machine": tt.machine_description(),
        "config": {k: v for k, v in vars(args).items() if k not in ("output", "plot")},
    }
    try:
        report["training"] = training_points(args)
        report["decoding"] = decoding_points(args)
    finally:
        keras.config.set_dtype_policy("float32")
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    plot_path = pathlib.Path(args.plot) if args.plot else output.with_suffix(".png")
    plot(report, plot_path)
    report["plot"] = str(plot_path)
    print(f"Results written to {output} and {plot_path}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
