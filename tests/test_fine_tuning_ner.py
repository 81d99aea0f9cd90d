"""Fine-tuning that works on unseen data: model selection, collapse warning,
slim saves, and (further down) the NER recipe on real data."""

import logging
import zipfile

import keras
import numpy as np
import pytest

from keras_transformer.training import CollapseMonitor
from keras_transformer.training import EpochEvaluation
from keras_transformer.training import mean_cosine_similarity
from keras_transformer.training import slim_save


def quiet(line):
    del line


def linear_model(learning_rate=0.1):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    model.layers[0].kernel.assign([[0.0]])
    return model


# === EpochEvaluation ===


def test_epoch_evaluation_stops_after_patience_and_restores_the_best_epoch(tmp_path):
    model = linear_model()
    x, y = np.ones((4, 1)), np.ones((4, 1))
    scores = iter([0.2, 0.5, 0.4, 0.45, 0.9])  # best at epoch 2, then 2 worse
    kernels = []

    def evaluate(model):
        kernels.append(float(model.layers[0].kernel.numpy()[0, 0]))
        return {"f1": next(scores), "loss_like": 1.0}

    checkpoint = tmp_path / "best.keras"
    selection = EpochEvaluation(evaluate, "f1", patience=2, checkpoint_path=checkpoint,
                                print_fn=quiet)
    history = model.fit(x, y, epochs=5, batch_size=4, verbose=0, callbacks=[selection])
    assert [h["epoch"] for h in selection.history] == [1, 2, 3, 4]
    assert history.history["val_f1"] == [0.2, 0.5, 0.4, 0.45]
    assert (selection.best, selection.best_epoch, selection.stopped_epoch) == (0.5, 2, 4)
    # The model that leaves fit has the weights evaluated at epoch 2.
    assert float(model.layers[0].kernel.numpy()[0, 0]) == pytest.approx(kernels[1])
    assert kernels[1] != pytest.approx(kernels[3])
    saved = keras.saving.load_model(checkpoint)
    assert float(saved.layers[0].kernel.numpy()[0, 0]) == pytest.approx(kernels[1])
    assert not saved.compiled


def test_epoch_evaluation_min_mode_and_no_patience():
    model = linear_model()
    values = iter([3.0, 1.0, 2.0, 2.5])
    selection = EpochEvaluation(lambda m: {"error": next(values)}, "error", mode="min",
                                patience=None, print_fn=quiet)
    model.fit(np.ones((4, 1)), np.ones((4, 1)), epochs=4, verbose=0, callbacks=[selection])
    assert (len(selection.history), selection.best, selection.best_epoch) == (4, 1.0, 2)
    assert selection.stopped_epoch is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(evaluate_fn=None), "argument `evaluate_fn`"),
        (dict(monitor=""), "argument `monitor`"),
        (dict(mode="up"), "argument `mode`"),
        (dict(patience=0), "argument `patience`"),
        (dict(checkpoint_path="best.h5"), "argument `checkpoint_path`"),
    ],
)
def test_epoch_evaluation_rejects_bad_arguments(kwargs, message):
    arguments = dict(evaluate_fn=lambda m: {"f1": 1.0}, monitor="f1")
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        EpochEvaluation(**arguments)


def test_epoch_evaluation_names_the_missing_monitor():
    selection = EpochEvaluation(lambda m: {"f1": 1.0}, "accuracy", print_fn=quiet)
    with pytest.raises(ValueError, match=r"argument `monitor`.*\['f1'\].*'accuracy'"):
        linear_model().fit(np.ones((2, 1)), np.ones((2, 1)), verbose=0, callbacks=[selection])


# === slim_save ===


def test_slim_save_leaves_out_the_optimizer_and_keeps_training_possible(tmp_path):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(512), keras.layers.Dense(2)])
    model.compile(optimizer="adamw", loss="mse")
    model.fit(np.ones((4, 8)), np.ones((4, 2)), verbose=0)
    model.save(tmp_path / "full.keras")
    slim_save(model, tmp_path / "slim.keras")
    with zipfile.ZipFile(tmp_path / "full.keras") as full, \
            zipfile.ZipFile(tmp_path / "slim.keras") as slim:
        full_size = full.getinfo("model.weights.h5").file_size
        slim_size = slim.getinfo("model.weights.h5").file_size
    # AdamW keeps two float32 moments per weight: those bytes are gone.
    assert full_size - slim_size >= 2 * 4 * model.count_params()
    assert slim_size < 4 * model.count_params() + 20_000
    restored = keras.saving.load_model(tmp_path / "slim.keras")
    np.testing.assert_allclose(restored(np.ones((1, 8))), model(np.ones((1, 8))), atol=1e-6)
    before = int(model.optimizer.iterations.numpy())
    model.fit(np.ones((4, 8)), np.ones((4, 2)), verbose=0)
    assert int(model.optimizer.iterations.numpy()) == before + 1
    with pytest.raises(ValueError, match="argument `path`"):
        slim_save(model, tmp_path / "model.h5")


# === Collapse ===


def test_mean_cosine_similarity_closed_forms():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 7))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    pairs = [unit[i] @ unit[j] for i in range(5) for j in range(5) if i != j]
    assert mean_cosine_similarity(vectors) == pytest.approx(np.mean(pairs))
    assert mean_cosine_similarity(np.ones((2, 3, 4)) * [1, 2, 3, 4]) == pytest.approx(1.0)
    # Padding is left out.
    padded = np.concatenate([vectors[None], -vectors[None, :1]], axis=1)
    mask = np.array([[1] * 5 + [0]])
    assert mean_cosine_similarity(padded, mask) == pytest.approx(np.mean(pairs))


class CollapsingEncoder:
    """Token vectors that become one vector after step 20."""

    def __init__(self, monitor):
        self.monitor = monitor

    def __call__(self, inputs, training=False):
        shape = np.shape(inputs["padding_mask"]) + (8,)
        if self.monitor._step >= 20:
            return {"sequence_output": np.ones(shape)}
        return {"sequence_output": np.random.default_rng(0).normal(size=shape)}


def test_collapse_monitor_warns_once_at_the_step_it_happens(caplog):
    probe = {"padding_mask": np.ones((2, 6), "int32")}
    monitor = CollapseMonitor(probe, threshold=0.9, every_n_steps=10)
    monitor.encoder = CollapsingEncoder(monitor)
    model = linear_model()
    with caplog.at_level(logging.WARNING):
        model.fit(np.ones((40, 1)), np.ones((40, 1)), batch_size=1, verbose=0,
                  callbacks=[monitor])
    assert [step for step, _ in monitor.history] == [0, 10, 20, 30, 40]
    assert monitor.collapsed_at == 20
    assert monitor.history[2][1] == pytest.approx(1.0)
    assert monitor.history[0][1] < 0.5
    warnings = [r for r in caplog.records if "collapsed" in r.getMessage()]
    assert len(warnings) == 1 and "step 20" in warnings[0].getMessage()
