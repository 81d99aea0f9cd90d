"""Training: masked, label-smoothed loss; masked accuracy; schedule; runs."""

from keras_transformer.training.masked_accuracy import MaskedAccuracy
from keras_transformer.training.masked_loss import MaskedSparseCrossentropy
from keras_transformer.training.strategies import STRATEGIES
from keras_transformer.training.strategies import get_strategy
from keras_transformer.training.time_budget import TimeBudget
from keras_transformer.training.transformer_schedule import TransformerSchedule

__all__ = [
    "STRATEGIES",
    "MaskedAccuracy",
    "MaskedSparseCrossentropy",
    "TimeBudget",
    "TransformerSchedule",
    "get_strategy",
]
