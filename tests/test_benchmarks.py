"""Tests of `benchmarks.train_throughput`: its output, never its speed."""

import json
import math

import keras
import numpy as np
import pytest

from benchmarks import train_throughput as tt


@pytest.fixture(scope="module")
def quick_suite(tmp_path_factory):
    """Runs `python -m benchmarks --quick` once, without the serving
    benchmark (a slow test of its own in test_serving.py).

    Returns `(output folder, summary, {benchmark: returned report}, global
    dtype policy name after)`.
    """
    from benchmarks.__main__ import main

    output_dir = tmp_path_factory.mktemp("bench")
    summary, reports = main(["--quick", "--only", "training", "decoding", "scaling",
                             "--output-dir", str(output_dir)])
    policy = keras.mixed_precision.global_policy().name
    return output_dir, summary, reports, policy


@pytest.fixture(scope="module")
def quick_report(quick_suite):
    """The training benchmark's `(returned dict, JSON on disk, policy after)`."""
    output_dir, _, reports, policy = quick_suite
    written = json.loads((output_dir / "train_throughput.json").read_text())
    return reports["training"], written, policy


def test_quick_run_writes_the_returned_report(quick_report):
    report, written, _ = quick_report
    assert written == json.loads(json.dumps(report))
    for key in ("machine", "peak", "config", "model_flops_per_step", "results"):
        assert key in written


def test_quick_run_has_every_candidate_with_positive_throughput(quick_report):
    _, written, _ = quick_report
    [setting] = written["results"]  # --quick: float32, jit off.
    assert setting["precision"] == "float32"
    assert setting["jit_compile"] == "off"
    assert set(setting["candidates"]) == {"ours", "keras_hub", "tf_tutorial"}
    for result in setting["candidates"].values():
        assert len(result["runs"]) == written["config"]["repeats"] == 1
        for run in result["runs"]:
            assert run["tokens_per_s"] > 0
            assert run["step_time_s"] > 0
            assert math.isfinite(run["loss"])
        assert result["median_tokens_per_s"] > 0
        assert result["mfu"] is None or result["mfu"] > 0
    # Same architecture from three codebases: same number of weights.
    params = {r["parameters"] for r in setting["candidates"].values()}
    assert len(params) == 1


def test_quick_run_ratios_match_the_medians(quick_report):
    _, written, _ = quick_report
    for setting in written["results"]:
        assert set(setting["ratios_ours_over"]) == {"keras_hub", "tf_tutorial"}
        ours = setting["candidates"]["ours"]
        for peer, ratios in setting["ratios_ours_over"].items():
            theirs = setting["candidates"][peer]
            assert ratios["of_medians"] == pytest.approx(
                ours["median_tokens_per_s"] / theirs["median_tokens_per_s"]
            )
            per_round = [a["tokens_per_s"] / b["tokens_per_s"]
                         for a, b in zip(ours["runs"], theirs["runs"])]
            assert ratios["per_round"] == pytest.approx(per_round)


def test_quick_run_leaves_the_float32_policy(quick_report):
    assert quick_report[2] == "float32"


def test_training_flops_match_a_list_of_matmuls():
    config = tt.ModelConfig(
        encoder_layers=2,
        decoder_layers=3,
        hidden_dim=4,
        num_heads=2,
        intermediate_dim=8,
        source_length=3,
        target_length=5,
        vocabulary_size=10,
        batch_size=2,
    )
    b, s, t, d, f, v = 2, 3, 5, 4, 8, 10
    # (m, k, n) of every forward matmul, all heads together.
    encoder = [(b * s, d, d)] * 4 + [(b * s, d, s), (b * s, s, d)]
    encoder += [(b * s, d, f), (b * s, f, d)]
    decoder = [(b * t, d, d)] * 4 + [(b * t, d, t), (b * t, t, d)]
    decoder += [(b * t, d, d)] * 2 + [(b * s, d, d)] * 2
    decoder += [(b * t, d, s), (b * t, s, d)]
    decoder += [(b * t, d, f), (b * t, f, d)]
    matmuls = encoder * 2 + decoder * 3 + [(b * t, d, v)]
    forward = sum(2 * m * k * n for m, k, n in matmuls)
    assert tt.training_flops_per_step(config) == 3 * forward


@pytest.mark.parametrize(
    "flags, expected",
    [({"avx512f", "avx2", "fma"}, 64), ({"avx2", "fma"}, 32), ({"sse2"}, 16)],
)
def test_flops_per_cycle_follow_the_vector_width(flags, expected):
    assert tt.fp32_flops_per_cycle(flags)[0] == expected


def test_cpu_peak_is_cores_times_clock_times_flops_per_cycle():
    peak = tt.cpu_peak(cores=3)
    if peak["clock_hz"] is None:
        pytest.skip("no clock information on this machine")
    assert peak["flops_per_s"] == pytest.approx(
        3 * peak["clock_hz"] * peak["flops_per_cycle_per_core"]
    )


def test_batches_are_padded_consistently():
    config = tt.QUICK_CONFIG
    for inputs, labels, weights, real in tt.make_batches(config, 3, seed=0):
        encoder_ids, decoder_ids = inputs["encoder_ids"], inputs["decoder_ids"]
        assert encoder_ids.shape == (config.batch_size, config.source_length)
        assert labels.shape == decoder_ids.shape
        # Decoder inputs start with the start token and pad like the labels.
        assert (decoder_ids[:, 0] == tt.START_ID).all()
        np.testing.assert_array_equal(decoder_ids != 0, labels != 0)
        np.testing.assert_array_equal(weights, labels != 0)
        assert real == (labels != 0).sum()
        # Right padding only, with at least half of each sequence real.
        for ids, length in (
            (encoder_ids, config.source_length),
            (labels, config.target_length),
        ):
            lengths = (ids != 0).sum(axis=1)
            assert (lengths >= length // 2).all()
            np.testing.assert_array_equal(
                ids != 0, np.arange(length) < lengths[:, None]
            )


@pytest.mark.parametrize("candidate", tt.CANDIDATES)
def test_padding_never_changes_real_positions(candidate):
    """Both models honour the padding masks, so the benchmark exercises them."""
    config = tt.QUICK_CONFIG
    inputs, _, _, _ = tt.make_batches(config, 1, seed=0)[0]
    # The example with the most source padding.
    row = int(np.argmin((inputs["encoder_ids"] != 0).sum(axis=1)))
    encoder_ids = inputs["encoder_ids"][row : row + 1]
    decoder_ids = inputs["decoder_ids"][row : row + 1]
    source_length = int((encoder_ids != 0).sum())
    target_length = int((decoder_ids != 0).sum())
    assert source_length < config.source_length

    model = tt.build_model(candidate, config)
    padded = model(
        {"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}, training=False
    )
    unpadded = model(
        {
            "encoder_ids": encoder_ids[:, :source_length],
            "decoder_ids": decoder_ids[:, :target_length],
        },
        training=False,
    )
    np.testing.assert_allclose(
        np.asarray(padded)[:, :target_length], np.asarray(unpadded), atol=1e-5
    )


def test_decoding_benchmark_quick_mode(quick_suite):
    output_dir, _, reports, _ = quick_suite
    report = reports["decoding"]
    saved = json.loads((output_dir / "decoding_speed.json").read_text())
    variants = {"cached", "cached/xla", "uncached", "keras_hub_sampler",
                "keras_hub_sampler/xla"}
    assert set(saved["results"]) == {
        f"{search}/{variant}" for search in ("greedy", "beam4") for variant in variants
    }
    seconds = {name: result["median_seconds"] for name, result in saved["results"].items()}
    for name, ratio in report["speedups"].items():
        # "greedy: cached / uncached" is uncached time over cached time.
        search, variants = name.split(": ")
        faster, slower = variants.split(" / ")
        expected = seconds[f"{search}/{slower}"] / seconds[f"{search}/{faster}"]
        assert abs(ratio - expected) < 1e-9
    # Greedy search is an argmax: the keras-hub sampler over the same model
    # step must give the same tokens.
    assert saved["results"]["greedy/keras_hub_sampler"]["tokens_equal_uncached"]


def test_scaling_quick_mode_sweeps_and_plots(quick_suite):
    output_dir, _, reports, _ = quick_suite
    saved = json.loads((output_dir / "scaling.json").read_text())
    assert saved == json.loads(json.dumps({k: v for k, v in reports["scaling"].items()
                                           if k != "plot"}))
    config = saved["config"]
    training = {(p["sweep"], p["length"], p["batch_size"], p["candidate"])
                for p in saved["training"]}
    assert training == (
        {("length", n, config["batch_size"], c) for n in config["lengths"]
         for c in ("ours", "keras_hub")}
        | {("batch", config["base_length"], b, c) for b in config["batch_sizes"]
           for c in ("ours", "keras_hub")}
    )
    decoding = {(p["sweep"], p["new_tokens"], p["batch_size"], p["variant"])
                for p in saved["decoding"]}
    variants = ("cached", "cached/xla", "uncached")
    assert decoding == (
        {("length", n, config["decode_batch_size"], v) for n in config["lengths"]
         for v in variants}
        | {("batch", config["base_length"], b, v) for b in config["decode_batch_sizes"]
           for v in variants}
    )
    for point in saved["training"]:
        assert point["step_seconds"] > 0 and point["tokens_per_s"] > 0
    for point in saved["decoding"]:
        assert point["sentences_per_s"] == pytest.approx(
            point["batch_size"] / point["seconds"])
    png = (output_dir / "scaling.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_suite_summary_lists_every_target_with_its_figure(quick_suite):
    output_dir, summary, reports, _ = quick_suite
    assert json.loads((output_dir / "summary.json").read_text()) == summary
    assert summary["quick"] and summary["ran"] == ["training", "decoding", "scaling"]
    rows = {row["target"]: row for row in summary["targets"]}
    [setting] = reports["training"]["results"]
    training = rows["training tokens/s, ours / keras-hub (float32, jit_compile off)"]
    assert training["measured"] == setting["ratios_ours_over"]["keras_hub"]["median_per_round"]
    assert training["at_least"] == 1.3
    for search in ("greedy", "beam4"):
        for variant in ("cached", "cached/xla"):
            row = rows[f"decoding speed-up, {search}: {variant} / uncached"]
            assert row["measured"] == reports["decoding"]["speedups"][
                f"{search}: {variant} / uncached"]
            assert row["at_least"] == 5.0
    for row in summary["targets"]:
        assert row["met"] == (row["measured"] >= row["at_least"])
