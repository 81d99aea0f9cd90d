"""Serving latency: Keras vs SavedModel vs ONNX Runtime, and server throughput.

In one process, on the same exported model and the same inputs, times

* the forward pass (encoder-decoder logits, teacher-forced): the Keras
  model's call, the SavedModel's `logits` signature, `forward.onnx` in
  onnxruntime;
* a full translation, text in and text out, greedy and beam search: the
  package's `Translator` (Python tokenization, `tf.function` search over the
  Keras model), the SavedModel's `translate_greedy` / `translate`
  signatures (everything in the graph), and the ONNX runtime of the server
  (Python tokenization, NumPy search over onnxruntime sessions);

at batch 1 and 32, candidates alternated call by call, p50 and p99 over
`--repeats` calls after untimed warm-up calls. Then it starts the real
server (`keras-transformer serve`, one process per runtime) and drives it
with the bounded loopback load script (`export/load_test.py`) for requests/s
and latency under concurrency.

The model is `--preset` (default cpu_small) with **random weights** (no
training): every runtime is verified to produce the same tokens, so the
comparison is fair, but random weights rarely emit the end token, so
translations run to `--max-output-length` tokens; the JSON records how many
tokens were generated. Results go to `benchmarks/results/serving_latency.json`.

    python -m benchmarks.serving_latency            # full run, ~7 min on 2 cores
    python -m benchmarks.serving_latency --quick    # smoke test, about a minute
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_transformer  # noqa: E402
from export import load_test  # noqa: E402
from keras_transformer.data import SubwordTokenizer  # noqa: E402
from keras_transformer.data import encode_for_translation  # noqa: E402
from keras_transformer.data import load_translation  # noqa: E402
from keras_transformer.export import export_translation  # noqa: E402
from keras_transformer.export import make_demo_translator  # noqa: E402
from keras_transformer.serving import OnnxRuntime  # noqa: E402
from keras_transformer.serving import ServerProcess  # noqa: E402
from keras_transformer.translation import Translator  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "serving_latency.json"
RUNTIMES = ("keras", "savedmodel", "onnx")
BATCH_SIZES = (1, 32)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="cpu_tiny, short outputs, few repeats: a smoke test")
    parser.add_argument("--preset", default=None, help="default: cpu_small (quick: cpu_tiny)")
    parser.add_argument("--vocabulary-size", type=int, default=None,
                        help="default: 2000 (quick: 400)")
    parser.add_argument("--max-output-length", type=int, default=None,
                        help="tokens generated per sentence at most (default 24, quick 6)")
    parser.add_argument("--beam-width", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per measurement (default 30 forward / 10 "
                             "translation; quick 3)")
    parser.add_argument("--server-requests", type=int, default=None,
                        help="load-test requests per runtime (default 200, quick 12)")
    parser.add_argument("--server-concurrency", type=int, default=8)
    parser.add_argument("--server-max-duration", type=float, default=90.0)
    parser.add_argument("--onnx-threads", type=int, default=0,
                        help="onnxruntime intra-op threads (0: one per core)")
    parser.add_argument("--work-dir", default=None,
                        help="where the model and export go (default: a temporary folder)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    args = parser.parse_args(argv)
    quick = args.quick
    args.preset = args.preset or ("cpu_tiny" if quick else "cpu_small")
    args.vocabulary_size = args.vocabulary_size or (400 if quick else 2000)
    args.max_output_length = args.max_output_length or (6 if quick else 24)
    args.server_requests = args.server_requests or (12 if quick else 200)
    args.forward_repeats = args.repeats or (3 if quick else 30)
    args.translate_repeats = args.repeats or (3 if quick else 10)
    if quick:
        args.server_concurrency = min(args.server_concurrency, 4)
    return args


def summarize(seconds):
    milliseconds = sorted(1000.0 * s for s in seconds)
    return {
        "p50_ms": load_test.percentile(milliseconds, 0.50),
        "p99_ms": load_test.percentile(milliseconds, 0.99),
        "mean_ms": statistics.fmean(milliseconds),
        "runs": len(milliseconds),
    }


def time_alternating(candidates, repeats, warmup=2):
    """Times `{name: fn}` alternately: warm-up calls, then `repeats` rounds
    of one call each. Returns {name: [seconds, ...]}."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return times


def benchmark_sentences(tokenizer, max_length, count, data_dir):
    """`count` test-split pairs whose source and target fit `max_length`."""
    pairs, _ = load_translation("bible_en_es", "test", data_dir=data_dir)
    sources, targets = [], []
    for source, target in pairs.as_numpy_iterator():
        source, target = source.decode(), target.decode()
        lengths = [len(ids) + 1 for ids in tokenizer.encode([source, target])]
        if max(lengths) <= max_length:
            sources.append(source)
            targets.append(target)
        if len(sources) == count:
            return sources, targets
    raise ValueError(f"Only {len(sources)} test pairs fit max_length={max_length}.")


def decoder_inputs(targets, tokenizer, max_length):
    """(B, T) teacher-forcing decoder ids: start id + target ids."""
    rows = [[tokenizer.start_id] + ids for ids in tokenizer.encode(targets)]
    ids = np.zeros((len(rows), min(max_length, max(map(len, rows)))), np.int32)
    for i, row in enumerate(rows):
        row = row[: ids.shape[1]]
        ids[i, : len(row)] = row
    return ids


def generated_tokens(output_ids, end_id):
    """Mean tokens per row up to and including the end id."""
    counts = []
    for row in np.asarray(output_ids):
        ends = np.flatnonzero(row == end_id)
        counts.append(int(ends[0]) + 1 if ends.size else len(row))
    return statistics.fmean(counts)


def machine_description():
    return {
        "cpu_model": _cpu_model(),
        "logical_cpus_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "keras_transformer": keras_transformer.__version__,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }


def _cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    temporary = None
    if args.work_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="serving_latency_")
        work_dir = pathlib.Path(temporary.name)
    else:
        work_dir = pathlib.Path(args.work_dir)
    try:
        report = _run(args, work_dir)
    finally:
        if temporary is not None:
            temporary.cleanup()
    report["total_seconds"] = time.perf_counter() - started
    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(format_table(report))
    print(f"\n[done] in {report['total_seconds']:.0f} s; JSON in {output}")
    return report


def _run(args, work_dir):
    data_dir = work_dir / "tfds"
    # === Model and export ===
    print(f"[model] {args.preset}, random weights, vocabulary {args.vocabulary_size}")
    model_path, tokenizer_dir = make_demo_translator(
        work_dir / "training", preset=args.preset, num_pairs=3000,
        vocabulary_size=args.vocabulary_size,
        max_sequence_length=keras_transformer.models.SEQ2SEQ_PRESETS[args.preset][
            "max_sequence_length"],
        data_dir=data_dir,
    )
    export_started = time.perf_counter()
    manifest = export_translation(
        model_path, tokenizer_dir, work_dir / "exports", name="bench", version=1,
        max_output_length=args.max_output_length, beam_width=args.beam_width,
        overwrite=True,
    )
    export_seconds = time.perf_counter() - export_started
    print(f"[export] verified SavedModel + ONNX in {export_seconds:.0f} s")
    path = pathlib.Path(manifest["path"])
    model = keras.saving.load_model(model_path, compile=False)
    tokenizer = SubwordTokenizer.load(tokenizer_dir)
    loaded = tf.saved_model.load(str(path))
    onnx_runtime = OnnxRuntime(path, manifest, tokenizer,
                               intra_op_num_threads=args.onnx_threads)

    sources, targets = benchmark_sentences(
        tokenizer, model.max_sequence_length, max(BATCH_SIZES), data_dir
    )
    translators = {
        width: Translator(model, tokenizer, beam_width=width, alpha=0.6,
                          max_output_length=args.max_output_length,
                          batch_size=max(BATCH_SIZES))
        for width in (1, args.beam_width)
    }

    # === In-process latency ===
    results = []
    for batch_size in BATCH_SIZES:
        texts = sources[:batch_size]
        encoder_ids = encode_for_translation(texts, tokenizer, model.max_sequence_length)
        decoder_ids = decoder_inputs(targets[:batch_size], tokenizer, model.max_sequence_length)
        inputs = {"encoder_token_ids": encoder_ids, "decoder_token_ids": decoder_ids}
        logits_signature = loaded.signatures["logits"]
        forward = {
            "keras": lambda: model(inputs, training=False),
            "savedmodel": lambda: logits_signature(**inputs),
            "onnx": lambda: onnx_runtime.model.logits(encoder_ids, decoder_ids),
        }
        times = time_alternating(forward, args.forward_repeats)
        results.append({
            "task": "forward", "batch_size": batch_size,
            "shape": [batch_size, int(encoder_ids.shape[1]), int(decoder_ids.shape[1])],
            "runtimes": {name: summarize(t) for name, t in times.items()},
        })
        _print_progress(results[-1])
        text_tensor = tf.constant(texts)
        text_array = np.array(texts, dtype=object)
        for task, width, signature in (("translate_greedy", 1, "translate_greedy"),
                                       ("translate_beam", args.beam_width, "translate")):
            translator, function = translators[width], loaded.signatures[signature]
            candidates = {
                "keras": lambda: translator.translate(texts),
                "savedmodel": lambda: function(text=text_tensor),
                "onnx": lambda: onnx_runtime.run(signature, {"text": text_array}),
            }
            times = time_alternating(candidates, args.translate_repeats, warmup=1)
            output_ids = translator.translate_ids(translator.encode(texts))
            results.append({
                "task": task, "batch_size": batch_size, "beam_width": width,
                "source_tokens_mean": float(np.mean((encoder_ids != 0).sum(1))),
                "generated_tokens_mean": generated_tokens(output_ids, tokenizer.end_id),
                "runtimes": {name: summarize(t) for name, t in times.items()},
            })
            _print_progress(results[-1])
    for result in results:
        p50 = {name: r["p50_ms"] for name, r in result["runtimes"].items()}
        result["speedup_onnx_over_keras"] = p50["keras"] / p50["onnx"]
        result["speedup_onnx_over_savedmodel"] = p50["savedmodel"] / p50["onnx"]
        result["speedup_savedmodel_over_keras"] = p50["keras"] / p50["savedmodel"]

    # === The real server ===
    server = {}
    for runtime in ("savedmodel", "onnx"):
        log = work_dir / f"server_{runtime}.log"
        extra = ["--intra-op-threads", str(args.onnx_threads)]
        with ServerProcess(path.parent, runtime, log, extra_args=extra, cwd=ROOT) as process:
            for name, signature in (("translate_greedy", "translate_greedy"),
                                    ("translate_beam", "translate")):
                # Untimed warm-up requests first.
                load_test.run_load(process.url, "bench", requests=4, concurrency=2,
                                   signature_name=signature)
                report = load_test.run_load(
                    process.url, "bench", requests=args.server_requests,
                    concurrency=args.server_concurrency,
                    max_duration_s=args.server_max_duration, signature_name=signature,
                )
                server.setdefault(runtime, {})[name] = report
                print(f"[server] {runtime} {name}: {report['requests_per_s']:.1f} "
                      f"requests/s, p50 {report.get('latency_p50_ms', float('nan')):.0f} ms, "
                      f"p99 {report.get('latency_p99_ms', float('nan')):.0f} ms, "
                      f"{report['requests_failed']} failed")

    return {
        "benchmark": "serving_latency",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "machine": machine_description(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "config": {
            "quick": args.quick,
            "preset": args.preset,
            "weights": "random (untrained): outputs are meaningless but identical "
                       "across runtimes; decoding usually runs to max_output_length",
            "parameters": model.count_params(),
            "vocabulary_size": tokenizer.vocabulary_size,
            "max_output_length": args.max_output_length,
            "beam_width": args.beam_width,
            "forward_repeats": args.forward_repeats,
            "translate_repeats": args.translate_repeats,
            "server_requests": args.server_requests,
            "server_concurrency": args.server_concurrency,
            "server_max_duration_s": args.server_max_duration,
            "server_request": "one sentence per request (load_test default texts)",
            "onnx_opset": manifest["onnx"]["opset"],
            "onnx_intra_op_threads": args.onnx_threads,
            "export_seconds": export_seconds,
        },
        "results": results,
        "server": server,
    }


def _print_progress(result):
    cells = ", ".join(f"{name} {r['p50_ms']:.1f} ms" for name, r in result["runtimes"].items())
    print(f"[{result['task']} batch {result['batch_size']}] p50: {cells}")


def format_table(report):
    lines = [
        "",
        f"{'task':<18} {'batch':>5} | {'Keras p50/p99 ms':>18} | "
        f"{'SavedModel p50/p99':>18} | {'ONNX RT p50/p99':>18} | "
        f"{'Keras/ORT':>9} {'SM/ORT':>7}",
    ]
    lines.append("-" * len(lines[1]))
    for result in report["results"]:
        cells = [
            f"{result['runtimes'][name]['p50_ms']:8.1f}/{result['runtimes'][name]['p99_ms']:<9.1f}"
            for name in RUNTIMES
        ]
        lines.append(
            f"{result['task']:<18} {result['batch_size']:>5} | {cells[0]:>18} | "
            f"{cells[1]:>18} | {cells[2]:>18} | "
            f"{result['speedup_onnx_over_keras']:8.2f}x "
            f"{result['speedup_onnx_over_savedmodel']:6.2f}x"
        )
    lines += ["", f"{'server':<12} {'signature':<18} {'requests/s':>10} "
                  f"{'p50 ms':>8} {'p99 ms':>8} {'ok/sent':>9}"]
    for runtime, reports in report["server"].items():
        for name, r in reports.items():
            lines.append(
                f"{runtime:<12} {name:<18} {r['requests_per_s']:10.2f} "
                f"{r.get('latency_p50_ms', float('nan')):8.1f} "
                f"{r.get('latency_p99_ms', float('nan')):8.1f} "
                f"{r['requests_ok']:>4}/{r['requests_completed']:<4}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1:])
