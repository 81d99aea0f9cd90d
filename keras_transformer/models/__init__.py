"""Models built with the functional API from `keras_transformer.layers`."""

from keras_transformer.models.presets import SEQ2SEQ_PRESETS
from keras_transformer.models.seq2seq_transformer import Seq2SeqTransformer

__all__ = ["SEQ2SEQ_PRESETS", "Seq2SeqTransformer"]
