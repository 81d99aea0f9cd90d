"""Label-smoothed cross-entropy over real (non-padding) tokens."""

import keras
from keras import ops

from keras_transformer.layers import checks


@keras.saving.register_keras_serializable(package="keras_transformer")
class MaskedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy from logits, label-smoothed, averaged over real tokens.

    With smoothing e and V classes the target puts 1 - e on the true token
    and e / V on every token (Szegedy et al. 2016; e = 0.1 in "Attention Is
    All You Need"):

        loss = (1 - e) * -log p(y) + e * mean_v(-log p(v))

    Positions whose label is `pad_id` count neither in the sum nor in the
    token count, so the loss does not depend on how much padding a batch has.

    Args:
        label_smoothing: e, in [0, 1).
        pad_id: The label of padding positions.
        name: Loss name.

    Example:

    >>> import numpy as np
    >>> loss = MaskedSparseCrossentropy(label_smoothing=0.0)
    >>> logits = np.log(np.array([[[0.25, 0.5, 0.25], [1/3, 1/3, 1/3]]], "float32"))
    >>> round(float(loss(np.array([[1, 0]]), logits)), 4)  # one real token: -log 0.5
    0.6931
    """

    def __init__(self, label_smoothing=0.1, pad_id=0, name="masked_crossentropy", **kwargs):
        super().__init__(name=name, reduction="sum", **kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise checks.invalid_argument(
                "label_smoothing", "a float in [0, 1)", label_smoothing
            )
        self.label_smoothing = float(label_smoothing)
        self.pad_id = checks.non_negative_int("pad_id", pad_id)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        # Log-probabilities in float32: under mixed precision the logits are
        # float16/bfloat16, too coarse for a sum over the vocabulary.
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        # The pad label is a valid index, so the gather is safe; it is masked.
        true_log_probs = ops.take_along_axis(
            log_probs, ops.expand_dims(y_true, -1), axis=-1
        )[..., 0]
        per_token = -(1.0 - self.label_smoothing) * true_log_probs
        if self.label_smoothing:
            per_token -= self.label_smoothing * ops.mean(log_probs, axis=-1)
        real = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        # Per-token terms already divided by the real-token count; the "sum"
        # reduction then gives the mean. They stay (B, T) because Keras
        # multiplies a loss by the Keras mask of the logits (the decoder's
        # padding mask, 0/1 at the same positions) before reducing: a scalar
        # would be counted once per real token.
        return per_token * real / (ops.maximum(ops.sum(real), 1.0) * _num_replicas())

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        config.update({"label_smoothing": self.label_smoothing, "pad_id": self.pad_id})
        return config


def _num_replicas():
    """Replicas of the current `tf.distribute` strategy (1 outside one).

    Keras divides its built-in mean losses by this, because a strategy sums
    the replicas' gradients and Keras multiplies the logged loss back; a
    "sum"-reduced loss must do the same itself, or MirroredStrategy trains
    with N times the gradient and logs N times the loss.
    """
    if keras.backend.backend() != "tensorflow":
        return 1.0
    import tensorflow as tf

    return float(tf.distribute.get_strategy().num_replicas_in_sync)
