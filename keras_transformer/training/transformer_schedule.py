"""The learning-rate schedule of "Attention Is All You Need" (section 5.3)."""

import keras
from keras import ops

from keras_transformer.layers import checks


@keras.saving.register_keras_serializable(package="keras_transformer")
class TransformerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """lr = scale * D^-0.5 * min(step^-0.5, step * warmup_steps^-1.5).

    Linear warm-up for `warmup_steps`, then decay with the inverse square
    root of the step. Steps count from 1 (Keras's optimizer passes its
    iteration count, which starts at 0).

    Args:
        hidden_dim: D, the model size.
        warmup_steps: Length of the warm-up (4000 in the paper).
        scale: A factor on the whole curve (1.0 in the paper; small models
            trained briefly often use 2.0).

    Example:

    >>> schedule = TransformerSchedule(hidden_dim=512, warmup_steps=4000)
    >>> round(float(schedule(3999)), 6)  # the peak, at step 4000
    0.000699
    """

    def __init__(self, hidden_dim, warmup_steps=4000, scale=1.0):
        self.hidden_dim = checks.positive_int("hidden_dim", hidden_dim)
        self.warmup_steps = checks.positive_int("warmup_steps", warmup_steps)
        self.scale = checks.positive_float("scale", scale)

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        warmup = ops.cast(self.warmup_steps, "float32")
        return (
            self.scale
            * self.hidden_dim**-0.5
            * ops.minimum(ops.rsqrt(step), step * warmup**-1.5)
        )

    def get_config(self):
        return {
            "hidden_dim": self.hidden_dim,
            "warmup_steps": self.warmup_steps,
            "scale": self.scale,
        }
