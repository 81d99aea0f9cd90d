"""keras_transformer: Transformer layers and models for Keras 3 on TensorFlow.

Importing the package registers every custom Keras object (layers, models,
losses, metrics, learning-rate schedules), so a saved model loads with
nothing else imported:

    import keras
    import keras_transformer  # noqa: F401

    model = keras.saving.load_model("artifacts/translation/model.keras")

`layers`, `models` and `training` are imported at once (they hold the
registered objects); the other subpackages (`data`, `generation`,
`translation`, `evaluation`, `question_answering`, `jobs`, `export`,
`serving`) on first use of `keras_transformer.<name>`, so that importing
the package stays quick and does not load TensorFlow Datasets, ONNX or the
server.
"""

import importlib

from keras_transformer import layers
from keras_transformer import models
from keras_transformer import training
from keras_transformer.training import token_count as _token_count  # registers TokenCount

__version__ = "0.1.0"

_LAZY_SUBPACKAGES = (
    "data",
    "evaluation",
    "export",
    "generation",
    "jobs",
    "question_answering",
    "serving",
    "translation",
)

__all__ = ["layers", "models", "training", *_LAZY_SUBPACKAGES, "__version__"]


def __getattr__(name):
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY_SUBPACKAGES})
