"""The BERT fine-tuning recipe: AdamW, warm-up and linear decay, clipping."""

import keras

from keras_transformer.layers import checks
from keras_transformer.training.warmup_linear_decay import WarmupLinearDecay

# Weight decay regularizes weight matrices; LayerNorm scales and offsets and
# biases are left alone, as in BERT's original optimizer (Devlin et al.,
# 2019; google-research/bert optimization.py). Keras matches these
# substrings against variable names.
NO_WEIGHT_DECAY = ("gamma", "beta", "bias")


def fine_tuning_optimizer(peak_learning_rate, total_steps, warmup_fraction=0.1,
                          weight_decay=0.01, global_clipnorm=1.0):
    """AdamW with linear warm-up and decay, as BERT fine-tuning uses it.

    Args:
        peak_learning_rate: The rate at the end of the warm-up (BERT's papers
            use 2e-5 to 5e-5 for base models; small models take more).
        total_steps: The optimizer steps the run will take; the rate decays
            to 0 there.
        warmup_fraction: The warm-up's share of `total_steps`.
        weight_decay: Decoupled weight decay (Loshchilov & Hutter), applied
            to neither LayerNorm nor biases.
        global_clipnorm: Gradients are scaled so that their global norm is
            at most this.

    Returns:
        A `keras.optimizers.AdamW` whose `learning_rate` is a
        `WarmupLinearDecay`.

    Example:

    >>> optimizer = fine_tuning_optimizer(5e-5, total_steps=1000)
    >>> round(float(optimizer.learning_rate), 9)  # step 0 of a 100-step warm-up
    5e-07
    """
    schedule = WarmupLinearDecay(peak_learning_rate, total_steps,
                                 warmup_fraction=warmup_fraction)
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=checks.non_negative_float("weight_decay", weight_decay),
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        global_clipnorm=checks.positive_float("global_clipnorm", global_clipnorm),
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    return optimizer
