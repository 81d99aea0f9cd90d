"""A callback that ends training when a wall-clock budget is spent."""

import time

import keras
from absl import logging

from keras_transformer.layers import checks


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit` after the batch during which `minutes` have elapsed.

    Stopping is logged, with the epoch and optimizer step reached, so a
    shortened run is never mistaken for a full one.

    Time is counted inside `fit` only, summed over `fit` calls. The count
    survives a restart: `backup_state()` and `restore_state()` carry it
    through a `ResumableBackup`, so a resumed run gets the budget that
    remained at its last backup, not a fresh one.

    Args:
        minutes: The budget.

    Example:

    >>> budget = TimeBudget(minutes=2)
    >>> budget.restore_state({"elapsed_seconds": 90.0, "stopped_at": None})
    >>> budget.elapsed_seconds(), budget.remaining_seconds()
    (90.0, 30.0)
    """

    def __init__(self, minutes):
        super().__init__()
        self.minutes = checks.positive_float("minutes", minutes)
        self.stopped_at = None
        self._epoch = 0
        self._elapsed_before = 0.0  # seconds spent in earlier fit calls or starts
        self._start = None  # perf_counter() at the start of the running fit

    def elapsed_seconds(self):
        """Training seconds spent so far, earlier starts included."""
        running = time.perf_counter() - self._start if self._start is not None else 0.0
        return self._elapsed_before + running

    def remaining_seconds(self):
        """Seconds of the budget left (0 once spent)."""
        return max(0.0, 60.0 * self.minutes - self.elapsed_seconds())

    def backup_state(self):
        return {"elapsed_seconds": self.elapsed_seconds(),
                "stopped_at": list(self.stopped_at) if self.stopped_at else None}

    def restore_state(self, state):
        self._elapsed_before = float(state["elapsed_seconds"])
        self._start = None
        stopped_at = state.get("stopped_at")
        self.stopped_at = tuple(stopped_at) if stopped_at else None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_train_end(self, logs=None):
        self._elapsed_before = self.elapsed_seconds()
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.elapsed_seconds() > 60.0 * self.minutes:
            self.model.stop_training = True
            # The optimizer's step counts every start and `fit` call.
            step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            self.stopped_at = (self._epoch, step)
            logging.warning(
                "Time budget of %.1f minutes spent: stopping training in "
                "epoch %d at optimizer step %d.", self.minutes, self._epoch + 1, step,
            )
