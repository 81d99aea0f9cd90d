"""Token embedding plus positional encoding, with an optional tied output."""

import math

import keras
from keras import ops

from keras_transformer.layers import checks
from keras_transformer.layers import positions
from keras_transformer.layers import rows
from keras_transformer.layers.multi_head_attention import clone_initializer
from keras_transformer.layers.position_embedding import PositionEmbedding
from keras_transformer.layers.sinusoidal_positional_encoding import (
    SinusoidalPositionalEncoding,
)


@keras.saving.register_keras_serializable(package="keras_transformer")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Embeds token ids and adds their positions.

    `E[ids] * scale + P[positions]`, where `scale` is sqrt(D) with
    `scale_embeddings=True` (section 3.4 of "Attention Is All You Need") and
    `P` is sinusoidal (the paper) or learned (BERT, GPT-2).

    Tied output projection: `layer(hidden, reverse=True)` returns the
    (B, T, V) logits `hidden @ E^T`, sharing the token table between input and
    output as in the paper (Press and Wolf, 2017).

    Masking: with `mask_zero=True`, id 0 is padding and the (B, T) mask
    `ids != 0` flows to the next layers through Keras masking.

    Args:
        vocabulary_size: V, the number of token ids.
        sequence_length: L, the maximum sequence length (the size of the
            learned table; for sinusoidal encodings, a checked maximum).
        embedding_dim: D, the embedding size.
        positional_encoding: "sinusoidal" or "learned".
        mask_zero: Whether id 0 is padding.
        scale_embeddings: Whether to multiply token vectors by sqrt(D).
        embeddings_initializer: Initializer of the token and position tables.
        max_wavelength: The sinusoids' base (10000 in the paper).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: (B, T) integer ids; or, with `reverse=True`, (B, T, D) hidden
            states.
        start_index: Position of the first token (incremental decoding).
        reverse: Whether to project hidden states to vocabulary logits.

    Returns:
        (B, T, D) embeddings, or (B, T, V) logits with `reverse=True`.

    Example:

    >>> import numpy as np
    >>> layer = TokenAndPositionEmbedding(100, 16, 8, mask_zero=True)
    >>> ids = np.array([[5, 7, 0]])
    >>> tuple(layer(ids).shape), np.asarray(layer.compute_mask(ids)).tolist()
    ((1, 3, 8), [[True, True, False]])
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        embedding_dim,
        positional_encoding="sinusoidal",
        mask_zero=False,
        scale_embeddings=False,
        embeddings_initializer="uniform",
        max_wavelength=10000,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = checks.positive_int("vocabulary_size", vocabulary_size)
        self.sequence_length = checks.positive_int("sequence_length", sequence_length)
        self.embedding_dim = checks.positive_int("embedding_dim", embedding_dim)
        self.positional_encoding = checks.one_of(
            "positional_encoding", positional_encoding, {"sinusoidal", "learned"}
        )
        self.mask_zero = bool(mask_zero)
        self.scale_embeddings = bool(scale_embeddings)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.max_wavelength = checks.positive_float("max_wavelength", max_wavelength)
        self.supports_masking = self.mask_zero

    def build(self, inputs_shape):
        checks.rank("inputs", inputs_shape, 2, "(B, T) token ids")
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            embeddings_initializer=clone_initializer(self.embeddings_initializer),
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build(inputs_shape)
        embedded_shape = tuple(inputs_shape) + (self.embedding_dim,)
        if self.positional_encoding == "learned":
            self.position_embedding = PositionEmbedding(
                self.sequence_length,
                initializer=clone_initializer(self.embeddings_initializer),
                dtype=self.dtype_policy,
                name="position_embedding",
            )
        else:
            self.position_embedding = SinusoidalPositionalEncoding(
                self.max_wavelength, dtype=self.dtype_policy, name="position_embedding"
            )
        self.position_embedding.build(embedded_shape)
        self.built = True

    def call(self, inputs, start_index=0, reverse=False):
        if reverse:
            checks.rank("inputs", inputs.shape, 3, "(B, T, D) when reverse=True")
            kernel = ops.cast(self.token_embedding.embeddings, self.compute_dtype)
            if inputs.shape[1] == 1:
                # A decoding step, a few rows: [V, D] x [B, D]^T -> [V, B],
                # then transposed, streams the table once in row order;
                # measured 1.6x faster than [B, D] x [V, D]^T on a CPU.
                logits = ops.matmul(kernel, ops.transpose(rows.to_rows(inputs)))
                return rows.from_rows(ops.transpose(logits), inputs, kernel.shape[0])
            # [B * T, D] x [V, D]^T -> [B, T, V]
            logits = ops.matmul(rows.to_rows(inputs), ops.transpose(kernel))
            return rows.from_rows(logits, inputs, kernel.shape[0])
        checks.rank("inputs", inputs.shape, 2, "(B, T) token ids")
        positions.check_length(
            "sequence_length", inputs.shape[1], start_index, self.sequence_length
        )
        embedded = self.token_embedding(inputs)
        if self.scale_embeddings:
            embedded = embedded * ops.cast(
                math.sqrt(self.embedding_dim), self.compute_dtype
            )
        return embedded + self.position_embedding(embedded, start_index=start_index)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero or len(inputs.shape) != 2:
            return mask
        return ops.not_equal(inputs, 0)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "positional_encoding": self.positional_encoding,
                "mask_zero": self.mask_zero,
                "scale_embeddings": self.scale_embeddings,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "max_wavelength": self.max_wavelength,
            }
        )
        return config
