"""Training: masked, label-smoothed loss; masked accuracy; schedule; runs."""

from keras_transformer.training.masked_accuracy import MaskedAccuracy
from keras_transformer.training.masked_loss import MaskedSparseCrossentropy
from keras_transformer.training.precision import PRECISIONS
from keras_transformer.training.precision import resolve_precision
from keras_transformer.training.precision import set_precision
from keras_transformer.training.progress_log import ProgressLog
from keras_transformer.training.strategies import STRATEGIES
from keras_transformer.training.strategies import get_strategy
from keras_transformer.training.time_budget import TimeBudget
from keras_transformer.training.transformer_schedule import TransformerSchedule

__all__ = [
    "PRECISIONS",
    "STRATEGIES",
    "MaskedAccuracy",
    "MaskedSparseCrossentropy",
    "ProgressLog",
    "TimeBudget",
    "TransformerSchedule",
    "get_strategy",
    "resolve_precision",
    "set_precision",
]
