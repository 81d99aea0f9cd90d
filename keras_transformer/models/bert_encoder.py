"""The BERT encoder (Devlin et al. 2019), built from `keras_transformer.layers`."""

import keras
from keras import ops

from keras_transformer.layers import TokenAndPositionEmbedding
from keras_transformer.layers import TransformerEncoderBlock
from keras_transformer.layers import checks
from keras_transformer.models import huggingface_bert


def _bert_initializer():
    # BERT's `initializer_range`: every kernel and table ~ N(0, 0.02).
    return keras.initializers.TruncatedNormal(stddev=0.02)


@keras.saving.register_keras_serializable(package="keras_transformer")
class BertEncoder(keras.Model):
    """The BERT encoder of "BERT: Pre-training of Deep Bidirectional
    Transformers for Language Understanding" (Devlin et al. 2019).

    Token, learned position and segment embeddings are summed, layer
    normalized and dropped out, then run through `num_layers` post-norm
    `TransformerEncoderBlock`s with the exact (erf) GELU. The pooler is a
    tanh dense layer on the first ([CLS]) position. Pretrained weights in the
    Hugging Face layout load with `BertEncoder.from_huggingface`.

    Masking: `padding_mask` (1 / `True` = real token) masks padded keys in
    every self-attention layer, so padding never changes real positions.
    Padded positions of the outputs hold unspecified values.

    Args:
        vocabulary_size: V, the number of token ids.
        num_layers: The number of encoder blocks.
        num_heads: N; D must be divisible by it.
        hidden_dim: D.
        intermediate_dim: The feed-forward inner size.
        dropout: Dropout on the embeddings, every residual branch and the
            attention weights (BERT's `hidden_dropout_prob` and
            `attention_probs_dropout_prob`, both 0.1).
        max_sequence_length: L, the size of the position table.
        num_segments: The number of segment ids (`type_vocab_size`).
        layer_norm_epsilon: Epsilon of every layer normalization.
        **kwargs: `keras.Model` arguments such as `name` and `dtype`.

    Call arguments (a dict):
        token_ids: (B, T) int token ids.
        segment_ids: (B, T) int segment ids (0 first text, 1 second text).
        padding_mask: (B, T) int or bool, 1 / `True` for real tokens.

    Returns:
        A dict: "sequence_output" (B, T, D), the last block's output;
        "pooled_output" (B, D), tanh(W h[CLS] + b); "embedding_output"
        (B, T, D), the normalized embeddings; "hidden_states", a list of the
        `num_layers` blocks' (B, T, D) outputs.

    Example:

    >>> import numpy as np
    >>> encoder = BertEncoder(vocabulary_size=100, num_layers=2, num_heads=2,
    ...                       hidden_dim=16, intermediate_dim=32)
    >>> outputs = encoder({"token_ids": np.array([[2, 7, 9, 3, 0]]),
    ...                    "segment_ids": np.zeros((1, 5), "int32"),
    ...                    "padding_mask": np.array([[1, 1, 1, 1, 0]])})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 5, 16), (1, 16))
    >>> len(outputs["hidden_states"])
    2
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.1,
        max_sequence_length=512,
        num_segments=2,
        layer_norm_epsilon=1e-12,
        dtype=None,
        **kwargs,
    ):
        vocabulary_size = checks.positive_int("vocabulary_size", vocabulary_size)
        num_layers = checks.positive_int("num_layers", num_layers)
        num_heads = checks.positive_int("num_heads", num_heads)
        hidden_dim = checks.positive_int("hidden_dim", hidden_dim)
        intermediate_dim = checks.positive_int("intermediate_dim", intermediate_dim)
        dropout = checks.rate("dropout", dropout)
        max_sequence_length = checks.positive_int(
            "max_sequence_length", max_sequence_length
        )
        num_segments = checks.positive_int("num_segments", num_segments)
        layer_norm_epsilon = checks.positive_float(
            "layer_norm_epsilon", layer_norm_epsilon
        )
        checks.divisible(hidden_dim, num_heads)

        # === Layers ===
        self.token_and_position_embedding = TokenAndPositionEmbedding(
            vocabulary_size,
            max_sequence_length,
            hidden_dim,
            positional_encoding="learned",
            embeddings_initializer=_bert_initializer(),
            dtype=dtype,
            name="token_and_position_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            num_segments,
            hidden_dim,
            embeddings_initializer=_bert_initializer(),
            dtype=dtype,
            name="segment_embedding",
        )
        self.embedding_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embedding_norm"
        )
        self.embedding_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embedding_dropout"
        )
        self.encoder_blocks = [
            TransformerEncoderBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                attention_dropout=dropout,
                activation="gelu",
                layer_norm_epsilon=layer_norm_epsilon,
                norm_first=False,
                kernel_initializer=_bert_initializer(),
                dtype=dtype,
                name=f"encoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        self.pooler = keras.layers.Dense(
            hidden_dim,
            activation="tanh",
            kernel_initializer=_bert_initializer(),
            dtype=dtype,
            name="pooler",
        )

        # === Functional graph ===
        inputs = {
            "token_ids": keras.Input((None,), dtype="int32", name="token_ids"),
            "segment_ids": keras.Input((None,), dtype="int32", name="segment_ids"),
            "padding_mask": keras.Input((None,), dtype="int32", name="padding_mask"),
        }
        padding_mask = ops.not_equal(inputs["padding_mask"], 0)
        embedding_output = self._embed(inputs["token_ids"], inputs["segment_ids"])
        x = self.embedding_dropout(embedding_output)
        hidden_states = []
        for block in self.encoder_blocks:
            x = block(x, mask=padding_mask)
            hidden_states.append(x)
        # [B, T, D] -> [B, D]: the [CLS] position.
        pooled_output = self.pooler(x[:, 0, :])
        super().__init__(
            inputs=inputs,
            outputs={
                "sequence_output": x,
                "pooled_output": pooled_output,
                "embedding_output": embedding_output,
                "hidden_states": hidden_states,
            },
            dtype=dtype,
            **kwargs,
        )
        # Functional models drop `dtype`; restore it, so that task models
        # can build their heads with `dtype=encoder.dtype_policy`.
        self.dtype_policy = self.pooler.dtype_policy

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.layer_norm_epsilon = layer_norm_epsilon

    def _embed(self, token_ids, segment_ids):
        x = self.token_and_position_embedding(token_ids)
        x = x + self.segment_embedding(segment_ids)
        return self.embedding_norm(x)

    @classmethod
    def from_huggingface(cls, directory, dtype=None):
        """Loads a Hugging Face BERT checkpoint, without PyTorch.

        `directory` holds `config.json` and `model.safetensors` of a
        `BertModel` (or of a task model whose tensors are prefixed with
        "bert."; the task heads are ignored), e.g. a download of
        sentence-transformers/all-MiniLM-L6-v2.

        Raises:
            ValueError: when a file is missing, the configuration is one this
                encoder does not implement, or a tensor is missing or shaped
                differently from what the configuration implies.
        """
        config = huggingface_bert.read_config(directory)
        encoder_kwargs = huggingface_bert.encoder_kwargs(config)
        weights = huggingface_bert.convert_weights(
            huggingface_bert.read_tensors(directory), encoder_kwargs
        )
        encoder = cls(**encoder_kwargs, dtype=dtype)
        encoder.set_huggingface_weights(weights)
        return encoder

    def set_huggingface_weights(self, weights):
        """Assigns weights converted by `huggingface_bert.convert_weights`."""
        embedding = self.token_and_position_embedding
        embedding.token_embedding.embeddings.assign(weights["token_embedding"])
        embedding.position_embedding.position_embeddings.assign(
            weights["position_embedding"]
        )
        self.segment_embedding.embeddings.assign(weights["segment_embedding"])
        self.embedding_norm.set_weights(weights["embedding_norm"])
        for block, block_weights in zip(self.encoder_blocks, weights["blocks"]):
            attention = block.self_attention_block.layer
            attention.query_dense.set_weights(block_weights["query"])
            attention.key_dense.set_weights(block_weights["key"])
            attention.value_dense.set_weights(block_weights["value"])
            attention.output_dense.set_weights(block_weights["attention_output"])
            block.self_attention_block.norm.set_weights(
                block_weights["attention_norm"]
            )
            feed_forward = block.feed_forward_block.layer
            feed_forward.intermediate_dense.set_weights(
                block_weights["intermediate"]
            )
            feed_forward.output_dense.set_weights(block_weights["output"])
            block.feed_forward_block.norm.set_weights(block_weights["output_norm"])
        self.pooler.set_weights(weights["pooler"])

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
