"""FitScheduleToBudget: warm-up and decay fitted to the steps a time budget allows."""

import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_transformer.training import TimeBudget
from keras_transformer.training import WarmupLinearDecay
from keras_transformer.training.budget_schedule import FitScheduleToBudget
from keras_transformer.training.budget_schedule import plot_learning_rates

PEAK = 1e-2


class SlowSteps(keras.callbacks.Callback):
    """Makes every step take at least `seconds`, like a model on a slow CPU."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.seconds)


def fit_with_budget(minutes, epochs, steps_per_epoch, step_seconds=0.02):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    schedule = WarmupLinearDecay(PEAK, total_steps=epochs * steps_per_epoch,
                                 warmup_fraction=0.1)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    budget = TimeBudget(minutes)
    fitter = FitScheduleToBudget(schedule, budget, refit_every=10,
                                 print_fn=lambda line: None)
    batches = tf.data.Dataset.from_tensors((x, x[:, :1])).repeat()
    model.fit(batches, epochs=epochs,
              steps_per_epoch=steps_per_epoch, verbose=0,
              callbacks=[SlowSteps(step_seconds), budget, fitter])
    return model, schedule, budget, fitter


def test_a_run_stopped_by_its_budget_ends_its_decay(tmp_path):
    # 6 seconds of >= 40 ms steps (the sleep dominates, so the step time
    # stays steady on a loaded machine): at most 150 of the 100,000 asked for.
    model, schedule, budget, fitter = fit_with_budget(
        minutes=0.1, epochs=100, steps_per_epoch=1000, step_seconds=0.04)
    assert budget.stopped_at is not None
    steps = int(model.optimizer.iterations.numpy())
    assert 30 < steps < 100_000
    # The decay ends near the step at which the budget stopped the run...
    assert abs(schedule.total_steps - steps) <= 0.3 * steps
    # ...so the last step's rate is near the end of the decay, not in warm-up.
    last_step, last_rate = fitter.learning_rates[-1]
    assert last_step == steps - 1
    assert last_rate < 0.25 * PEAK
    # The warm-up is a tenth of the first estimate of the total, set once
    # (that estimate, after 8 timed steps, is noisy on a loaded machine).
    assert schedule.warmup_steps == fitter.warmup_steps
    assert fitter.warmup_steps == round(0.1 * fitter.estimates[0][1])
    assert fitter.warmup_steps <= 0.3 * steps
    # The recorded rates are those of the closed form at the final settings
    # after the last estimate.
    rates = dict(fitter.learning_rates)
    last_refit = fitter.estimates[-1][0]
    for step in range(last_refit, steps):
        assert rates[step] == pytest.approx(float(schedule(step)), rel=1e-6)
    # The rate rose to (about) the peak before the first estimate moved the
    # warm-up, a few steps in, and never went past it.
    assert 0.7 * PEAK < max(rates.values()) <= PEAK * (1 + 1e-6)
    plot_learning_rates(fitter.learning_rates, tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


def test_a_budget_that_does_not_bind_leaves_the_planned_schedule():
    model, schedule, budget, fitter = fit_with_budget(
        minutes=10.0, epochs=2, steps_per_epoch=30, step_seconds=0.0)
    assert budget.stopped_at is None
    assert int(model.optimizer.iterations.numpy()) == 60
    assert schedule.total_steps == 60
    assert schedule.warmup_steps == 6
    # Linear from the peak at step 5 (0-based) to zero at the 60th step.
    assert fitter.learning_rates[5] == (5, pytest.approx(PEAK, rel=1e-6))
    assert fitter.learning_rates[-2] == (58, pytest.approx(PEAK / 54, rel=1e-5))
    assert fitter.learning_rates[-1] == (59, 0.0)


def test_bad_arguments_are_named():
    schedule = WarmupLinearDecay(PEAK, total_steps=10)
    with pytest.raises(ValueError, match="schedule"):
        FitScheduleToBudget(keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5),
                            TimeBudget(1.0))
    with pytest.raises(ValueError, match="budget"):
        FitScheduleToBudget(schedule, 5.0)
    with pytest.raises(ValueError, match="refit_every=0"):
        FitScheduleToBudget(schedule, TimeBudget(1.0), refit_every=0)
