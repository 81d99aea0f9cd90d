"""Models built with the functional API from `keras_transformer.layers`."""

from keras_transformer.models.bert_classifier import BertClassifier
from keras_transformer.models.bert_encoder import BertEncoder
from keras_transformer.models.bert_span_extractor import BertSpanExtractor
from keras_transformer.models.bert_token_classifier import BertTokenClassifier
from keras_transformer.models.presets import SEQ2SEQ_PRESETS
from keras_transformer.models.seq2seq_transformer import Seq2SeqTransformer

__all__ = [
    "BertClassifier",
    "BertEncoder",
    "BertSpanExtractor",
    "BertTokenClassifier",
    "SEQ2SEQ_PRESETS",
    "Seq2SeqTransformer",
]
