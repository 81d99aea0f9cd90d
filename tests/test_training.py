"""Loss, metric, schedule, the seq2seq model, and distributed training."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_transformer.models import SEQ2SEQ_PRESETS
from keras_transformer.models import Seq2SeqTransformer
from keras_transformer.training import MaskedAccuracy
from keras_transformer.training import MaskedSparseCrossentropy
from keras_transformer.training import TransformerSchedule

RNG = np.random.default_rng(11)


def numpy_smoothed_loss(labels, logits, smoothing, pad_id=0):
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    vocabulary = logits.shape[-1]
    target = np.full(logits.shape, smoothing / vocabulary)
    target += (1 - smoothing) * np.eye(vocabulary)[labels]
    per_token = -(target * log_probs).sum(-1)
    real = labels != pad_id
    return per_token[real].mean()


class TestMaskedSparseCrossentropy:
    @pytest.mark.parametrize("smoothing", [0.0, 0.1])
    def test_matches_the_smoothed_target_distribution(self, smoothing):
        labels = np.array([[4, 2, 7, 0, 0], [1, 3, 0, 0, 0]])
        logits = RNG.normal(size=(2, 5, 9)).astype("float32")
        loss = MaskedSparseCrossentropy(label_smoothing=smoothing)(labels, logits)
        np.testing.assert_allclose(
            loss, numpy_smoothed_loss(labels, logits, smoothing), rtol=1e-5
        )

    def test_padding_does_not_change_the_loss(self):
        labels = np.array([[4, 2, 7], [1, 3, 5]])
        logits = RNG.normal(size=(2, 3, 9)).astype("float32")
        padded_labels = np.pad(labels, ((0, 0), (0, 4)))
        padded_logits = np.concatenate([logits, RNG.normal(size=(2, 4, 9))], 1)
        loss = MaskedSparseCrossentropy()
        np.testing.assert_allclose(
            loss(labels, logits), loss(padded_labels, padded_logits.astype("float32")),
            rtol=1e-6,
        )

    def test_config_round_trip_and_bad_input(self):
        loss = MaskedSparseCrossentropy(0.2, pad_id=1)
        clone = keras.losses.deserialize(keras.losses.serialize(loss))
        assert (clone.label_smoothing, clone.pad_id) == (0.2, 1)
        with pytest.raises(ValueError, match="label_smoothing=1.5"):
            MaskedSparseCrossentropy(1.5)


def test_masked_accuracy_counts_real_tokens_only():
    metric = MaskedAccuracy()
    labels = np.array([[1, 2, 0], [2, 2, 2]])
    predictions = np.eye(3)[[[1, 1, 1], [2, 0, 2]]]
    metric.update_state(labels, predictions)
    np.testing.assert_allclose(metric.result(), 3 / 5)


class TestTransformerSchedule:
    def test_matches_the_paper(self):
        schedule = TransformerSchedule(hidden_dim=512, warmup_steps=4000)
        for step in [1, 100, 4000, 10000, 100000]:
            expected = 512**-0.5 * min(step**-0.5, step * 4000**-1.5)
            np.testing.assert_allclose(schedule(step - 1), expected, rtol=1e-5)

    def test_serializes_inside_an_optimizer(self):
        optimizer = keras.optimizers.Adam(TransformerSchedule(64, 10, scale=2.0))
        clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
        schedule = keras.optimizers.schedules.deserialize(
            clone.get_config()["learning_rate"]
        )
        assert isinstance(schedule, TransformerSchedule)
        assert schedule.get_config() == {"hidden_dim": 64, "warmup_steps": 10, "scale": 2.0}
        np.testing.assert_allclose(clone.learning_rate, optimizer.learning_rate)

    def test_rejects_bad_arguments(self):
        with pytest.raises(ValueError, match="warmup_steps=0"):
            TransformerSchedule(64, warmup_steps=0)


class TestSeq2SeqTransformer:
    inputs = {
        "encoder_token_ids": np.array([[4, 5, 6, 0], [7, 8, 9, 10]], "int32"),
        "decoder_token_ids": np.array([[2, 7, 8], [2, 3, 0]], "int32"),
    }

    @pytest.mark.parametrize(
        "options",
        [{}, {"norm_first": True, "positional_encoding": "learned"},
         {"share_embeddings": True, "tie_output_embeddings": False},
         {"dtype": "mixed_bfloat16"}],
    )
    def test_config_and_keras_round_trip(self, tmp_path, options):
        model = Seq2SeqTransformer.from_preset("cpu_tiny", encoder_vocabulary_size=20, **options)
        config = model.get_config()
        assert Seq2SeqTransformer.from_config(config).get_config() == config
        path = str(tmp_path / "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert type(loaded) is Seq2SeqTransformer
        assert loaded.dtype_policy.name == model.dtype_policy.name
        np.testing.assert_array_equal(loaded(self.inputs), model(self.inputs))

    def test_separate_vocabularies_and_shapes(self):
        model = Seq2SeqTransformer.from_preset(
            "cpu_tiny", encoder_vocabulary_size=20, decoder_vocabulary_size=13
        )
        assert tuple(model(self.inputs).shape) == (2, 3, 13)

    def test_tied_embeddings_share_one_table(self):
        model = Seq2SeqTransformer.from_preset(
            "cpu_tiny", encoder_vocabulary_size=20, share_embeddings=True
        )
        untied = Seq2SeqTransformer.from_preset(
            "cpu_tiny", encoder_vocabulary_size=20, tie_output_embeddings=False
        )
        assert model.count_params() < untied.count_params()
        assert model.encoder_embedding is model.decoder_embedding

    def test_base_preset_has_the_papers_size(self):
        # Table 3 of the paper: 65M parameters with a 37000-token shared vocabulary.
        model = Seq2SeqTransformer.from_preset(
            "transformer_base", encoder_vocabulary_size=37000, share_embeddings=True
        )
        assert 60e6 < model.count_params() < 66e6
        assert SEQ2SEQ_PRESETS["transformer_base"]["hidden_dim"] == 512

    def test_fit_reduces_the_loss(self):
        model = Seq2SeqTransformer.from_preset("cpu_tiny", encoder_vocabulary_size=20)
        model.compile(keras.optimizers.Adam(1e-2), MaskedSparseCrossentropy(),
                      metrics=[MaskedAccuracy()])
        target = np.array([[7, 8, 3], [3, 0, 0]], "int32")
        history = model.fit(self.inputs, target, epochs=5, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0]

    def test_rejects_bad_arguments(self):
        with pytest.raises(ValueError, match="preset='huge'"):
            Seq2SeqTransformer.from_preset("huge", encoder_vocabulary_size=20)
        with pytest.raises(ValueError, match="hidden_dim=30, num_heads=4"):
            Seq2SeqTransformer(20, hidden_dim=30, num_heads=4)
        with pytest.raises(ValueError, match="decoder_vocabulary_size=30"):
            Seq2SeqTransformer(20, 30, share_embeddings=True)
        with pytest.raises(ValueError, match="encoder_vocabulary_size=0"):
            Seq2SeqTransformer(0)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from keras_transformer.models import Seq2SeqTransformer
    from keras_transformer.training import MaskedSparseCrossentropy, get_strategy

    rng = np.random.default_rng(0)
    # No padding, so every replica averages over as many tokens as the other,
    # and the mean of replica means is the global mean.
    x = {"encoder_token_ids": rng.integers(1, 20, (8, 5)).astype("int32"),
         "decoder_token_ids": rng.integers(1, 20, (8, 4)).astype("int32")}
    y = rng.integers(1, 20, (8, 4)).astype("int32")

    def run(strategy_name):
        keras.utils.set_random_seed(0)
        strategy = get_strategy(strategy_name)
        with strategy.scope():
            model = Seq2SeqTransformer.from_preset("cpu_tiny", encoder_vocabulary_size=20)
            model.compile(keras.optimizers.SGD(0.5), MaskedSparseCrossentropy())
        history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return strategy.num_replicas_in_sync, history.history["loss"]

    json.dump({"default": run("default"), "mirrored": run("mirrored")}, sys.stdout)
    """
)


def test_mirrored_strategy_matches_single_device():
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    losses = json.loads(result.stdout.strip().splitlines()[-1])
    assert losses["default"][0] == 1 and losses["mirrored"][0] == 2
    # Two steps: the second loss also checks that the gradient update agrees.
    np.testing.assert_allclose(losses["mirrored"][1], losses["default"][1], rtol=1e-4)


def test_loss_in_fit_is_the_mean_over_real_tokens():
    """The logits carry the decoder's Keras mask; the loss must not be
    multiplied by the token count (it is about log V for a fresh model)."""
    model = Seq2SeqTransformer.from_preset("cpu_tiny", encoder_vocabulary_size=50)
    model.compile("sgd", MaskedSparseCrossentropy(label_smoothing=0.0))
    inputs = {
        "encoder_token_ids": np.array([[4, 5, 6, 0], [7, 8, 9, 10]], "int32"),
        "decoder_token_ids": np.array([[2, 7, 8, 9, 0], [2, 3, 0, 0, 0]], "int32"),
    }
    target = np.array([[7, 8, 9, 3, 0], [3, 5, 0, 0, 0]], "int32")
    logits = np.asarray(model(inputs))
    expected = numpy_smoothed_loss(target, logits, 0.0)
    np.testing.assert_allclose(model.evaluate(inputs, target, verbose=0), expected, rtol=1e-5)
    assert expected < 2 * np.log(50)
