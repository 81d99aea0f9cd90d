"""A callback that ends training when a wall-clock budget is spent."""

import time

import keras
from absl import logging

from keras_transformer.layers import checks


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit` after the batch during which `minutes` have elapsed.

    Stopping is logged, with the epoch and step reached, so a shortened run
    is never mistaken for a full one.

    Args:
        minutes: The budget, counted from the start of `fit`.
    """

    def __init__(self, minutes):
        super().__init__()
        self.minutes = checks.positive_float("minutes", minutes)
        self.stopped_at = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self._start > 60.0 * self.minutes:
            self.model.stop_training = True
            self.stopped_at = (self._epoch, batch)
            logging.warning(
                "Time budget of %.1f minutes spent: stopping training at "
                "epoch %d, step %d.", self.minutes, self._epoch + 1, batch + 1,
            )
