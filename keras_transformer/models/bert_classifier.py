"""Text (and text-pair) classification on a BERT encoder."""

import keras

from keras_transformer.layers import checks
from keras_transformer.models.bert_encoder import BertEncoder
from keras_transformer.models.task_config import deserialize_encoder
from keras_transformer.models.task_config import task_model_config

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertClassifier(keras.Model):
    """Classifies a text or a text pair from BERT's pooled [CLS] output.

    `logits = W dropout(pooled_output) + b`, the sequence-level task head of
    "BERT: Pre-training of Deep Bidirectional Transformers for Language
    Understanding" (Devlin et al. 2019, section 4.1). The whole encoder is
    fine-tuned with the head.

    Args:
        encoder: A `BertEncoder` (e.g. from `BertEncoder.from_huggingface`).
        num_classes: C, the number of classes.
        dropout: Dropout on the pooled output.
        **kwargs: `keras.Model` arguments such as `name`.

    Call arguments (a dict, as for `BertEncoder`):
        token_ids: (B, T) int token ids.
        segment_ids: (B, T) int segment ids.
        padding_mask: (B, T) int or bool, 1 / `True` for real tokens.

    Returns:
        (B, C) logits (train with `from_logits=True`).

    Example:

    >>> import numpy as np
    >>> encoder = BertEncoder(vocabulary_size=100, num_layers=1, num_heads=2,
    ...                       hidden_dim=16, intermediate_dim=32)
    >>> classifier = BertClassifier(encoder, num_classes=3)
    >>> logits = classifier({"token_ids": np.array([[2, 7, 9, 3]]),
    ...                      "segment_ids": np.zeros((1, 4), "int32"),
    ...                      "padding_mask": np.ones((1, 4), "int32")})
    >>> tuple(logits.shape)
    (1, 3)
    """

    def __init__(self, encoder, num_classes, dropout=0.1, **kwargs):
        if not isinstance(encoder, BertEncoder):
            raise checks.invalid_argument("encoder", "a `BertEncoder`", encoder)
        num_classes = checks.positive_int("num_classes", num_classes)
        dropout = checks.rate("dropout", dropout)

        # === Layers ===
        self.encoder = encoder
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=encoder.dtype_policy, name="output_dropout"
        )
        self.logits_dense = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=encoder.dtype_policy,
            name="logits",
        )

        # === Functional graph ===
        inputs = {
            name: keras.Input((None,), dtype="int32", name=name)
            for name in INPUT_NAMES
        }
        pooled_output = encoder(inputs)["pooled_output"]
        logits = self.logits_dense(self.output_dropout(pooled_output))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout

    def get_config(self):
        return task_model_config(self, num_classes=self.num_classes, dropout=self.dropout)

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_encoder(config))
