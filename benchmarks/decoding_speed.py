"""Decoding speed: cached versus uncached greedy and beam search.

Decodes a batch of source sentences for exactly `--new-tokens` tokens (the
end token is disabled so that every run does the same work) with the
`cpu_small` encoder-decoder, in one process, alternating the candidates:

* greedy and beam search (width 4),
* with the key/value cache (one new token through the decoder per step)
  and without it (the whole prefix again at every step, the reference that
  cached decoding must reproduce),
* compiled with `tf.function`, and with XLA for the cached variants
  (fixed-size caches).

Reports sentences/s (median over `--repeats` rounds) and the speed-up of the
cache. Weights are random: decoding cost does not depend on them once the
length is fixed.

    python -m benchmarks.decoding_speed            # ~3 min on 2 cores
    python -m benchmarks.decoding_speed --quick    # seconds
"""

import argparse
import json
import pathlib
import platform
import statistics
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_transformer.generation import make_search_fn
from keras_transformer.models import Seq2SeqTransformer

NEVER = -1  # an end id no token has, so every run decodes all tokens


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu_small")
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--source-length", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default="benchmarks/results/decoding_speed.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.preset, args.vocabulary_size, args.batch_size = "cpu_tiny", 100, 2
        args.source_length, args.new_tokens, args.repeats = 6, 8, 1
    return args


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(0)
    model = Seq2SeqTransformer.from_preset(
        args.preset, encoder_vocabulary_size=args.vocabulary_size,
        share_embeddings=True,
        max_sequence_length=max(128, args.new_tokens + 1, args.source_length),
    )
    rng = np.random.default_rng(0)
    source = tf.constant(rng.integers(
        4, args.vocabulary_size, size=(args.batch_size, args.source_length)
    ).astype("int32"))

    candidates = {}
    for beam_width in (1, 4):
        search = "greedy" if beam_width == 1 else f"beam{beam_width}"
        for use_cache in (True, False):
            for jit in ((False, True) if use_cache else (False,)):
                name = f"{search}/{'cached' if use_cache else 'uncached'}"
                name += "/xla" if jit else ""
                candidates[name] = make_search_fn(
                    model, args.new_tokens, start_id=2, end_id=NEVER,
                    beam_width=beam_width, use_cache=use_cache, jit_compile=jit,
                )
    outputs = {name: np.asarray(fn(source)) for name, fn in candidates.items()}  # warm-up
    for search in ("greedy", "beam4"):
        reference = outputs[f"{search}/uncached"]
        for name, tokens in outputs.items():
            if name.startswith(search):
                assert np.array_equal(tokens, reference), f"{name} differs from uncached"

    seconds = {name: [] for name in candidates}
    for _ in range(args.repeats):
        for name, fn in candidates.items():
            started = time.perf_counter()
            np.asarray(fn(source))
            seconds[name].append(time.perf_counter() - started)

    results = {}
    for name, runs in seconds.items():
        median = statistics.median(runs)
        results[name] = {"seconds": runs, "median_seconds": median,
                         "sentences_per_second": args.batch_size / median}
    ratios = {}
    for search in ("greedy", "beam4"):
        uncached = results[f"{search}/uncached"]["median_seconds"]
        for variant in ("cached", "cached/xla"):
            ratios[f"{search}: {variant} / uncached"] = (
                uncached / results[f"{search}/{variant}"]["median_seconds"]
            )

    print(f"{args.preset}, batch {args.batch_size}, source length "
          f"{args.source_length}, {args.new_tokens} new tokens, median of "
          f"{args.repeats} (tokens identical across variants: checked)")
    print(f"{'candidate':<24}{'sentences/s':>14}{'seconds':>10}")
    for name, result in results.items():
        print(f"{name:<24}{result['sentences_per_second']:>14.2f}"
              f"{result['median_seconds']:>10.3f}")
    for name, ratio in ratios.items():
        print(f"speed-up {name}: {ratio:.1f}x")

    report = {
        "benchmark": "decoding_speed",
        "command": [sys.executable, "-m", "benchmarks.decoding_speed"] + list(argv or []),
        "machine": {"platform": platform.platform(), "tensorflow": tf.__version__,
                    "keras": keras.__version__},
        "config": vars(args),
        "results": results,
        "speedups": ratios,
    }
    path = pathlib.Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
