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
import keras_hub
import numpy as np
import tensorflow as tf

from keras_transformer.generation import make_search_fn
from keras_transformer.models import Seq2SeqTransformer

NEVER = -1  # an end id no token has, so every run decodes all tokens
START_ID = 2


def keras_hub_search_fn(model, new_tokens, beam_width, jit_compile):
    """Our model's cached decoder step driven by a keras-hub sampler.

    `keras_hub.samplers.GreedySampler` / `BeamSampler` own the loop, the
    token buffer and (for beams) the reordering of every cache tensor; the
    model's step is the one our searches use, over fixed-size caches, so the
    two differ only in the search. Returns a `tf.function` from (B, S)
    source ids to (B, new_tokens) ids.
    """
    sampler = (keras_hub.samplers.GreedySampler() if beam_width == 1
               else keras_hub.samplers.BeamSampler(num_beams=beam_width))

    def search(source):
        encoder_output, encoder_mask = model.encode(source)
        batch_size = tf.shape(source)[0]
        prompt = tf.concat([tf.fill([batch_size, 1], START_ID),
                            tf.zeros([batch_size, new_tokens], tf.int32)], axis=1)
        # The sampler repeats every cache tensor over the beams: the encoder
        # mask travels in the cache so that it is repeated too.
        cache = (model.initial_cache(encoder_output, new_tokens + 1), encoder_mask)

        def next(prompt, cache, index):
            layer_caches, mask = cache
            current = tf.gather(prompt, tf.reshape(index - 1, [1]), axis=1)
            logits, layer_caches = model.decode_step(
                current, None, mask, layer_caches, index - 1, fixed_size_cache=True)
            return tf.cast(logits[:, -1], tf.float32), None, (layer_caches, mask)

        # The start token is the prompt: the sampler keeps it.
        is_prompt = tf.tile(tf.equal(tf.range(new_tokens + 1), 0)[None], [batch_size, 1])
        tokens = sampler(next, prompt, cache=cache, index=1, mask=is_prompt)
        return tokens[:, 1:]

    return tf.function(search, jit_compile=jit_compile,
                       input_signature=[tf.TensorSpec([None, None], tf.int32)])


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
                    model, args.new_tokens, start_id=START_ID, end_id=NEVER,
                    beam_width=beam_width, use_cache=use_cache, jit_compile=jit,
                )
        for jit in (False, True):
            name = f"{search}/keras_hub_sampler" + ("/xla" if jit else "")
            candidates[name] = keras_hub_search_fn(model, args.new_tokens, beam_width, jit)
    outputs = {name: np.asarray(fn(source)) for name, fn in candidates.items()}  # warm-up
    # Our variants must give exactly the tokens of uncached decoding; the
    # keras-hub samplers are compared and the result recorded (keras-hub's
    # beam search scores log(softmax) in float32, a different rounding).
    same_tokens = {}
    for search in ("greedy", "beam4"):
        reference = outputs[f"{search}/uncached"]
        for name, tokens in outputs.items():
            if name.startswith(search):
                same_tokens[name] = bool(np.array_equal(tokens, reference))
                if "keras_hub" not in name:
                    assert same_tokens[name], f"{name} differs from uncached"

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
    for name, result in results.items():
        result["tokens_equal_uncached"] = same_tokens[name]
    ratios = {}
    for search in ("greedy", "beam4"):
        uncached = results[f"{search}/uncached"]["median_seconds"]
        for variant in ("cached", "cached/xla"):
            ratios[f"{search}: {variant} / uncached"] = (
                uncached / results[f"{search}/{variant}"]["median_seconds"]
            )
        for suffix in ("", "/xla"):
            ours = results[f"{search}/cached{suffix}"]["median_seconds"]
            hub = results[f"{search}/keras_hub_sampler{suffix}"]["median_seconds"]
            ratios[f"{search}: cached{suffix} / keras_hub_sampler{suffix}"] = hub / ours

    print(f"{args.preset}, batch {args.batch_size}, source length "
          f"{args.source_length}, {args.new_tokens} new tokens, median of "
          f"{args.repeats} (tokens identical across variants: checked)")
    print(f"{'candidate':<32}{'sentences/s':>14}{'seconds':>10}  same tokens as uncached")
    for name, result in results.items():
        print(f"{name:<32}{result['sentences_per_second']:>14.2f}"
              f"{result['median_seconds']:>10.3f}  {result['tokens_equal_uncached']}")
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
