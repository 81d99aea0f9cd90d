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
        return per_token * real / ops.maximum(_global_count(ops.sum(real)), 1.0)

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        config.update({"label_smoothing": self.label_smoothing, "pad_id": self.pad_id})
        return config


def _global_count(local_count):
    """Real tokens in the whole global batch, under `tf.distribute` too.

    A strategy splits a global batch over its replicas and sums their
    gradients, so each replica divides its sum by the global count: the
    gradient is then that of the mean over every real token of the global
    batch, as in one process (Keras multiplies the logged loss back by the
    replica count, so the logged value is that mean too when the slices
    hold as many sentences). Dividing by the replica's own count times the
    replicas would average the replicas' means instead, which differ when
    their slices hold different numbers of real tokens.
    """
    if keras.backend.backend() != "tensorflow":
        return local_count
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return local_count
    return tf.stop_gradient(context.all_reduce("SUM", local_count))
