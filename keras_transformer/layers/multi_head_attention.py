"""Multi-head attention with padding, causal and custom masks and a KV cache."""

import keras
from keras import ops

from keras_transformer.layers import checks
from keras_transformer.layers.head_projection import HeadProjection
from keras_transformer.layers import kv_cache
from keras_transformer.layers import masks
from keras_transformer.layers.scaled_dot_product_attention import (
    scaled_dot_product_attention,
)


def clone_initializer(initializer):
    """Returns a fresh copy, so that sublayers never share a seeded instance."""
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())


@keras.saving.register_keras_serializable(package="keras_transformer")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention ("Attention Is All You Need", section 3.2.2).

    Projects queries, keys and values into `num_heads` heads of size `key_dim`
    (`HeadProjection`s), applies `scaled_dot_product_attention` per head and
    projects the concatenated heads back. Its weights have the layout of
    `keras.layers.MultiHeadAttention` (kernels (D, N, H) and (N, H, D)), so
    weights can be copied between the two.

    Masking: a boolean mask (`True` = attend) is merged from the queries' and
    values' Keras padding masks (or `query_mask` / `value_mask` /
    `key_mask`), `attention_mask` (B, T, S) and, with `use_causal_mask`, a
    causal mask. With a cache, the causal mask is shifted by the number of
    cached positions, so a step sees exactly what it sees in a full pass.

    Args:
        num_heads: N, the number of heads.
        key_dim: H, the size of each head. Defaults to D / N, in which case D
            must be divisible by `num_heads`.
        dropout: Dropout rate on the attention weights.
        use_bias: Whether the projections have biases.
        output_dim: The output size; defaults to D, the query size.
        kernel_initializer: Initializer of the projection kernels.
        bias_initializer: Initializer of the projection biases.
        seed: Seed of the attention dropout.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        query: (B, T, D) queries.
        value: (B, S, D) values; defaults to `query` (self-attention).
        key: (B, S, D) keys; defaults to `value`.
        query_mask: Optional (B, T) padding mask; filled from Keras masking.
        value_mask: Optional (B, S) padding mask; filled from Keras masking.
        key_mask: Optional (B, S) padding mask; defaults to `value_mask`.
        attention_mask: Optional boolean (B, T, S) mask.
        use_causal_mask: Whether query `i` may only see keys `j <= i`.
        cache: Optional (B, 2, S_past, N, H) projected keys and values. For
            self-attention the step's keys/values are added to it (see
            `cache_index`); with `update_cache=False` it is used as the
            complete keys/values (a cross-attention cache from
            `project_key_value`).
        cache_index: `None` to append to the cache, or the position of the
            step's first token in a fixed-size cache (XLA-friendly).
        update_cache: Whether the step's keys/values are added to `cache`.
        return_attention_scores: Whether to return the attention weights.
        training: Whether dropout is active.

    Returns:
        The (B, T, output_dim) output; then, if requested, the (B, N, T, S)
        attention weights; then, if `cache` was given, the updated cache.

    Example:

    >>> import numpy as np
    >>> layer = MultiHeadAttention(num_heads=2)
    >>> x = np.ones((3, 5, 8), "float32")
    >>> out, scores = layer(x, use_causal_mask=True, return_attention_scores=True)
    >>> tuple(out.shape), tuple(scores.shape)
    ((3, 5, 8), (3, 2, 5, 5))
    """

    def __init__(
        self,
        num_heads,
        key_dim=None,
        dropout=0.0,
        use_bias=True,
        output_dim=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = checks.positive_int("num_heads", num_heads)
        self.key_dim = (
            None if key_dim is None else checks.positive_int("key_dim", key_dim)
        )
        self.dropout = checks.rate("dropout", dropout)
        self.use_bias = use_bias
        self.output_dim = (
            None
            if output_dim is None
            else checks.positive_int("output_dim", output_dim)
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def _projection(self, name, **shape):
        return HeadProjection(
            **shape,
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape, value_shape=None, key_shape=None):
        checks.rank("query", query_shape, 3, "(B, T, D)")
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        checks.rank("value", value_shape, 3, "(B, S, D)")
        checks.rank("key", key_shape, 3, "(B, S, D)")
        hidden_dim = query_shape[-1]
        if self.key_dim is None:
            checks.divisible(hidden_dim, self.num_heads)
        self.head_dim = self.key_dim or hidden_dim // self.num_heads
        heads = dict(num_heads=self.num_heads, head_dim=self.head_dim)
        # [B, T, D] x [D, N, H] -> [B, T, N, H]
        self.query_dense = self._projection("query", **heads)
        self.key_dense = self._projection("key", **heads)
        self.value_dense = self._projection("value", **heads)
        # [B, T, N, H] x [N, H, D] -> [B, T, D]
        self.output_dense = self._projection(
            "attention_output", output_dim=self.output_dim or hidden_dim
        )
        self.query_dense.build(query_shape)
        self.key_dense.build(key_shape)
        self.value_dense.build(value_shape)
        self.output_dense.build(
            (query_shape[0], query_shape[1], self.num_heads, self.head_dim)
        )
        self.built = True

    def project_key_value(self, value, key=None):
        """Returns the (B, 2, S, N, H) projected keys and values of `value`.

        Decoders compute this once from the encoder output and pass it as the
        cross-attention `cache` with `update_cache=False` at every step.
        """
        key = value if key is None else key
        with masks.detached_keras_masks(value, key):
            return ops.stack([self.key_dense(key), self.value_dense(value)], axis=1)

    def call(
        self,
        query,
        value=None,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        cache=None,
        cache_index=None,
        update_cache=True,
        return_attention_scores=False,
        training=None,
    ):
        # A cache that is not updated holds the complete keys/values (of an
        # encoder output): the query is then not its own key.
        fixed_cache = cache is not None and not update_cache
        self_attention = value is None and not fixed_cache
        with masks.detached_keras_masks(query, value, key) as attached:
            if query_mask is None:
                query_mask = attached[0]
            if self_attention:
                value, value_mask = query, query_mask
            elif value_mask is None:
                value_mask = attached[1]
            if key_mask is None:
                key_mask = value_mask if key is None else attached[2]
            key = value if key is None else key
            # query = [B, T, N, H]
            query_heads = self.query_dense(query)
            offset = 0
            if fixed_cache:
                key_heads, value_heads = cache[:, 0], cache[:, 1]
            else:
                # key, value = [B, S, N, H]
                key_heads = self.key_dense(key)
                value_heads = self.value_dense(value)
        if cache is not None and not fixed_cache:
            cache, offset = kv_cache.update_cache(
                cache, key_heads, value_heads, cache_index
            )
            key_heads, value_heads = cache[:, 0], cache[:, 1]
            # The step's own padding mask does not describe the cached
            # positions; pass `attention_mask` to mask those.
            if self_attention:
                key_mask = None
            if cache_index is None and query.shape[1] == 1:
                # One token appended after the cached ones is the last
                # position: the causal mask would allow every key.
                use_causal_mask = False

        masks.check_masks(
            query.shape, key_heads.shape, query_mask, key_mask, attention_mask
        )
        mask = masks.merge_masks(
            query_mask=query_mask,
            key_mask=key_mask,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            query_length=ops.shape(query_heads)[1],
            key_length=ops.shape(key_heads)[1],
            causal_offset=offset,
        )
        attended, scores = scaled_dot_product_attention(
            query_heads,
            key_heads,
            value_heads,
            mask=mask,
            dropout_rate=self.dropout,
            seed=self.seed_generator,
            training=training,
            return_attention_scores=True,
        )
        output = self.output_dense(attended)

        outputs = (output,)
        if return_attention_scores:
            outputs += (scores,)
        if cache is not None:
            outputs += (cache,)
        return outputs[0] if len(outputs) == 1 else outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_dim": self.output_dim,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
                "seed": self.seed,
            }
        )
        return config
