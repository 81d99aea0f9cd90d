"""BertClassifier: contract, config round trip, saving and training."""

import keras
import numpy as np
import pytest

from keras_transformer.models import BertClassifier
from keras_transformer.models import BertEncoder

TINY = dict(
    vocabulary_size=40,
    num_layers=1,
    num_heads=2,
    hidden_dim=8,
    intermediate_dim=16,
    max_sequence_length=12,
)


def _inputs(batch_size=4, length=6, seed=0):
    rng = np.random.default_rng(seed)
    padding_mask = np.ones((batch_size, length), "int32")
    padding_mask[::2, length - 2:] = 0
    return {
        "token_ids": rng.integers(1, TINY["vocabulary_size"], (batch_size, length)),
        "segment_ids": np.zeros((batch_size, length), "int32"),
        "padding_mask": padding_mask,
    }


def test_logits_shape():
    classifier = BertClassifier(BertEncoder(**TINY), num_classes=3)
    assert tuple(classifier(_inputs()).shape) == (4, 3)


def test_config_round_trip():
    classifier = BertClassifier(BertEncoder(**TINY), num_classes=5, dropout=0.2)
    config = classifier.get_config()
    assert config["num_classes"] == 5
    assert config["dropout"] == 0.2
    clone = BertClassifier.from_config(config)
    assert type(clone) is BertClassifier
    assert type(clone.encoder) is BertEncoder
    assert clone.get_config() == config
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(classifier)
    )
    assert type(revived) is BertClassifier
    assert revived.get_config() == config


def test_keras_save_and_load_give_equal_outputs(tmp_path):
    classifier = BertClassifier(BertEncoder(**TINY), num_classes=2)
    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is BertClassifier
    inputs = _inputs()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(inputs)),
        keras.ops.convert_to_numpy(classifier(inputs)),
    )


def test_fit_learns_a_separable_task():
    # Class = whether token 1 appears; a few steps must lower the loss.
    rng = np.random.default_rng(0)
    inputs = _inputs(batch_size=32, length=6)
    inputs["token_ids"] = rng.integers(2, TINY["vocabulary_size"], (32, 6))
    labels = np.arange(32) % 2
    inputs["token_ids"][labels == 1, 1] = 1
    classifier = BertClassifier(BertEncoder(**TINY), num_classes=2, dropout=0.0)
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = classifier.fit(inputs, labels, epochs=8, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]


def test_mixed_precision_head_follows_the_encoder():
    encoder = BertEncoder(**TINY, dtype="mixed_bfloat16")
    classifier = BertClassifier(encoder, num_classes=2)
    assert classifier.logits_dense.dtype_policy.name == "mixed_bfloat16"
    logits = classifier(_inputs())
    assert keras.backend.standardize_dtype(logits.dtype) == "bfloat16"


def test_invalid_arguments():
    with pytest.raises(ValueError, match="`encoder`, expected a `BertEncoder`"):
        BertClassifier(keras.layers.Dense(3), num_classes=2)
    with pytest.raises(ValueError, match="num_classes=0"):
        BertClassifier(BertEncoder(**TINY), num_classes=0)
