"""Extractive question answering (answer-span start / end) on a BERT encoder."""

import keras
from keras import ops

from keras_transformer.layers import checks
from keras_transformer.models.bert_encoder import BertEncoder
from keras_transformer.models.task_config import deserialize_encoder
from keras_transformer.models.task_config import task_model_config

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")
# Logits of padded positions. Applied in float32 (the logits are cast first),
# so it is far below any real logit whatever the compute precision.
PADDING_LOGIT = -1e9


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertSpanExtractor(keras.Model):
    """Scores every token as the start and the end of the answer span.

    The SQuAD head of "BERT: Pre-training of Deep Bidirectional Transformers
    for Language Understanding" (Devlin et al. 2019, section 4.2): one dense
    layer maps each token's (B, T, D) `sequence_output` to two logits, a
    start and an end score. The input is `[CLS] question [SEP] context
    [SEP]`; the answer is the context span `i..j` maximizing
    `start_logits[i] + end_logits[j]`, and [CLS] (position 0) stands for "no
    answer" (SQuAD v2.0). Train with sparse categorical cross-entropy from
    logits on the start and end token positions.

    Masking: padded positions (`padding_mask` 0 / `False`) get the logit
    -1e9, so they never win and take no probability mass. The logits are
    float32 whatever the dtype policy, for a stable softmax.

    Args:
        encoder: A `BertEncoder` (e.g. from `BertEncoder.from_huggingface`).
        dropout: Dropout on the sequence output before the span layer (0 in
            BERT's SQuAD fine-tuning code).
        **kwargs: `keras.Model` arguments such as `name`.

    Call arguments (a dict, as for `BertEncoder`):
        token_ids: (B, T) int token ids.
        segment_ids: (B, T) int segment ids (0 question, 1 context).
        padding_mask: (B, T) int or bool, 1 / `True` for real tokens.

    Returns:
        A dict: "start_logits" (B, T) and "end_logits" (B, T), float32.

    Example:

    >>> import numpy as np
    >>> encoder = BertEncoder(vocabulary_size=100, num_layers=1, num_heads=2,
    ...                       hidden_dim=16, intermediate_dim=32)
    >>> model = BertSpanExtractor(encoder)
    >>> outputs = model({"token_ids": np.array([[2, 7, 3, 9, 11, 3, 0]]),
    ...                  "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 0]]),
    ...                  "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 0]])})
    >>> tuple(outputs["start_logits"].shape), tuple(outputs["end_logits"].shape)
    ((1, 7), (1, 7))
    >>> float(outputs["end_logits"][0, 6])
    -1000000000.0
    """

    def __init__(self, encoder, dropout=0.0, **kwargs):
        if not isinstance(encoder, BertEncoder):
            raise checks.invalid_argument("encoder", "a `BertEncoder`", encoder)
        dropout = checks.rate("dropout", dropout)

        # === Layers ===
        self.encoder = encoder
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=encoder.dtype_policy, name="output_dropout"
        )
        self.span_dense = keras.layers.Dense(
            2,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=encoder.dtype_policy,
            name="span_logits",
        )
        # Name the outputs (for `output_names` and exported signatures).
        self.start_output = keras.layers.Identity(dtype="float32", name="start_logits")
        self.end_output = keras.layers.Identity(dtype="float32", name="end_logits")

        # === Functional graph ===
        inputs = {
            name: keras.Input((None,), dtype="int32", name=name)
            for name in INPUT_NAMES
        }
        sequence_output = encoder(inputs)["sequence_output"]
        # [B, T, D] -> [B, T, 2]
        logits = self.span_dense(self.output_dropout(sequence_output))
        logits = ops.cast(logits, "float32")
        is_real = ops.not_equal(inputs["padding_mask"], 0)
        start_logits = self.start_output(
            ops.where(is_real, logits[:, :, 0], PADDING_LOGIT)
        )
        end_logits = self.end_output(ops.where(is_real, logits[:, :, 1], PADDING_LOGIT))
        super().__init__(
            inputs=inputs,
            outputs={"start_logits": start_logits, "end_logits": end_logits},
            **kwargs,
        )

        # === Config ===
        self.dropout = dropout

    def get_config(self):
        return task_model_config(self, dropout=self.dropout)

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_encoder(config))
