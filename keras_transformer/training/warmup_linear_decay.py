"""Linear warm-up, then linear decay: the fine-tuning and budgeted schedule."""

import keras
from keras import ops

from keras_transformer.layers import checks


def warmup_linear_decay(step, peak_learning_rate, warmup_steps, total_steps,
                        end_learning_rate=0.0):
    """The learning rate at optimizer step `step` (counted from 0).

    Rises linearly from `peak / warmup_steps` to `peak` over the first
    `warmup_steps` steps, then falls linearly to `end_learning_rate` at
    `total_steps` and stays there. Works on Python numbers and on tensors.
    """
    step = ops.cast(step, "float32") + 1.0
    warmup = ops.maximum(ops.cast(warmup_steps, "float32"), 1.0)
    total = ops.maximum(ops.cast(total_steps, "float32"), warmup + 1.0)
    rising = peak_learning_rate * step / warmup
    remaining = ops.clip((total - step) / (total - warmup), 0.0, 1.0)
    falling = end_learning_rate + (peak_learning_rate - end_learning_rate) * remaining
    return ops.where(step <= warmup, rising, falling)


@keras.saving.register_keras_serializable(package="keras_transformer")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to a peak, then linear decay to the end of training.

    The schedule of BERT fine-tuning (Devlin et al., 2019, appendix A.3),
    and, with the decay ending at the last step the budget allows, the
    strong default of budgeted training (Li et al., 2020, "Budgeted
    Training: Rethinking Deep Neural Network Training Under Resource
    Constraints").

    `total_steps` and `warmup_steps` live in non-trainable variables, so
    `fit_to(total_steps)` can move them while `fit` runs (a time budget
    learns how many steps it will allow only after timing a few) without
    retracing the training step.

    Args:
        peak_learning_rate: The rate at the end of the warm-up.
        total_steps: The step at which the rate reaches `end_learning_rate`.
        warmup_fraction: The warm-up's share of `total_steps` (about 0.1 in
            BERT fine-tuning). Ignored when `warmup_steps` is given.
        warmup_steps: A fixed warm-up length, in steps.
        end_learning_rate: The rate from `total_steps` on.

    Example:

    >>> schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_fraction=0.1)
    >>> [round(float(schedule(s)), 6) for s in (0, 9, 54, 99, 150)]
    [0.0001, 0.001, 0.0005, 0.0, 0.0]
    """

    def __init__(self, peak_learning_rate, total_steps, warmup_fraction=0.1,
                 warmup_steps=None, end_learning_rate=0.0):
        self.peak_learning_rate = checks.positive_float(
            "peak_learning_rate", peak_learning_rate)
        total_steps = checks.positive_int("total_steps", total_steps)
        self.warmup_fraction = checks.rate("warmup_fraction", warmup_fraction)
        if warmup_steps is not None:
            warmup_steps = checks.non_negative_int("warmup_steps", warmup_steps)
        self.end_learning_rate = float(end_learning_rate)
        if not 0.0 <= self.end_learning_rate <= self.peak_learning_rate:
            raise checks.invalid_argument(
                "end_learning_rate", "a number in [0, peak_learning_rate]",
                end_learning_rate)
        self._fixed_warmup = warmup_steps
        self._total = keras.Variable(0.0, trainable=False, name="total_steps")
        self._warmup = keras.Variable(0.0, trainable=False, name="warmup_steps")
        self.fit_to(total_steps)

    @property
    def total_steps(self):
        return int(round(float(self._total.numpy())))

    @property
    def warmup_steps(self):
        return int(round(float(self._warmup.numpy())))

    def fit_to(self, total_steps, warmup_steps=None):
        """Ends the decay at `total_steps`; the warm-up follows its fraction.

        Args:
            total_steps: The new end of the decay.
            warmup_steps: A new warm-up length (default: the fixed one given
                to the constructor, or `warmup_fraction * total_steps`).
        """
        total_steps = checks.positive_int("total_steps", int(total_steps))
        if warmup_steps is None:
            warmup_steps = self._fixed_warmup
        if warmup_steps is None:
            warmup_steps = int(round(self.warmup_fraction * total_steps))
        self._total.assign(float(total_steps))
        self._warmup.assign(float(min(warmup_steps, total_steps - 1)))

    def __call__(self, step):
        return warmup_linear_decay(step, self.peak_learning_rate, self._warmup,
                                   self._total, self.end_learning_rate)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_fraction": self.warmup_fraction,
            "warmup_steps": self.warmup_steps,
            "end_learning_rate": self.end_learning_rate,
        }
