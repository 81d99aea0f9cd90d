"""A token-classification (e.g. NER) head over a BERT encoder."""

import keras

from keras_transformer.layers import checks
from keras_transformer.models.task_config import deserialize_encoder
from keras_transformer.models.task_config import task_model_config


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertTokenClassifier(keras.Model):
    """Per-token class logits over `BertEncoder`, for tagging tasks such as NER.

    The encoder's last hidden states go through dropout and one dense layer
    to `num_labels` logits per token, as in BERT's named-entity recognition
    set-up (Devlin et al. 2019, section 5.3). A functional model with the
    encoder's input dict.

    The encoder's pooler is not used, so it is frozen (`trainable=False`)
    to keep it out of the gradient; unfreeze it if the same encoder object
    also serves a head that uses `pooled_output`.

    Masking: the encoder masks padded keys with `padding_mask`; logits at
    padded positions (and, for word-level tasks, at word pieces that are not
    a word's first) are unspecified, so the loss must ignore them (see
    `keras_transformer.data.ner_pipeline`: labels -1 with
    `SparseCategoricalCrossentropy(ignore_class=-1)`).

    Args:
        encoder: A `BertEncoder` (or any functional model with the same
            input dict and a "sequence_output" (B, T, D) output).
        num_labels: L, the number of tags.
        dropout: Dropout on the hidden states before the classifier.
        **kwargs: `keras.Model` arguments such as `name`.

    Call arguments (a dict):
        token_ids: (B, T) int token ids.
        segment_ids: (B, T) int segment ids.
        padding_mask: (B, T) int or bool, 1 / `True` for real tokens.

    Returns:
        (B, T, L) logits.

    Example:

    >>> import numpy as np
    >>> from keras_transformer.models import BertEncoder
    >>> encoder = BertEncoder(vocabulary_size=100, num_layers=1, num_heads=2,
    ...                       hidden_dim=16, intermediate_dim=32)
    >>> model = BertTokenClassifier(encoder, num_labels=5)
    >>> logits = model({"token_ids": np.array([[2, 7, 9, 3, 0]]),
    ...                 "segment_ids": np.zeros((1, 5), "int32"),
    ...                 "padding_mask": np.array([[1, 1, 1, 1, 0]])})
    >>> tuple(logits.shape)
    (1, 5, 5)
    """

    def __init__(self, encoder, num_labels, dropout=0.1, dtype=None, **kwargs):
        num_labels = checks.positive_int("num_labels", num_labels)
        dropout = checks.rate("dropout", dropout)
        if not isinstance(encoder, keras.Model) or not isinstance(encoder.input, dict):
            raise checks.invalid_argument(
                "encoder", "a `BertEncoder` (a functional model with dict inputs)",
                encoder,
            )

        # === Layers ===
        self.encoder = encoder
        if getattr(encoder, "pooler", None) is not None:
            encoder.pooler.trainable = False
        self.classifier_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="classifier_dropout"
        )
        self.classifier = keras.layers.Dense(
            num_labels,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=dtype,
            name="logits",
        )

        # === Functional graph ===
        inputs = {
            name: keras.Input(tensor.shape[1:], dtype=tensor.dtype, name=name)
            for name, tensor in encoder.input.items()
        }
        # [B, T, D] -> [B, T, L]
        x = encoder(inputs)["sequence_output"]
        x = self.classifier_dropout(x)
        logits = self.classifier(x)
        super().__init__(inputs=inputs, outputs=logits, dtype=dtype, **kwargs)

        # === Config ===
        self.num_labels = num_labels
        self.dropout = dropout

    def get_config(self):
        return task_model_config(self, num_labels=self.num_labels, dropout=self.dropout)

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_encoder(config))
