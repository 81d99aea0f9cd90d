"""Export: SavedModel and ONNX artifacts, run and compared with Keras.

Every ONNX file a test makes is loaded in onnxruntime: tf2onnx reports
success even for graphs that keep TensorFlow ops.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import onnx
import pytest
import tensorflow as tf

from keras_transformer.data import SubwordTokenizer
from keras_transformer.data import encode_for_translation
from keras_transformer.export import DecodingConfig
from keras_transformer.export import OnnxSeq2Seq
from keras_transformer.export import VerificationError
from keras_transformer.export import as_float32
from keras_transformer.export import check_onnx_graph
from keras_transformer.export import export_onnx
from keras_transformer.export import export_translation
from keras_transformer.export import layout
from keras_transformer.export import onnx_search
from keras_transformer.export import signatures
from keras_transformer.export import tf2onnx_compat
from keras_transformer.export import verify_onnx
from keras_transformer.export.precision import is_float32
from keras_transformer.generation import beam_search
from keras_transformer.generation import greedy_search
from keras_transformer.generation import make_search_fn
from keras_transformer.models import Seq2SeqTransformer
from keras_transformer.translation import Translator

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAD, START, END = 0, 2, 3


# === The NumPy 2 fix for tf2onnx ===


@tf.function
def _double(x):
    return {"y": x * 2.0 + tf.ones([4, 300])}


def test_tf2onnx_needs_the_numpy2_patch_and_it_works(monkeypatch):
    import tf2onnx.graph

    signature = [tf.TensorSpec([None, 300], tf.float32, name="x")]
    # Unpatched, tf2onnx 1.17 calls np.product (removed in NumPy 2.0) for
    # each constant of a large-model conversion.
    monkeypatch.setattr(tf2onnx.graph, "np", np)
    with pytest.raises(AttributeError, match="product"):
        tf2onnx.convert.from_function(_double, signature, opset=17, large_model=True)

    proto, storage = tf2onnx_compat.convert_function(
        _double, signature, opset=17, large_model=True
    )
    assert storage.name_to_tensor_data, "the 4x300 constant should be external"
    # NumPy itself is left alone; only tf2onnx's modules see the aliases.
    assert not hasattr(np, "product")
    assert tf2onnx.graph.np.product is np.prod
    assert tf2onnx.graph.np.float32 is np.float32


def test_patch_is_idempotent():
    first = tf2onnx_compat.patch_tf2onnx()
    view = first.graph.np
    assert tf2onnx_compat.patch_tf2onnx() is first
    assert first.graph.np is view


def test_large_model_export_runs_in_onnxruntime(tmp_path, translation_demo):
    _, _, model, _ = translation_demo
    paths = export_onnx(model, tmp_path, large_model=True)
    assert (tmp_path / "forward.onnx.data").stat().st_size > 0
    for path in paths.values():
        check_onnx_graph(path)
    encoder_ids = np.array([[5, 6, 7, END, 0]], np.int32)
    decoder_ids = np.array([[START, 9, 10]], np.int32)
    expected = model({"encoder_token_ids": encoder_ids, "decoder_token_ids": decoder_ids})
    got = OnnxSeq2Seq(tmp_path).logits(encoder_ids, decoder_ids)
    np.testing.assert_allclose(got, expected, atol=1e-4)


# === Leftover TensorFlow ops ===


def test_check_onnx_graph_finds_ops_tf2onnx_left_unconverted(tmp_path):
    @tf.function
    def keras_argmax(x):
        return {"ids": keras.ops.argmax(x, axis=-1)}

    proto, _ = tf2onnx_compat.convert_function(
        keras_argmax, [tf.TensorSpec([None, 5], tf.float32, name="x")], opset=17
    )
    path = tmp_path / "argmax.onnx"
    onnx.save_model(proto, str(path))
    with pytest.raises(VerificationError, match=r"not ONNX ops of opset 17: Bitcast \(x1\)"):
        check_onnx_graph(path)


def test_check_onnx_graph_accepts_tf_math_argmax(tmp_path):
    @tf.function
    def tf_argmax(x):
        return {"ids": tf.math.argmax(x, axis=-1, output_type=tf.int32)}

    proto, _ = tf2onnx_compat.convert_function(
        tf_argmax, [tf.TensorSpec([None, 5], tf.float32, name="x")], opset=17
    )
    path = tmp_path / "argmax.onnx"
    onnx.save_model(proto, str(path))
    check_onnx_graph(path)


# === The NumPy searches reproduce keras_transformer.generation ===


class TableModelTF:
    """Next-token logits = table[position, previous token], in TensorFlow,
    through the decoding API the searches call."""

    def __init__(self, table):
        self.table = tf.constant(table, tf.float32)

    def encode(self, ids):
        batch = tf.shape(ids)[0]
        return tf.zeros([batch, 1, 1]), tf.ones([batch, 1], tf.bool)

    def initial_cache(self, encoder_output, max_length=None):
        return []

    def decode_step(self, tokens, encoder_output, mask, cache, index, fixed_size_cache=False):
        return tf.gather(tf.gather(self.table, index), tokens[:, -1:]), cache


class TableModelNumpy:
    """The same model with `OnnxSeq2Seq`'s interface."""

    def __init__(self, table):
        self.table = np.asarray(table, np.float32)

    def encode(self, ids):
        return [], np.ones((len(ids), 1), bool)

    def initial_cache(self, cross_attention):
        return []

    def decode_step(self, tokens, mask, cache, index):
        return self.table[index, tokens[:, -1]], cache


def _table(seed, positions=7, vocabulary_size=8):
    """Random logits with exact ties: columns 6 and 7 copy 4 and 5."""
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(positions, vocabulary_size, vocabulary_size))
    table[..., 6:8] = table[..., 4:6]
    table[..., END] += 0.8  # Hypotheses do end.
    return table.astype(np.float32)


def test_numpy_greedy_search_matches_tensorflow():
    ids = np.ones((3, 2), np.int32)
    for seed in range(4):
        table = _table(seed)
        expected = greedy_search(TableModelTF(table), ids, 6, START, END)
        got = onnx_search.greedy_search(TableModelNumpy(table), ids, 6, START, END)
        np.testing.assert_array_equal(got, expected, err_msg=f"seed {seed}")


def test_numpy_beam_search_matches_tensorflow():
    ids = np.ones((3, 2), np.int32)
    for seed in range(4):
        table = _table(seed)
        for beam_width, alpha in ((2, 0.6), (3, 0.0), (5, 1.0)):
            expected_tokens, expected_scores = beam_search(
                TableModelTF(table), ids, 6, START, END, beam_width=beam_width, alpha=alpha
            )
            tokens, scores = onnx_search.beam_search(
                TableModelNumpy(table), ids, 6, START, END, beam_width=beam_width,
                alpha=alpha,
            )
            case = f"seed {seed}, beam_width {beam_width}, alpha {alpha}"
            np.testing.assert_array_equal(tokens, expected_tokens, err_msg=case)
            np.testing.assert_allclose(scores, expected_scores, rtol=1e-6, err_msg=case)


def test_top_k_breaks_ties_like_tensorflow():
    values = np.array([[1.0, 3.0, 3.0, -1e9, 2.0, 3.0, -1e9]], np.float32)
    expected_values, expected_indices = tf.math.top_k(values, k=6)
    got_values, got_indices = onnx_search.top_k(values, 6)
    np.testing.assert_array_equal(got_indices, expected_indices)
    np.testing.assert_array_equal(got_values, expected_values)


def test_searches_reject_bad_sources():
    model = TableModelNumpy(_table(0))
    with pytest.raises(ValueError, match="encoder_token_ids"):
        onnx_search.greedy_search(model, np.ones(3, np.int32), 4, START, END)
    with pytest.raises(ValueError, match="max_length"):
        onnx_search.beam_search(model, np.ones((1, 3), np.int32), 0, START, END)


# === The demo export ===


def test_export_has_tf_serving_layout_and_a_passing_manifest(translation_demo):
    manifest, path, _, tokenizer = translation_demo
    assert path.parent.name == "demo" and path.name == "1"
    assert (path / "saved_model.pb").is_file()
    assert (path / "variables").is_dir()
    assert SubwordTokenizer.load(layout.tokenizer_dir(path)).model_proto == tokenizer.model_proto
    for part in layout.ONNX_PARTS:
        assert layout.onnx_path(path, part).is_file()
    # No staging folder is left next to the version.
    assert sorted(p.name for p in path.parent.iterdir()) == ["1"]
    on_disk = json.loads(layout.manifest_path(path).read_text())
    assert on_disk["verification"]["logits_atol"] == 1e-4
    checks = on_disk["verification"]["checks"]
    assert checks and all(check["passed"] for check in checks)
    checked = {(c["artifact"], c["check"]) for c in checks}
    for name in ("logits", "generate", "generate_greedy", "translate",
                 "translate_greedy", "serving_default"):
        assert ("savedmodel", name) in checked
    for name in ("forward", "cached_decoder_steps", "generate", "generate_greedy",
                 "graph:forward", "graph:encoder", "graph:decoder_step"):
        assert ("onnx", name) in checked
    # Verification shapes differ from one another (every trace is dynamic).
    logits_shapes = [tuple(c["shape"]) for c in checks if c["check"] == "logits"]
    assert len(set(logits_shapes)) == len(logits_shapes) == 3
    assert on_disk["model"]["exported_dtype"] == "float32"
    assert set(on_disk["signatures"]) == {*signatures.SIGNATURE_NAMES, "serving_default"}


def test_onnx_graphs_have_named_dynamic_axes_and_per_layer_caches(translation_demo):
    _, path, model, _ = translation_demo
    step = onnx.load(str(layout.onnx_path(path, "decoder_step")))
    assert {entry.version for entry in step.opset_import if entry.domain in ("", "ai.onnx")} == {17}

    def dims(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    inputs = {value.name: dims(value) for value in step.graph.input}
    outputs = {value.name: dims(value) for value in step.graph.output}
    heads, head_dim = model.num_heads, model.hidden_dim // model.num_heads
    for i in range(model.num_decoder_layers):
        assert inputs[f"past_self_attention_{i}"] == ["batch", 2, "past_length", heads, head_dim]
        assert inputs[f"cross_attention_{i}"] == ["batch", 2, "source_length", heads, head_dim]
        assert f"present_self_attention_{i}" in outputs
    assert inputs["decoder_token_ids"] == ["batch", 1]
    assert inputs["index"] == []
    assert inputs["encoder_padding_mask"] == ["batch", "source_length"]
    forward = onnx.load(str(layout.onnx_path(path, "forward")))
    assert {v.name: dims(v) for v in forward.graph.input} == {
        "encoder_token_ids": ["batch", "source_length"],
        "decoder_token_ids": ["batch", "target_length"],
    }


def test_saved_model_signatures_on_new_inputs(translation_demo):
    manifest, path, model, tokenizer = translation_demo
    loaded = tf.saved_model.load(str(path))
    assert set(loaded.signatures) == {*signatures.SIGNATURE_NAMES, "serving_default"}
    texts = ["God is love.", "The earth was without form, and void."]
    decoding = DecodingConfig.from_json(manifest["decoding"])
    for name, beam_width in (("translate", decoding.beam_width), ("translate_greedy", 1)):
        translator = Translator(model, tokenizer, beam_width=beam_width,
                                max_output_length=decoding.max_output_length)
        got = loaded.signatures[name](text=tf.constant(texts))["translation"]
        assert [t.decode() for t in got.numpy()] == translator.translate(texts)
    encoder_ids = np.array([[9, 8, 7, 6, 5, 4, END, 0, 0]] * 2, np.int32)
    decoder_ids = np.array([[START, 11, 12, 13, 0, 0]] * 2, np.int32)
    logits = loaded.signatures["logits"](encoder_token_ids=encoder_ids,
                                         decoder_token_ids=decoder_ids)["logits"]
    expected = model({"encoder_token_ids": encoder_ids, "decoder_token_ids": decoder_ids})
    np.testing.assert_allclose(logits, expected, atol=1e-4)


def test_saved_model_rejects_over_long_and_out_of_range_ids(translation_demo):
    _, path, model, _ = translation_demo
    generate = tf.saved_model.load(str(path)).signatures["generate_greedy"]
    too_long = np.ones((1, model.max_sequence_length + 1), np.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_sequence_length"):
        generate(encoder_token_ids=too_long)
    with pytest.raises(tf.errors.InvalidArgumentError, match="vocabulary size"):
        generate(encoder_token_ids=np.array([[5, 100000]], np.int32))


def test_onnx_search_matches_keras_generation_on_new_sources(translation_demo):
    manifest, path, model, tokenizer = translation_demo
    decoding = DecodingConfig.from_json(manifest["decoding"])
    onnx_model = OnnxSeq2Seq(layout.onnx_dir(path))
    rng = np.random.default_rng(7)
    sources = [
        encode_for_translation(["Jesus wept.", "Let there be light."], tokenizer,
                               model.max_sequence_length),
        np.concatenate([rng.integers(4, 400, (5, 4)), np.full((5, 1), END)], 1),
    ]
    for beam_width in (1, decoding.beam_width):
        search = make_search_fn(model, decoding.max_output_length, START, END,
                                beam_width=beam_width, alpha=decoding.alpha)
        for source in sources:
            source = source.astype(np.int32)
            got = onnx_search.search(onnx_model, source, decoding, beam_width)
            np.testing.assert_array_equal(got, search(source))


def test_saved_model_cli_shows_and_runs_the_signatures(translation_demo):
    _, path, _, _ = translation_demo
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cli = pathlib.Path(sys.executable).parent / "saved_model_cli"
    shown = subprocess.run([str(cli), "show", "--all", "--dir", str(path)],
                           capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for name in (*signatures.SIGNATURE_NAMES, "serving_default"):
        assert f"signature_def['{name}']" in shown.stdout
    assert "inputs['text'] tensor_info" in shown.stdout
    # `run` needs the SentencePiece ops registered (see the module's docstring).
    ran = subprocess.run(
        [sys.executable, "-m", "keras_transformer.export.saved_model_cli", "run",
         "--dir", str(path), "--tag_set", "serve", "--signature_def", "translate",
         "--input_exprs", 'text=["In the beginning God created the heaven."]'],
        capture_output=True, text=True, env=env, timeout=120, cwd=ROOT,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "Result for output key translation" in ran.stdout


def test_verification_fails_loudly_when_outputs_differ(translation_demo):
    manifest, path, model, tokenizer = translation_demo
    other = Seq2SeqTransformer.from_config(model.get_config())
    other.set_weights([w + 0.05 for w in model.get_weights()])
    decoding = DecodingConfig.from_json(manifest["decoding"])
    with pytest.raises(VerificationError, match=r"checks failed[\s\S]*forward at shape "
                       r"\[1, 7, 5\]: max \|logits - Keras logits\| = .* > 0.0001"):
        verify_onnx(layout.onnx_dir(path), other, tokenizer, decoding)


# === Export arguments and failures ===


def test_export_refuses_an_existing_version(translation_demo, tmp_path):
    manifest, path, model, tokenizer = translation_demo
    with pytest.raises(ValueError, match="exists already"):
        export_translation(model, tokenizer, path.parent.parent, name="demo", version=1)


def test_export_rejects_bad_arguments(translation_demo, tmp_path):
    _, _, model, tokenizer = translation_demo
    for kwargs, message in (
        ({"formats": "savedmodel,tflite"}, "argument `formats`"),
        ({"formats": []}, "argument `formats`"),
        ({"opset": 19}, "argument `opset`"),
        ({"version": 0}, "argument `version`"),
        ({"name": "a/b"}, "argument `name`"),
        ({"beam_width": 0}, "argument `beam_width`"),
        ({"model": "model.h5"}, "argument `model`"),
    ):
        arguments = {"model": model, "tokenizer": tokenizer, "output_dir": tmp_path, **kwargs}
        with pytest.raises(ValueError, match=message):
            export_translation(**arguments)
    assert not any(tmp_path.rglob("saved_model.pb"))


def test_export_rejects_a_tokenizer_larger_than_the_model(translation_demo, tmp_path):
    _, _, _, tokenizer = translation_demo
    small = Seq2SeqTransformer.from_preset("cpu_tiny", encoder_vocabulary_size=50)
    with pytest.raises(ValueError, match="does not match the model"):
        export_translation(small, tokenizer, tmp_path)


def test_failed_export_leaves_nothing_behind(translation_demo, tmp_path, monkeypatch):
    from keras_transformer.export import exporter

    _, _, model, tokenizer = translation_demo

    def failing_export(model, directory, **kwargs):
        pathlib.Path(directory).mkdir(parents=True)
        (pathlib.Path(directory) / "forward.onnx").write_bytes(b"partial")
        raise VerificationError("forward differs")

    monkeypatch.setattr(exporter, "export_onnx", failing_export)
    with pytest.raises(VerificationError, match="forward differs"):
        export_translation(model, tokenizer, tmp_path, name="m", formats="onnx")
    assert list((tmp_path / "m").iterdir()) == []


# === Mixed precision ===


def test_as_float32_rebuilds_a_mixed_precision_model_with_its_weights():
    keras.config.set_dtype_policy("mixed_bfloat16")
    mixed = Seq2SeqTransformer.from_preset("cpu_tiny", encoder_vocabulary_size=60)
    keras.config.set_dtype_policy("float32")
    assert not is_float32(mixed)
    clone = as_float32(mixed)
    assert is_float32(clone) and clone is not mixed
    assert keras.config.dtype_policy().name == "float32"
    for a, b in zip(mixed.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)
    # The config records the mixed policy; the reference runs in float32.
    reference = Seq2SeqTransformer.from_config({**mixed.get_config(), "dtype": "float32"})
    reference.set_weights(mixed.get_weights())
    inputs = {"encoder_token_ids": np.array([[5, 6, 7, 0]]),
              "decoder_token_ids": np.array([[2, 9]])}
    np.testing.assert_array_equal(clone(inputs), reference(inputs))
    assert as_float32(reference) is reference


@pytest.mark.slow
def test_mixed_precision_model_exports_in_float32(translation_demo, tmp_path):
    _, _, model, tokenizer = translation_demo
    mixed = Seq2SeqTransformer.from_config({**model.get_config(), "dtype": "mixed_bfloat16"})
    mixed.set_weights(model.get_weights())
    manifest = export_translation(mixed, tokenizer, tmp_path, name="mixed",
                                  max_output_length=6, beam_width=2)
    assert manifest["model"]["trained_dtype_policy"] == "mixed_bfloat16"
    assert manifest["model"]["exported_dtype"] == "float32"
    loaded = tf.saved_model.load(manifest["path"])
    outputs = loaded.signatures["logits"].structured_outputs
    assert outputs["logits"].dtype == tf.float32
    step = onnx.load(str(layout.onnx_path(manifest["path"], "decoder_step")))
    logits = next(v for v in step.graph.output if v.name == "logits")
    assert logits.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


@pytest.mark.slow
def test_opset_18_export(translation_demo, tmp_path):
    _, _, model, tokenizer = translation_demo
    manifest = export_translation(model, tokenizer, tmp_path, formats="onnx",
                                  opset=18, max_output_length=5, beam_width=2)
    assert manifest["onnx"]["opset"] == 18
    assert all(c["passed"] for c in manifest["verification"]["checks"])
