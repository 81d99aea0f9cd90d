"""Training throughput of our Transformer blocks versus the peers'.

Trains the same encoder-decoder three times, built from
`keras_transformer.layers.TransformerEncoderBlock` / `TransformerDecoderBlock`
("ours"), from `keras_hub.layers.TransformerEncoder` / `TransformerDecoder`
("keras_hub"), and from `keras.layers.MultiHeadAttention` blocks as in the
TensorFlow tutorial ("tf_tutorial"). Everything but the blocks is shared
code: token embedding (`keras.layers.Embedding(mask_zero=True)`) plus a
learned position table, the vocabulary projection, the loss (sparse
categorical cross-entropy on logits, padding weighted out), Adam, and the
synthetic, padded data.

The candidates are timed in the same process and alternated (ours,
keras_hub, tf_tutorial, ours, ...) for `--repeats` rounds, so that slow
drifts of the machine (thermal, other processes) hit all alike. Reported:
the median tokens/s of each, the ratio of the medians and, more robust when
the load changes between rounds, the median of the per-round ratios.
Warm-up steps (which include tracing and compilation) are never timed.

Usage:

    python -m benchmarks.train_throughput                 # full run
    python -m benchmarks.train_throughput --quick         # smoke test, < 1 min
    python -m benchmarks.train_throughput --jit-compile both --repeats 5

Results go to `benchmarks/results/train_throughput.json` (or `--output`).
"""

import argparse
import dataclasses
import datetime
import gc
import inspect
import json
import os
import pathlib
import platform
import statistics
import sys
import time

# The benchmark compares TensorFlow-backend implementations.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

import keras_transformer  # noqa: E402
from keras_transformer import layers as kt_layers  # noqa: E402

CANDIDATES = ("ours", "keras_hub", "tf_tutorial")
PEERS = CANDIDATES[1:]
PRECISIONS = ("float32", "mixed_bfloat16")
DEFAULT_OUTPUT = (
    pathlib.Path(__file__).resolve().parent / "results" / "train_throughput.json"
)

# Token ids: 0 is padding (masked by `mask_zero=True`), 1 starts every decoder
# input; real tokens are drawn from [2, vocabulary_size).
PAD_ID = 0
START_ID = 1


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The benchmarked encoder-decoder; defaults are the full benchmark."""

    encoder_layers: int = 4
    decoder_layers: int = 4
    hidden_dim: int = 256
    num_heads: int = 8
    intermediate_dim: int = 1024
    source_length: int = 64
    target_length: int = 64
    vocabulary_size: int = 8000
    batch_size: int = 32
    dropout: float = 0.1
    activation: str = "relu"
    layer_norm_epsilon: float = 1e-5


# Small enough that building, tracing and a few steps of both candidates take
# seconds: used by `--quick` and the test suite.
QUICK_CONFIG = ModelConfig(
    encoder_layers=1,
    decoder_layers=1,
    hidden_dim=32,
    num_heads=2,
    intermediate_dim=64,
    source_length=16,
    target_length=16,
    vocabulary_size=128,
    batch_size=4,
)


# --------------------------------------------------------------------------
# Machine description and peak FLOP/s.
# --------------------------------------------------------------------------


def _read_text(path):
    try:
        return pathlib.Path(path).read_text()
    except OSError:
        return None


def _cpuinfo_field(name):
    """Returns the first value of `name` in /proc/cpuinfo, or `None`."""
    text = _read_text("/proc/cpuinfo") or ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def cpu_clock_hz():
    """Returns `(clock_hz, source)`: the clock used for the peak estimate.

    Prefers the nominal maximum from cpufreq (`cpuinfo_max_freq`, in kHz);
    virtual machines often have no cpufreq, and then the current
    "cpu MHz" of /proc/cpuinfo (which, in a VM, is usually the host's base
    clock) is used. Turbo clocks are not counted either way.
    """
    max_freq = _read_text("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if max_freq and max_freq.strip().isdigit():
        return (
            int(max_freq.strip()) * 1e3,
            "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
        )
    mhz = _cpuinfo_field("cpu MHz")
    if mhz:
        return float(mhz) * 1e6, '/proc/cpuinfo "cpu MHz"'
    return None, "unknown"


def cpu_core_count():
    """Returns the number of CPUs this process may run on (its affinity set)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def fp32_flops_per_cycle(flags):
    """Returns `(flops_per_cycle_per_core, isa, assumption)` from CPU flags.

    Peak float32 FLOPs per cycle per core = FMA units x float32 lanes x 2
    (an FMA is a multiply and an add). Assumes two FMA units per core, true
    of most server cores (some AVX-512 parts fuse or lack the second 512-bit
    unit, which halves their real peak).
    """
    if "avx512f" in flags:
        return 64, "avx512f", "2 FMA units x 16 fp32 lanes (512-bit) x 2"
    if "avx2" in flags and "fma" in flags:
        return 32, "avx2+fma", "2 FMA units x 8 fp32 lanes (256-bit) x 2"
    return 16, "sse/avx", "assumed 16 (no FMA: 2 units x 4 lanes x 2 ops)"


def cpu_peak(cores=None):
    """Returns a dict with the float32 peak FLOP/s and how it was computed.

    `peak = cores x clock x FLOPs per cycle per core`. `cores` counts logical
    CPUs in the affinity set: on a machine with SMT (or a VM whose vCPUs are
    hyper-threads) two logical CPUs share one core's FMA units, so the peak
    is then overstated.
    """
    cores = cpu_core_count() if cores is None else cores
    clock_hz, clock_source = cpu_clock_hz()
    flags = set((_cpuinfo_field("flags") or "").split())
    per_cycle, isa, assumption = fp32_flops_per_cycle(flags)
    peak = cores * clock_hz * per_cycle if clock_hz else None
    return {
        "flops_per_s": peak,
        "cores": cores,
        "cores_source": (
            "len(os.sched_getaffinity(0))"
            if hasattr(os, "sched_getaffinity")
            else "os.cpu_count()"
        ),
        "clock_hz": clock_hz,
        "clock_source": clock_source,
        "flops_per_cycle_per_core": per_cycle,
        "vector_isa": isa,
        "flops_per_cycle_assumption": assumption,
        "formula": "cores x clock_hz x flops_per_cycle_per_core",
        "note": (
            "float32 peak; mixed_bfloat16 MFU is also relative to it (bf16 "
            "units such as AMX have a far higher peak)."
        ),
    }


def machine_description():
    """Returns what is needed to compare these numbers with another run."""
    flags = set((_cpuinfo_field("flags") or "").split())
    return {
        "cpu_model": _cpuinfo_field("model name") or platform.processor(),
        "logical_cpus_available": cpu_core_count(),
        "os_cpu_count": os.cpu_count(),
        "cpu_flags_of_interest": sorted(
            flags
            & {"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
        ),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_hub": keras_hub.__version__,
        "keras_transformer": keras_transformer.__version__,
        "numpy": np.__version__,
        # Read by TensorFlow at import: "0" turns oneDNN graph rewrites off.
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def load_average():
    """Returns the 1, 5 and 15 minute load averages, or `None`.

    Other processes competing for the cores slow both candidates (the
    alternation keeps the ratio fair) but lower the absolute numbers and MFU;
    the load says whether that happened.
    """
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


# --------------------------------------------------------------------------
# Model FLOPs.
# --------------------------------------------------------------------------


def training_flops_per_step(config):
    """Returns the analytic model FLOPs of one training step.

    A (m x k) by (k x n) matmul costs 2 m k n FLOPs. With batch B, source
    length S, target length T, hidden size D, feed-forward size F and
    vocabulary V, one forward pass costs:

    * encoder layer: 8 B S D^2 (Q, K, V and output projections)
      + 4 B S^2 D (Q K^T and attention x V) + 4 B S D F (feed-forward);
    * decoder layer: 8 B T D^2 + 4 B T^2 D (causal self-attention, computed
      in full: the masked half is still multiplied)
      + 4 B T D^2 + 4 B S D^2 + 4 B T S D (cross-attention: Q and output
      projections on T positions, K and V on S, then Q K^T and x V)
      + 4 B T D F (feed-forward);
    * output logits: 2 B T D V.

    Training = 3 x forward (the backward pass costs two matmuls per forward
    matmul: gradients of the inputs and of the weights). Embedding lookups,
    softmax, layer norms, biases and dropout are not matmuls and are left out.
    Padded positions are counted, since every position is computed.
    """
    b, s, t = config.batch_size, config.source_length, config.target_length
    d, f, v = config.hidden_dim, config.intermediate_dim, config.vocabulary_size
    encoder_layer = 8 * b * s * d * d + 4 * b * s * s * d + 4 * b * s * d * f
    decoder_layer = (
        8 * b * t * d * d
        + 4 * b * t * t * d
        + 4 * b * t * d * d
        + 4 * b * s * d * d
        + 4 * b * t * s * d
        + 4 * b * t * d * f
    )
    logits = 2 * b * t * d * v
    forward = (
        config.encoder_layers * encoder_layer
        + config.decoder_layers * decoder_layer
        + logits
    )
    return 3 * forward


# --------------------------------------------------------------------------
# Data.
# --------------------------------------------------------------------------


def make_batches(config, num_batches, seed):
    """Returns `num_batches` padded batches of random tokens.

    Each example has a random real length in [L // 2, L] followed by padding
    (id 0), so both encoder and decoder padding masks matter. The decoder
    input is the label sequence shifted right behind a start token (teacher
    forcing), so inputs and labels are padded at the same positions.

    Returns:
        A list of `(inputs, labels, sample_weight, real_target_tokens)`, where
        `inputs` is a dict with "encoder_ids" (B, S) and "decoder_ids" (B, T),
        `labels` is (B, T), `sample_weight` is 1.0 on real target tokens and
        0.0 on padding.
    """
    rng = np.random.default_rng(seed)
    b, s, t, v = (
        config.batch_size,
        config.source_length,
        config.target_length,
        config.vocabulary_size,
    )

    def padded_tokens(length):
        tokens = rng.integers(START_ID + 1, v, size=(b, length), dtype="int32")
        real_lengths = rng.integers(length // 2, length + 1, size=(b, 1))
        return np.where(np.arange(length) < real_lengths, tokens, PAD_ID).astype(
            "int32"
        )

    batches = []
    for _ in range(num_batches):
        encoder_ids = padded_tokens(s)
        labels = padded_tokens(t)
        decoder_ids = np.concatenate(
            [np.full((b, 1), START_ID, "int32"), labels[:, :-1]], axis=1
        )
        real = labels != PAD_ID
        # Keep the decoder's padding exactly where the labels' is.
        decoder_ids = np.where(real, decoder_ids, PAD_ID).astype("int32")
        inputs = {"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}
        batches.append((inputs, labels, real.astype("float32"), int(real.sum())))
    return batches


# --------------------------------------------------------------------------
# Models.
# --------------------------------------------------------------------------


class LearnedPositions(keras.layers.Layer):
    """Adds a learned (L, D) position table to (B, T, D) embeddings.

    Shared by both candidates (instead of either library's position layer) so
    that only the Transformer blocks differ. Passes the Keras padding mask of
    its input through unchanged.
    """

    def __init__(self, sequence_length, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.supports_masking = True

    def build(self, inputs_shape):
        self.table = self.add_weight(
            name="table",
            shape=(self.sequence_length, inputs_shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        table = ops.slice(self.table, (0, 0), (length, self.table.shape[1]))
        return inputs + ops.cast(table, inputs.dtype)[None]


def _embed(ids, config, length, name):
    embedded = keras.layers.Embedding(
        config.vocabulary_size,
        config.hidden_dim,
        mask_zero=True,
        name=f"{name}_token_embedding",
    )(ids)
    return LearnedPositions(length, name=f"{name}_position_embedding")(embedded)


def _our_blocks(config):
    """Returns `(encoder_blocks, decoder_blocks)` from keras_transformer."""
    # keras-hub uses one rate for attention weights and sub-block outputs and
    # no dropout inside the feed-forward network; match it exactly.
    kwargs = dict(
        num_heads=config.num_heads,
        intermediate_dim=config.intermediate_dim,
        dropout=config.dropout,
        attention_dropout=config.dropout,
        feed_forward_dropout=0.0,
        activation=config.activation,
        layer_norm_epsilon=config.layer_norm_epsilon,
        norm_first=False,
    )
    encoders = [
        kt_layers.TransformerEncoderBlock(**kwargs, name=f"encoder_{i}")
        for i in range(config.encoder_layers)
    ]
    decoders = [
        kt_layers.TransformerDecoderBlock(**kwargs, name=f"decoder_{i}")
        for i in range(config.decoder_layers)
    ]
    return encoders, decoders


def _keras_hub_blocks(config):
    """Returns `(encoder_blocks, decoder_blocks)` from keras-hub."""
    kwargs = dict(
        intermediate_dim=config.intermediate_dim,
        num_heads=config.num_heads,
        dropout=config.dropout,
        activation=config.activation,
        layer_norm_epsilon=config.layer_norm_epsilon,
        normalize_first=False,
    )
    encoders = [
        keras_hub.layers.TransformerEncoder(**kwargs, name=f"encoder_{i}")
        for i in range(config.encoder_layers)
    ]
    decoders = [
        keras_hub.layers.TransformerDecoder(**kwargs, name=f"decoder_{i}")
        for i in range(config.decoder_layers)
    ]
    return encoders, decoders


# The TensorFlow tutorial's blocks ("Neural machine translation with a
# Transformer and Keras", tensorflow/text docs/tutorials/transformer.ipynb),
# ported to Keras 3 as written there: `keras.layers.MultiHeadAttention` in a
# `BaseAttention` with Add + LayerNormalization, a `FeedForward` of
# Dense-ReLU, Dense, Dropout. Two changes, both for a like-for-like
# comparison: `key_dim` is D / N (the tutorial's `key_dim=d_model` gives
# every head D dimensions, N times the parameters), and the cross-attention
# does not keep its scores on `self` (which forces the scores path of
# Keras's attention). Masks reach `keras.layers.MultiHeadAttention` through
# Keras masking, as in the tutorial; `supports_masking` makes the wrappers
# pass them on in Keras 3.


class TutorialAttention(keras.layers.Layer):
    def __init__(self, config, causal=False, name=None):
        super().__init__(name=name)
        self.causal = causal
        self.mha = keras.layers.MultiHeadAttention(
            num_heads=config.num_heads,
            key_dim=config.hidden_dim // config.num_heads,
            dropout=config.dropout,
        )
        self.layernorm = keras.layers.LayerNormalization(
            epsilon=config.layer_norm_epsilon
        )
        self.add = keras.layers.Add()
        self.supports_masking = True

    def call(self, x, context=None):
        context = x if context is None else context
        attention = self.mha(query=x, value=context, key=context,
                             use_causal_mask=self.causal)
        return self.layernorm(self.add([x, attention]))


class TutorialFeedForward(keras.layers.Layer):
    def __init__(self, config, name=None):
        super().__init__(name=name)
        self.seq = keras.Sequential([
            keras.layers.Dense(config.intermediate_dim, activation=config.activation),
            keras.layers.Dense(config.hidden_dim),
            keras.layers.Dropout(config.dropout),
        ])
        self.add = keras.layers.Add()
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=config.layer_norm_epsilon
        )
        self.supports_masking = True

    def call(self, x):
        return self.layer_norm(self.add([x, self.seq(x)]))


class TutorialEncoderLayer(keras.layers.Layer):
    def __init__(self, config, name=None):
        super().__init__(name=name)
        self.self_attention = TutorialAttention(config)
        self.ffn = TutorialFeedForward(config)
        self.supports_masking = True

    def call(self, x):
        return self.ffn(self.self_attention(x))


class TutorialDecoderLayer(keras.layers.Layer):
    def __init__(self, config, name=None):
        super().__init__(name=name)
        self.causal_self_attention = TutorialAttention(config, causal=True)
        self.cross_attention = TutorialAttention(config)
        self.ffn = TutorialFeedForward(config)
        self.supports_masking = True

    def call(self, x, context):
        x = self.causal_self_attention(x)
        x = self.cross_attention(x, context)
        return self.ffn(x)


def _tf_tutorial_blocks(config):
    """Returns `(encoder_blocks, decoder_blocks)` as in the TF tutorial."""
    encoders = [TutorialEncoderLayer(config, name=f"encoder_{i}")
                for i in range(config.encoder_layers)]
    decoders = [TutorialDecoderLayer(config, name=f"decoder_{i}")
                for i in range(config.decoder_layers)]
    return encoders, decoders


def build_model(candidate, config):
    """Returns the uncompiled encoder-decoder built from `candidate`'s blocks.

    Inputs: {"encoder_ids": (B, S), "decoder_ids": (B, T)} int32 with 0 as
    padding (any length up to S and T); output: (B, T, V) float32 logits.
    Padding masks reach the blocks through Keras masking, which both
    libraries read. Built under the current global dtype policy.
    """
    blocks = {
        "ours": _our_blocks,
        "keras_hub": _keras_hub_blocks,
        "tf_tutorial": _tf_tutorial_blocks,
    }[candidate]
    encoders, decoders = blocks(config)
    encoder_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_ids")
    decoder_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_ids")

    x = _embed(encoder_ids, config, config.source_length, "encoder")
    for block in encoders:
        x = block(x)
    y = _embed(decoder_ids, config, config.target_length, "decoder")
    for block in decoders:
        # Both decoders are causal by default.
        y = block(y, x)
    logits = keras.layers.Dense(config.vocabulary_size, name="logits")(y)
    # The loss is computed in float32 under mixed precision (a no-op in
    # float32), as the Keras mixed-precision guide recommends.
    logits = keras.layers.Activation("linear", dtype="float32", name="to_f32")(
        logits
    )
    return keras.Model(
        {"encoder_ids": encoder_ids, "decoder_ids": decoder_ids},
        logits,
        name=f"{candidate}_encoder_decoder",
    )


def compile_model(model, jit_compile):
    """Compiles with Adam and a from-logits sparse cross-entropy."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


# --------------------------------------------------------------------------
# Timing.
# --------------------------------------------------------------------------


def train_steps(model, batches, steps):
    """Runs `steps` training steps cycling over `batches`.

    Returns `(wall_seconds, cpu_seconds, real_target_tokens, last_loss)`.
    `train_on_batch` returns the loss as a Python float, which waits for the
    step to finish, so the wall time covers the computation, not just its
    dispatch. The process CPU time is reported alongside because, on a
    shared machine, it is less inflated by other processes than wall time.
    """
    tokens, loss = 0, None
    start, cpu_start = time.perf_counter(), time.process_time()
    for step in range(steps):
        inputs, labels, weights, real_tokens = batches[step % len(batches)]
        loss = model.train_on_batch(inputs, labels, sample_weight=weights)
        tokens += real_tokens
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return wall, cpu, tokens, None if loss is None else float(loss)


def _jit_settings(option):
    """Maps `--jit-compile` to the `compile(jit_compile=...)` values to run."""
    return {
        "off": [False],
        "on": [True],
        "auto": ["auto"],
        "both": [False, True],
    }[option]


def _jit_label(value):
    return {False: "off", True: "on"}.get(value, value)


def benchmark_setting(config, precision, jit_compile, batches, args, flops, peak):
    """Builds both candidates under `precision` and times them, alternating.

    Returns the setting's result dict (see `main` for the JSON layout).
    """
    # `clear_session` also resets the global dtype policy, so set it after.
    keras.backend.clear_session()
    gc.collect()
    keras.mixed_precision.set_global_policy(precision)

    models, results = {}, {}
    for candidate in CANDIDATES:
        # Same seed for both: comparable initial weights and dropout streams.
        keras.utils.set_random_seed(args.seed)
        models[candidate] = compile_model(build_model(candidate, config), jit_compile)
    # Warm up only once every model exists: seeding (`tf.random.set_seed`)
    # clears TensorFlow's eager kernel cache, which holds the instantiated
    # train-step functions, so a model warmed before another one is built
    # pays a one-time ~0.5 s again in its first timed step.
    for candidate, model in models.items():
        # Warm-up: tracing, graph optimization and (with XLA) compilation.
        start = time.perf_counter()
        _, _, _, first_loss = train_steps(model, batches, args.warmup_steps)
        warmup_s = time.perf_counter() - start
        results[candidate] = {
            "parameters": model.count_params(),
            "jit_compile_resolved": bool(model.jit_compile),
            "warmup_seconds": warmup_s,
            "warmup_loss": first_loss,
            "runs": [],
        }
        _log(f"  {candidate}: warmed up in {warmup_s:.1f} s")

    counts = {name: result["parameters"] for name, result in results.items()}
    if len(set(counts.values())) != 1:
        _log(f"  WARNING: the candidates have different parameter counts: {counts}")

    for round_index in range(args.repeats):
        for candidate in CANDIDATES:
            seconds, cpu_seconds, tokens, loss = train_steps(
                models[candidate], batches, args.steps
            )
            run = {
                "seconds": seconds,
                "process_cpu_seconds": cpu_seconds,
                "steps": args.steps,
                "target_tokens": tokens,
                "tokens_per_s": tokens / seconds,
                "step_time_s": seconds / args.steps,
                "loss": loss,
            }
            results[candidate]["runs"].append(run)
            _log(
                f"  round {round_index + 1}/{args.repeats} {candidate:>9}: "
                f"{run['tokens_per_s']:9.0f} tok/s, "
                f"{1e3 * run['step_time_s']:7.1f} ms/step, loss {loss:.3f}"
            )

    for result in results.values():
        runs = result["runs"]
        result["median_tokens_per_s"] = statistics.median(
            r["tokens_per_s"] for r in runs
        )
        result["median_step_time_s"] = statistics.median(
            r["step_time_s"] for r in runs
        )
        result["median_process_cpu_s_per_step"] = statistics.median(
            r["process_cpu_seconds"] / r["steps"] for r in runs
        )
        result["model_flops_per_s"] = flops / result["median_step_time_s"]
        result["mfu"] = (
            result["model_flops_per_s"] / peak["flops_per_s"]
            if peak["flops_per_s"]
            else None
        )

    return {
        "precision": precision,
        "jit_compile": _jit_label(jit_compile),
        "candidates": results,
        "ratios_ours_over": {
            peer: speed_ratios(results["ours"], results[peer]) for peer in PEERS
        },
    }


def speed_ratios(ours, peer):
    """Tokens/s of `ours` over `peer`'s (above 1: ours is faster).

    "of_medians" is the ratio of the median tokens/s; "per_round" holds the
    ratio of each round, whose runs are adjacent in time and see about the
    same machine load, and "median_per_round" their median, which is robust
    to load that changes between rounds.
    """
    per_round = [
        a["tokens_per_s"] / b["tokens_per_s"] for a, b in zip(ours["runs"], peer["runs"])
    ]
    return {
        "of_medians": ours["median_tokens_per_s"] / peer["median_tokens_per_s"],
        "per_round": per_round,
        "median_per_round": statistics.median(per_round),
    }


# --------------------------------------------------------------------------
# Reporting.
# --------------------------------------------------------------------------


def _log(message):
    print(message, flush=True)


def format_report(report):
    """Returns the human-readable summary of a results dict."""
    peak = report["peak"]
    lines = []
    if peak["flops_per_s"]:
        lines.append(
            f"Peak float32: {peak['flops_per_s'] / 1e9:.1f} GFLOP/s = "
            f"{peak['cores']} cores ({peak['cores_source']}) x "
            f"{peak['clock_hz'] / 1e9:.3f} GHz ({peak['clock_source']}) x "
            f"{peak['flops_per_cycle_per_core']} FLOPs/cycle/core "
            f"({peak['vector_isa']}: {peak['flops_per_cycle_assumption']})"
        )
    lines.append(
        f"Model FLOPs per training step: "
        f"{report['model_flops_per_step'] / 1e9:.2f} GFLOP (3 x forward matmuls)"
    )
    header = (
        f"{'precision':<15} {'jit':<4} {'candidate':<10} {'tok/s median':>12} "
        f"{'ms/step':>8} {'MFU':>6}  tok/s runs"
    )
    lines += [header, "-" * len(header)]
    for setting in report["results"]:
        for name in CANDIDATES:
            result = setting["candidates"][name]
            runs = ", ".join(f"{r['tokens_per_s']:.0f}" for r in result["runs"])
            mfu = "n/a" if result["mfu"] is None else f"{100 * result['mfu']:.1f}%"
            lines.append(
                f"{setting['precision']:<15} {setting['jit_compile']:<4} "
                f"{name:<10} {result['median_tokens_per_s']:12.0f} "
                f"{1e3 * result['median_step_time_s']:8.1f} {mfu:>6}  [{runs}]"
            )
        for peer, ratios in setting["ratios_ours_over"].items():
            lines.append(
                f"{'':<15} {'':<4} ours/{peer} = {ratios['of_medians']:.3f} "
                f"(of the medians); per round: median "
                f"{ratios['median_per_round']:.3f}, range "
                f"{min(ratios['per_round']):.3f} .. {max(ratios['per_round']):.3f}"
            )
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.train_throughput",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Tiny model, 2 steps, 1 repeat, float32 only: a smoke test.",
    )
    parser.add_argument("--steps", type=int, help="Timed steps per run (default 10).")
    parser.add_argument(
        "--warmup-steps", type=int, help="Untimed steps per model (default 3)."
    )
    parser.add_argument("--repeats", type=int, help="Rounds per candidate (default 7).")
    parser.add_argument(
        "--precision",
        choices=(*PRECISIONS, "all"),
        help="Dtype policy to run (default all: float32 and mixed_bfloat16).",
    )
    parser.add_argument(
        "--jit-compile",
        choices=("auto", "on", "off", "both"),
        default="off",
        help="XLA for the train step; `both` runs off and on. "
        "Keras's `auto` resolves to off on CPU-only machines.",
    )
    parser.add_argument(
        "--batch-size", type=int, help="Override the batch size of the config."
    )
    parser.add_argument("--seed", type=int, default=1234, help="Data/weights seed.")
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=DEFAULT_OUTPUT,
        help=f"JSON results path (default {DEFAULT_OUTPUT}).",
    )
    args = parser.parse_args(argv)
    # --quick changes the defaults; explicit flags still win.
    defaults = (
        dict(steps=2, warmup_steps=1, repeats=1, precision="float32")
        if args.quick
        # Short runs, many rounds: on a shared machine the load changes within
        # seconds, and finer alternation lets both candidates see the same.
        else dict(steps=10, warmup_steps=3, repeats=7, precision="all")
    )
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("steps", "warmup_steps", "repeats"):
        if getattr(args, name) < (0 if name == "warmup_steps" else 1):
            parser.error(f"--{name.replace('_', '-')} is too small")
    return args


def main(argv=None):
    """Runs the benchmark, prints the table and writes the JSON results.

    Returns the results dict, which is also written to `--output`:
    {"benchmark", "timestamp", "command", "machine", "load_average_before",
    "load_average_after", "peak", "config", "model_flops_per_step",
    "model_flops_formula", "results": [{"precision", "jit_compile",
    "candidates": {"ours"|"keras_hub"|"tf_tutorial": {"parameters",
    "jit_compile_resolved", "warmup_seconds", "warmup_loss", "runs":
    [{"seconds", "process_cpu_seconds", "steps", "target_tokens",
    "tokens_per_s", "step_time_s", "loss"}], "median_tokens_per_s",
    "median_step_time_s", "median_process_cpu_s_per_step",
    "model_flops_per_s", "mfu"}}, "ratios_ours_over": {"keras_hub"|
    "tf_tutorial": {"of_medians", "per_round", "median_per_round"}}}]}.
    """
    args = parse_args(argv)
    config = QUICK_CONFIG if args.quick else ModelConfig()
    if args.batch_size:
        config = dataclasses.replace(config, batch_size=args.batch_size)
    precisions = PRECISIONS if args.precision == "all" else (args.precision,)

    peak = cpu_peak()
    flops = training_flops_per_step(config)
    # A few distinct batches, cycled: data generation stays out of the timing.
    batches = make_batches(config, num_batches=4, seed=args.seed)
    report = {
        "benchmark": "train_throughput",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "command": [sys.executable, "-m", "benchmarks.train_throughput"]
        + list(sys.argv[1:] if argv is None else argv),
        "machine": machine_description(),
        "load_average_before": load_average(),
        "peak": peak,
        "config": {
            "model": dataclasses.asdict(config),
            "quick": args.quick,
            "steps": args.steps,
            "warmup_steps": args.warmup_steps,
            "repeats": args.repeats,
            "precisions": list(precisions),
            "jit_compile_option": args.jit_compile,
            "seed": args.seed,
            "optimizer": "Adam(learning_rate=1e-4)",
            "loss": "SparseCategoricalCrossentropy(from_logits=True), "
            "padding weighted 0",
            "timing": "model.train_on_batch, candidates alternated per round, "
            "median over rounds; tokens = real (non-pad) target tokens",
            "mean_real_target_tokens_per_batch": statistics.mean(
                b[3] for b in batches
            ),
        },
        "model_flops_per_step": flops,
        "model_flops_formula": inspect.cleandoc(training_flops_per_step.__doc__),
        "results": [],
    }

    try:
        for precision in precisions:
            for jit_compile in _jit_settings(args.jit_compile):
                _log(f"{precision}, jit_compile={_jit_label(jit_compile)}:")
                report["results"].append(
                    benchmark_setting(
                        config, precision, jit_compile, batches, args, flops, peak
                    )
                )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    report["load_average_after"] = load_average()

    _log(format_report(report))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    _log(f"Results written to {args.output}")
    return report


if __name__ == "__main__":
    main()
