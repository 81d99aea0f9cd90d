"""Export of BERT task models: SavedModel and ONNX, run and compared with Keras.

The three demo exports (token classification, question answering,
classification; tiny random models over a tiny WordPiece vocabulary) are
made once per session (`encoder_demo` in tests/conftest.py) and shared
with tests/test_encoder_serving.py.
"""

import json

import keras
import numpy as np
import onnx
import pytest
import tensorflow as tf

from keras_transformer import cli
from keras_transformer.data import BertTokenizer
from keras_transformer.export import OnnxEncoder
from keras_transformer.export import QaConfig
from keras_transformer.export import VerificationError
from keras_transformer.export import as_float32
from keras_transformer.export import encoder_signatures
from keras_transformer.export import export_encoder_model
from keras_transformer.export import layout
from keras_transformer.export import make_demo_encoder_model
from keras_transformer.export import tf2onnx_compat
from keras_transformer.export.encoder_demo import CLASS_LABELS
from keras_transformer.export.encoder_demo import NER_LABELS
from keras_transformer.export.precision import is_float32
from keras_transformer.serving import ServedEncoderModel

TASKS = encoder_signatures.TASKS
ATOL = 1e-4  # LOGITS_ATOL, the translation export's tolerance.


def fresh_inputs(vocabulary_size, seed, shape=(3, 11)):
    """Inputs no verification used: other seed and shape, rows padded."""
    rng = np.random.default_rng(seed)
    batch, length = shape
    token_ids = rng.integers(5, vocabulary_size, size=shape).astype(np.int32)
    padding_mask = np.ones(shape, np.int32)
    for row in range(1, batch):
        padding_mask[row, rng.integers(2, length):] = 0
    token_ids[padding_mask == 0] = 0
    token_ids[:, 0] = 2
    segment_ids = (np.arange(length)[None, :] >= length // 2).astype(np.int32) * padding_mask
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def keras_outputs(model, task, inputs):
    outputs = encoder_signatures.name_outputs(task, model(inputs, training=False))
    return {name: np.asarray(value) for name, value in outputs.items()}


# === The exports ===


@pytest.mark.parametrize("task", TASKS)
def test_export_is_verified_and_laid_out_for_tf_serving(encoder_demo, task):
    manifest, path, model, _ = encoder_demo[task]
    assert (path / "saved_model.pb").is_file()
    assert layout.onnx_path(path, "forward").is_file()
    assert (layout.tokenizer_dir(path) / "vocab.txt").is_file()
    assert manifest["kind"] == "encoder" and manifest["task"] == task
    assert manifest["formats"] == ["savedmodel", "onnx"]
    assert manifest["max_sequence_length"] == model.encoder.max_sequence_length == 32
    assert manifest["model"]["class"] == type(model).__name__
    assert manifest["labels"] == {
        "token_classification": list(NER_LABELS),
        "classification": list(CLASS_LABELS),
    }.get(task)
    checks = manifest["verification"]["checks"]
    assert checks and all(check["passed"] for check in checks)
    compared = [check for check in checks if "max_abs_diff" in check]
    assert {check["artifact"] for check in compared} == {"savedmodel", "onnx"}
    assert max(check["max_abs_diff"] for check in compared) <= ATOL
    # Several lengths, with padding, up to the model's maximum length.
    shapes = {tuple(check["shape"]) for check in compared}
    assert {(1, 7), (3, 12), (4, 5), (2, 32)} <= shapes
    outputs = {check["check"].split(":")[1] for check in compared}
    assert outputs == set(encoder_signatures.output_names(task))
    assert set(manifest["signatures"]) == {
        "serving_default", *encoder_signatures.TEXT_SIGNATURES[task]
    }
    assert not manifest["signatures"]["serving_default"]["server_side"]
    # Nothing but the version folder was left behind.
    assert [p.name for p in path.parent.iterdir()] == ["1"]


@pytest.mark.parametrize("task", TASKS)
def test_savedmodel_and_onnx_equal_keras_reloaded_from_dot_keras(encoder_demo, task):
    _, path, model, _ = encoder_demo[task]
    # The .keras round trip: a model built again from the demo's seed has
    # the weights the exporter read from model.keras.
    rebuilt = make_demo_encoder_model(task, model.encoder.vocabulary_size)
    inputs = fresh_inputs(model.encoder.vocabulary_size, seed=7)
    expected = keras_outputs(model, task, inputs)
    for name, value in keras_outputs(rebuilt, task, inputs).items():
        np.testing.assert_allclose(value, expected[name], atol=1e-6)

    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    saved = {k: v.numpy() for k, v in signature(**inputs).items()}
    onnx_outputs = OnnxEncoder(layout.onnx_path(path, "forward"))(inputs)
    for got in (saved, onnx_outputs):
        assert set(got) == set(expected)
        for name in expected:
            assert got[name].dtype == np.float32
            np.testing.assert_allclose(got[name], expected[name], atol=ATOL)


@pytest.mark.parametrize("task", TASKS)
def test_more_padding_leaves_real_positions_unchanged_in_onnx(encoder_demo, task):
    _, path, model, _ = encoder_demo[task]
    runner = OnnxEncoder(layout.onnx_path(path, "forward"))
    inputs = fresh_inputs(model.encoder.vocabulary_size, seed=3, shape=(2, 9))
    padded = {name: np.pad(value, ((0, 0), (0, 14))) for name, value in inputs.items()}
    short, long = runner(inputs), runner(padded)
    mask = inputs["padding_mask"].astype(bool)
    for name in short:
        if task == "classification":
            np.testing.assert_allclose(long[name], short[name], atol=1e-5)
        else:
            np.testing.assert_allclose(long[name][:, :9][mask], short[name][mask], atol=1e-5)


def test_onnx_graph_metadata_and_dynamic_axes(encoder_demo):
    _, path, _, _ = encoder_demo["question_answering"]
    proto = onnx.load(str(layout.onnx_path(path, "forward")))
    metadata = json.loads({p.key: p.value for p in proto.metadata_props}["keras_transformer"])
    assert metadata["task"] == "question_answering" and metadata["max_sequence_length"] == 32
    dims = {value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
            for value in list(proto.graph.input) + list(proto.graph.output)}
    assert dims["token_ids"] == ["batch", "sequence_length"]
    assert dims["start_logits"] == ["batch", "sequence_length"]
    # The exact GELU's Erfc became ONNX Erf (tf2onnx has no Erfc handler).
    assert "Erf" in {node.op_type for node in proto.graph.node}


def test_savedmodel_refuses_inputs_the_model_cannot_read(encoder_demo):
    _, path, _, _ = encoder_demo["token_classification"]
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]

    def call(token_ids, segment_ids=None, padding_mask=None):
        token_ids = np.asarray(token_ids, np.int32)
        return signature(
            token_ids=token_ids,
            segment_ids=np.zeros_like(token_ids) if segment_ids is None else np.asarray(segment_ids, np.int32),
            padding_mask=np.ones_like(token_ids) if padding_mask is None else np.asarray(padding_mask, np.int32),
        )

    for args, message in (
        (([[2] * 33],), "max_sequence_length=32"),
        (([[2, 999]],), "`token_ids` holds values >= 64"),
        (([[2, 5]], [[0, 2]]), "`segment_ids` holds values >= 2"),
        (([[2, 5]], [[0, 0]], [[1, 3]]), "`padding_mask` holds values >= 2"),
        (([[2, 5]], [[0, 0, 0]]), "`segment_ids` must have the shape"),
    ):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            call(*args)


def test_erfc_is_converted_to_onnx_erf():
    @tf.function
    def gelu(x):
        return {"y": keras.activations.gelu(x, approximate=False)}

    proto, _ = tf2onnx_compat.convert_function(
        gelu, [tf.TensorSpec([None], tf.float32, name="x")], opset=17
    )
    ops = {node.op_type for node in proto.graph.node}
    assert "Erf" in ops and "Erfc" not in ops
    import onnxruntime

    session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    x = np.linspace(-9, 9, 181).astype(np.float32)
    (got,) = session.run(["y"], {"x": x})
    np.testing.assert_allclose(got, gelu(x)["y"].numpy(), atol=1e-6)


# === Precision ===


def test_mixed_precision_model_is_exported_in_float32(tmp_path):
    keras.config.set_dtype_policy("mixed_bfloat16")
    mixed = make_demo_encoder_model("question_answering", 64, dtype="mixed_bfloat16")
    keras.config.set_dtype_policy("float32")
    assert not is_float32(mixed)
    clone = as_float32(mixed)
    assert is_float32(clone) and clone.encoder.compute_dtype == "float32"
    for a, b in zip(mixed.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)

    tokenizer_dir = tmp_path / "tokenizer"
    from keras_transformer.export.encoder_demo import write_demo_vocabulary

    BertTokenizer(write_demo_vocabulary(tmp_path / "vocab.txt")).save(tokenizer_dir)
    manifest = export_encoder_model(mixed, tokenizer_dir, tmp_path / "exports",
                                    name="mixed", formats="onnx")
    assert manifest["model"]["trained_dtype_policy"] == "mixed_bfloat16"
    assert manifest["model"]["exported_dtype"] == "float32"
    inputs = fresh_inputs(64, seed=5)
    got = OnnxEncoder(layout.onnx_path(manifest["path"], "forward"))(inputs)
    expected = keras_outputs(clone, "question_answering", inputs)
    np.testing.assert_allclose(got["start_logits"], expected["start_logits"], atol=ATOL)
    # bfloat16 computations stay close to the float32 export.
    mixed_start = keras_outputs(mixed, "question_answering", inputs)["start_logits"]
    real = inputs["padding_mask"] == 1
    np.testing.assert_allclose(mixed_start[real], got["start_logits"][real], atol=0.05)


# === Failures ===


def test_failed_verification_leaves_nothing_behind(encoder_demo, tmp_path, monkeypatch):
    from keras_transformer.export import encoder_exporter

    _, _, _, training = encoder_demo["classification"]

    def fail(*args, **kwargs):
        raise VerificationError("1 of 1 export checks failed")

    monkeypatch.setattr(encoder_exporter, "verify_encoder_onnx", fail)
    with pytest.raises(VerificationError):
        export_encoder_model(training / "model.keras", training / "tokenizer",
                             tmp_path, name="broken", formats="onnx")
    assert list((tmp_path / "broken").iterdir()) == []


def test_export_arguments_are_checked(encoder_demo, tmp_path):
    _, path, _, ner = encoder_demo["token_classification"]
    _, _, qa_model, qa = encoder_demo["question_answering"]
    ner_model = ner / "model.keras"
    tokenizer = ner / "tokenizer"
    big_vocabulary = tmp_path / "big"
    big_vocabulary.mkdir()
    (big_vocabulary / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(80)]))
    labels = list(NER_LABELS)
    for kwargs, message in (
        (dict(model=tmp_path / "missing.keras"), "argument `model`"),
        (dict(model=keras.Sequential([keras.layers.Dense(2)])), "argument `model`"),
        (dict(tokenizer=big_vocabulary), "does not match the model"),
        (dict(task="classification"), "argument `task`"),
        (dict(task="parsing"), "argument `task`"),
        (dict(labels=None), "no `labels`"),
        (dict(labels=labels[:4]), "argument `labels`"),
        (dict(labels=["O", "B-PER", "I-PER", "B-LOC", "LOC"]), "invalid tag"),
        (dict(labels=["B-X", "B-PER", "I-PER", "B-LOC", "I-LOC"]), "including 'O'"),
        (dict(qa_config={"max_length": 16}), "argument `qa_config`"),
        (dict(formats="savedmodel,tflite"), "argument `formats`"),
        (dict(opset=12), "argument `opset`"),
        (dict(name="a/b"), "argument `name`"),
    ):
        arguments = dict(model=ner_model, tokenizer=tokenizer, output_dir=tmp_path,
                         name="ner", labels=labels, **{})
        arguments.update(kwargs)
        with pytest.raises(ValueError, match=message):
            export_encoder_model(**arguments)
    for kwargs, message in (
        (dict(labels=["a"]), "None for a question answering model"),
        (dict(qa_config={"max_length": 64}), "max_sequence_length=32"),
        (dict(qa_config={"stride": 4}), "unknown: \\['stride'\\]"),
        (dict(qa_config={"doc_stride": 30}), "argument `doc_stride`"),
    ):
        with pytest.raises(ValueError, match=message):
            export_encoder_model(qa_model, qa / "tokenizer", tmp_path, name="qa", **kwargs)
    # An existing version is never replaced by accident.
    with pytest.raises(ValueError, match="exists already"):
        export_encoder_model(ner_model, tokenizer, path.parent.parent, name="ner",
                             labels=labels)


# === The command ===


def test_export_encoder_command_with_a_qa_config_file(encoder_demo, tmp_path, capsys):
    _, _, _, training = encoder_demo["question_answering"]
    # As examples/finetune_qa.py writes it.
    qa_config = {"max_length": 24, "doc_stride": 6, "max_question_length": 6,
                 "max_answer_length": 10, "n_best_size": 5, "null_score_threshold": 0.0}
    (tmp_path / "qa_config.json").write_text(json.dumps(qa_config))
    status = cli.main([
        "export-encoder", "--model", str(training / "model.keras"),
        "--tokenizer", str(training / "tokenizer"), "--output", str(tmp_path / "exports"),
        "--name", "qa_cli", "--version", "2", "--formats", "savedmodel",
        "--qa-config", str(tmp_path / "qa_config.json"),
    ])
    assert status == 0
    out = capsys.readouterr().out
    assert "Exported the question_answering model" in out and "within 0.0001" in out
    path = tmp_path / "exports" / "qa_cli" / "2"
    manifest = layout.read_manifest(path)
    assert manifest["question_answering"] == qa_config
    assert QaConfig.from_json(manifest["question_answering"]).max_length == 24
    assert manifest["formats"] == ["savedmodel"] and not layout.onnx_dir(path).exists()
    # No ONNX graph: the onnx runtime is refused, naming the formats.
    with pytest.raises(ValueError, match="formats \\['savedmodel'\\], not 'onnx'"):
        ServedEncoderModel(path, runtime="onnx")
    status = cli.main(["serve", "--model-dir", str(path.parent), "--runtime", "onnx",
                       "--port", "0"])
    assert status == 2
    assert "not 'onnx'" in capsys.readouterr().err


def test_export_encoder_command_reports_bad_arguments(encoder_demo, tmp_path, capsys):
    _, _, _, training = encoder_demo["token_classification"]
    base = ["export-encoder", "--model", str(training / "model.keras"),
            "--tokenizer", str(training / "tokenizer"), "--output", str(tmp_path),
            "--name", "ner"]
    (tmp_path / "tags.txt").write_text("O\nB-PER\nI-PER\n")
    for args, message in (
        ([], "no `labels`"),
        (["--labels", str(tmp_path / "tags.txt")], "argument `labels`"),
        (["--labels", str(training / "labels.json"), "--task", "classification"],
         "argument `task`"),
    ):
        assert cli.main(base + args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("keras-transformer export-encoder: error:") and message in err, err
    with pytest.raises(SystemExit) as caught:
        cli.main(["export-encoder", "--model", "m.keras"])
    assert caught.value.code == 2
