"""Training: masked, label-smoothed loss; masked accuracy; schedule; runs."""

from keras_transformer.training.budget_schedule import FitScheduleToBudget
from keras_transformer.training.collapse_monitor import CollapseMonitor
from keras_transformer.training.collapse_monitor import mean_cosine_similarity
from keras_transformer.training.distributed import is_chief
from keras_transformer.training.distributed import prepare_multi_worker_fit
from keras_transformer.training.distributed import remove_worker_output_dirs
from keras_transformer.training.distributed import worker_output_dir
from keras_transformer.training.fine_tuning import NO_WEIGHT_DECAY
from keras_transformer.training.fine_tuning import fine_tuning_optimizer
from keras_transformer.training.masked_accuracy import MaskedAccuracy
from keras_transformer.training.masked_loss import MaskedSparseCrossentropy
from keras_transformer.training.model_selection import EpochEvaluation
from keras_transformer.training.model_selection import slim_save
from keras_transformer.training.precision import PRECISIONS
from keras_transformer.training.precision import resolve_precision
from keras_transformer.training.precision import set_precision
from keras_transformer.training.progress_log import ProgressLog
from keras_transformer.training.resumable_backup import ResumableBackup
from keras_transformer.training.strategies import STRATEGIES
from keras_transformer.training.strategies import get_strategy
from keras_transformer.training.time_budget import TimeBudget
from keras_transformer.training.transformer_schedule import TransformerSchedule
from keras_transformer.training.warmup_linear_decay import WarmupLinearDecay
from keras_transformer.training.warmup_linear_decay import warmup_linear_decay

__all__ = [
    "NO_WEIGHT_DECAY",
    "PRECISIONS",
    "STRATEGIES",
    "CollapseMonitor",
    "EpochEvaluation",
    "FitScheduleToBudget",
    "MaskedAccuracy",
    "MaskedSparseCrossentropy",
    "ProgressLog",
    "ResumableBackup",
    "TimeBudget",
    "TransformerSchedule",
    "WarmupLinearDecay",
    "fine_tuning_optimizer",
    "get_strategy",
    "is_chief",
    "prepare_multi_worker_fit",
    "remove_worker_output_dirs",
    "mean_cosine_similarity",
    "resolve_precision",
    "set_precision",
    "slim_save",
    "warmup_linear_decay",
    "worker_output_dir",
]
