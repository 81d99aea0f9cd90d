"""The encoder-decoder Transformer of "Attention Is All You Need"."""

import keras
from keras import ops

from keras_transformer.layers import TokenAndPositionEmbedding
from keras_transformer.layers import TransformerDecoderBlock
from keras_transformer.layers import TransformerEncoderBlock
from keras_transformer.layers import checks
from keras_transformer.layers import kv_cache
from keras_transformer.models.presets import SEQ2SEQ_PRESETS


@keras.saving.register_keras_serializable(package="keras_transformer")
class Seq2SeqTransformer(keras.Model):
    """An encoder-decoder Transformer for translation (Vaswani et al. 2017).

    A functional model: `{"encoder_token_ids": (B, S), "decoder_token_ids":
    (B, T)}` -> (B, T, V) next-token logits. Token id 0 is padding in both
    inputs; padding masks flow through Keras masking, and cross-attention
    masks the encoder's padding.

    Decoding reuses the same layers through `encode` and `decode_step`, which
    carry a key/value cache per decoder layer (see
    `keras_transformer.generation`).

    Args:
        encoder_vocabulary_size: Source vocabulary size.
        decoder_vocabulary_size: Target vocabulary size; defaults to the
            source size.
        num_encoder_layers: Encoder blocks.
        num_decoder_layers: Decoder blocks.
        hidden_dim: D.
        num_heads: N; D must be divisible by it.
        intermediate_dim: Feed-forward inner size.
        max_sequence_length: Longest source or target sequence, in tokens.
        dropout: Dropout on embeddings and on every residual branch.
        attention_dropout: Dropout on attention weights.
        feed_forward_dropout: Dropout inside the feed-forward networks.
        activation: Feed-forward activation.
        norm_first: Pre-norm if `True` (adds a final layer norm to each
            stack), post-norm (the paper) if `False`.
        layer_norm_epsilon: Epsilon of every layer norm.
        positional_encoding: "sinusoidal" (the paper) or "learned".
        scale_embeddings: Multiply token embeddings by sqrt(D) (the paper).
        share_embeddings: One token table for source, target and output
            (needs a shared vocabulary).
        tie_output_embeddings: Project to logits with the target token table
            transposed instead of a separate dense layer.
        **kwargs: `keras.Model` arguments such as `name`.

    Example:

    >>> import numpy as np
    >>> model = Seq2SeqTransformer.from_preset("cpu_tiny", encoder_vocabulary_size=50)
    >>> logits = model({"encoder_token_ids": np.array([[4, 5, 6, 0]]),
    ...                 "decoder_token_ids": np.array([[1, 7]])})
    >>> tuple(logits.shape)
    (1, 2, 50)
    """

    def __init__(
        self,
        encoder_vocabulary_size,
        decoder_vocabulary_size=None,
        num_encoder_layers=6,
        num_decoder_layers=6,
        hidden_dim=512,
        num_heads=8,
        intermediate_dim=2048,
        max_sequence_length=256,
        dropout=0.1,
        attention_dropout=0.0,
        feed_forward_dropout=0.0,
        activation="relu",
        norm_first=False,
        layer_norm_epsilon=1e-5,
        positional_encoding="sinusoidal",
        scale_embeddings=True,
        share_embeddings=False,
        tie_output_embeddings=True,
        dtype=None,
        **kwargs,
    ):
        encoder_vocabulary_size = checks.positive_int(
            "encoder_vocabulary_size", encoder_vocabulary_size
        )
        if decoder_vocabulary_size is None:
            decoder_vocabulary_size = encoder_vocabulary_size
        decoder_vocabulary_size = checks.positive_int(
            "decoder_vocabulary_size", decoder_vocabulary_size
        )
        if share_embeddings and encoder_vocabulary_size != decoder_vocabulary_size:
            raise ValueError(
                "`share_embeddings=True` needs one vocabulary for source and "
                "target. Received: encoder_vocabulary_size="
                f"{encoder_vocabulary_size}, decoder_vocabulary_size="
                f"{decoder_vocabulary_size}"
            )
        for name, value in (
            ("num_encoder_layers", num_encoder_layers),
            ("num_decoder_layers", num_decoder_layers),
            ("hidden_dim", hidden_dim),
            ("num_heads", num_heads),
        ):
            checks.positive_int(name, value)
        checks.divisible(hidden_dim, num_heads)

        # === Layers ===
        def embedding(vocabulary_size, name):
            return TokenAndPositionEmbedding(
                vocabulary_size,
                max_sequence_length,
                hidden_dim,
                positional_encoding=positional_encoding,
                mask_zero=True,
                scale_embeddings=scale_embeddings,
                embeddings_initializer=keras.initializers.RandomNormal(
                    stddev=hidden_dim**-0.5
                ),
                dtype=dtype,
                name=name,
            )

        block_args = dict(
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            attention_dropout=attention_dropout,
            feed_forward_dropout=feed_forward_dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
            norm_first=norm_first,
            dtype=dtype,
        )
        self.encoder_embedding = embedding(
            encoder_vocabulary_size, "encoder_embedding"
        )
        self.decoder_embedding = (
            self.encoder_embedding
            if share_embeddings
            else embedding(decoder_vocabulary_size, "decoder_embedding")
        )
        self.embedding_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="embedding_dropout"
        )
        self.encoder_blocks = [
            TransformerEncoderBlock(**block_args, name=f"encoder_block_{i}")
            for i in range(num_encoder_layers)
        ]
        self.decoder_blocks = [
            TransformerDecoderBlock(**block_args, name=f"decoder_block_{i}")
            for i in range(num_decoder_layers)
        ]
        self.encoder_final_norm = self.decoder_final_norm = None
        if norm_first:
            self.encoder_final_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=dtype, name="encoder_final_norm"
            )
            self.decoder_final_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=dtype, name="decoder_final_norm"
            )
        self.output_projection = None
        if not tie_output_embeddings:
            self.output_projection = keras.layers.Dense(
                decoder_vocabulary_size, dtype=dtype, name="logits"
            )

        # === Functional graph ===
        encoder_token_ids = keras.Input(
            (None,), dtype="int32", name="encoder_token_ids"
        )
        decoder_token_ids = keras.Input(
            (None,), dtype="int32", name="decoder_token_ids"
        )
        encoder_output = self._encode(encoder_token_ids)
        hidden = self._decode(decoder_token_ids, encoder_output)
        logits = self._logits(hidden)
        super().__init__(
            inputs={
                "encoder_token_ids": encoder_token_ids,
                "decoder_token_ids": decoder_token_ids,
            },
            outputs=logits,
            **kwargs,
        )
        if dtype is not None:
            # A functional model does not take its policy from `dtype`; set it
            # so that `get_config` records the policy the layers were built with.
            self.dtype_policy = keras.dtype_policies.get(dtype)

        # === Config ===
        self.encoder_vocabulary_size = encoder_vocabulary_size
        self.decoder_vocabulary_size = decoder_vocabulary_size
        self.num_encoder_layers = num_encoder_layers
        self.num_decoder_layers = num_decoder_layers
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.max_sequence_length = max_sequence_length
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.feed_forward_dropout = feed_forward_dropout
        self.activation = activation
        self.norm_first = norm_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.positional_encoding = positional_encoding
        self.scale_embeddings = scale_embeddings
        self.share_embeddings = share_embeddings
        self.tie_output_embeddings = tie_output_embeddings

    # The three pieces of the graph, shared by the functional model and by
    # cached decoding, so both compute exactly the same thing.

    def _encode(self, encoder_token_ids, training=None):
        x = self.encoder_embedding(encoder_token_ids)
        x = self.embedding_dropout(x, training=training)
        for block in self.encoder_blocks:
            x = block(x, training=training)
        if self.encoder_final_norm is not None:
            x = self.encoder_final_norm(x)
        return x

    def _decode(
        self,
        decoder_token_ids,
        encoder_output,
        encoder_padding_mask=None,
        cache=None,
        cache_index=None,
        start_index=0,
        training=None,
    ):
        y = self.decoder_embedding(decoder_token_ids, start_index=start_index)
        y = self.embedding_dropout(y, training=training)
        new_cache = []
        for i, block in enumerate(self.decoder_blocks):
            if cache is None:
                y = block(
                    y,
                    encoder_output,
                    encoder_sequence_mask=encoder_padding_mask,
                    training=training,
                )
            else:
                y, layer_cache = block(
                    y,
                    encoder_output,
                    encoder_sequence_mask=encoder_padding_mask,
                    cache=cache[i],
                    cache_index=cache_index,
                    training=training,
                )
                new_cache.append(layer_cache)
        if self.decoder_final_norm is not None:
            y = self.decoder_final_norm(y)
        return y if cache is None else (y, new_cache)

    def _logits(self, hidden):
        if self.output_projection is not None:
            return self.output_projection(hidden)
        return self.decoder_embedding(hidden, reverse=True)

    # === Decoding API ===

    def encode(self, encoder_token_ids):
        """Returns the (B, S, D) encoder output and the (B, S) padding mask."""
        encoder_token_ids = ops.convert_to_tensor(encoder_token_ids, "int32")
        return self._encode(encoder_token_ids), ops.not_equal(encoder_token_ids, 0)

    def initial_cache(self, encoder_output, max_length=None):
        """Returns the cache for `decode_step`, one dict per decoder layer.

        Each holds an empty "self_attention" cache and the "cross_attention"
        keys/values of `encoder_output`, computed once here.
        `max_length=None` gives growing (append-mode) self-attention caches,
        which export to ONNX; an int gives fixed-size caches written at the
        step index, with static shapes for XLA.
        """
        batch_size = ops.shape(encoder_output)[0]
        head_dim = self.hidden_dim // self.num_heads
        return [
            {
                "self_attention": kv_cache.empty_cache(
                    batch_size,
                    self.num_heads,
                    head_dim,
                    length=max_length or 0,
                    dtype=encoder_output.dtype,
                ),
                "cross_attention": block.compute_cross_attention_cache(
                    encoder_output
                ),
            }
            for block in self.decoder_blocks
        ]

    def decode_step(
        self,
        decoder_token_ids,
        encoder_output,
        encoder_padding_mask,
        cache,
        index,
        fixed_size_cache=False,
    ):
        """Runs the decoder on the tokens at positions `index, index + 1, ...`.

        With `cache=None` it is the uncached reference: `decoder_token_ids`
        is then the whole prefix (positions 0, 1, ...) and `index` is unused.

        Args:
            decoder_token_ids: (B, T) the new tokens (usually T = 1).
            encoder_output: (B, S, D) from `encode`; its keys and values
                are already in `cache`, so it may be `None`.
            encoder_padding_mask: (B, S) from `encode`.
            cache: From `initial_cache` or the previous step, or `None`.
            index: Position of the first new token.
            fixed_size_cache: Whether `cache` was made with a `max_length`.

        Returns:
            `(logits, cache)`: (B, T, V) next-token logits and the new cache.
        """
        if cache is None:
            hidden = self._decode(
                decoder_token_ids,
                encoder_output,
                encoder_padding_mask=encoder_padding_mask,
            )
            return self._logits(hidden), None
        hidden, cache = self._decode(
            decoder_token_ids,
            encoder_output,
            encoder_padding_mask=encoder_padding_mask,
            cache=cache,
            cache_index=index if fixed_size_cache else None,
            start_index=index,
        )
        return self._logits(hidden), cache

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """Builds a model from a named configuration in `SEQ2SEQ_PRESETS`."""
        if preset not in SEQ2SEQ_PRESETS:
            raise ValueError(
                "Received an unknown value for argument `preset`, expected "
                f"one of {sorted(SEQ2SEQ_PRESETS)}. Received: preset={preset!r}"
            )
        return cls(**{**SEQ2SEQ_PRESETS[preset], **kwargs})

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder_vocabulary_size": self.encoder_vocabulary_size,
            "decoder_vocabulary_size": self.decoder_vocabulary_size,
            "num_encoder_layers": self.num_encoder_layers,
            "num_decoder_layers": self.num_decoder_layers,
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "max_sequence_length": self.max_sequence_length,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "feed_forward_dropout": self.feed_forward_dropout,
            "activation": self.activation,
            "norm_first": self.norm_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "positional_encoding": self.positional_encoding,
            "scale_embeddings": self.scale_embeddings,
            "share_embeddings": self.share_embeddings,
            "tie_output_embeddings": self.tie_output_embeddings,
            # The policy, so a model trained under mixed precision loads
            # under the same one.
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)
