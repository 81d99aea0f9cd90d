"""The number of real target tokens seen, as a metric."""

import keras
from keras import ops

from keras_transformer.layers import checks


@keras.saving.register_keras_serializable(package="keras_transformer")
class TokenCount(keras.metrics.Metric):
    """Counts the target tokens (labels other than `pad_id`) seen.

    Compiled into a model, it reports the tokens trained on per epoch
    (Keras resets metrics at each epoch), and on the validation data as
    `val_tokens`. Under a distribution strategy the replicas' counts add up.

    Example:

    >>> import numpy as np
    >>> metric = TokenCount()
    >>> metric.update_state(np.array([[5, 7, 0], [3, 0, 0]]), np.zeros((2, 3, 9)))
    >>> int(metric.result())
    3
    """

    def __init__(self, pad_id=0, name="tokens", **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = checks.non_negative_int("pad_id", pad_id)
        # An integer: a float32 count stops growing at 2**24 tokens.
        self.count = self.add_variable((), initializer="zeros", name="count",
                                       dtype="int64", aggregation="sum")

    def update_state(self, y_true, y_pred, sample_weight=None):
        real = ops.not_equal(ops.cast(y_true, "int32"), self.pad_id)
        self.count.assign_add(ops.sum(ops.cast(real, "int64")))

    def result(self):
        # A copy: the variable itself would show the validation count in
        # the epoch logs, as `evaluate` reuses the metric.
        return ops.copy(self.count)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}
