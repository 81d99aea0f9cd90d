"""The scaled dot-product attention op of "Attention Is All You Need"."""

import math
import warnings

import keras
from keras import ops

from keras_transformer.layers import checks

# Added to masked logits before the softmax. Under float16
# the softmax runs in float32 (see below), so the value never meets float16.
_MASKED_LOGIT = -1e9


def _as_head_mask(mask):
    """Returns `mask` as a boolean (B|1, N|1, T, S) tensor."""
    mask = ops.cast(mask, "bool")
    if len(mask.shape) == 2:
        # [T, S] -> [1, 1, T, S]
        return mask[None, None]
    if len(mask.shape) == 3:
        # [B, T, S] -> [B, 1, T, S], shared by every head.
        return ops.expand_dims(mask, 1)
    return mask


def attention_logits(query, key, mask=None, scale=None):
    """Returns the masked logits Q K^T * scale, (B, N, T, S).

    The work on the (B, N, T, S) logits is kept to one addition, because
    those are the largest tensors of a Transformer block: the scale goes on
    the queries ((B, T, N, H), as `keras.layers.MultiHeadAttention` does),
    and the mask becomes an additive bias built on the mask's own, smaller
    shape (a head-independent (B, 1, T, S)), whose gradient is the logits'
    one unchanged instead of a select.

    Under float16 the logits are float32: large logits overflow float16 and
    the masked value does not fit it. bfloat16 has float32's range, so it
    stays in bfloat16, which keeps casts off the hot path.
    """
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    query = query * ops.cast(scale, query.dtype)
    # logits = [B, N, T, S]
    logits = ops.einsum("btnh,bsnh->bnts", query, key)
    if keras.backend.standardize_dtype(logits.dtype) == "float16":
        logits = ops.cast(logits, "float32")
    if mask is not None:
        # exp(-1e9 - max) is exactly 0, so masked keys get exactly 0 weight.
        bias = ops.where(_as_head_mask(mask), 0.0, _MASKED_LOGIT)
        logits = logits + ops.cast(bias, logits.dtype)
    return logits


def attended_rows(mask):
    """Which query rows may attend to at least one key, (B|1, T, N|1, 1).

    A row whose keys are all masked (a padded query) gets uniform weights
    from the softmax; multiplying its output (and weights) by this zeroes
    it, as `keras.layers.MultiHeadAttention` does, at the cost of one pass
    over (B, T, N, H) rather than one over the (B, N, T, S) weights.
    """
    # [B, N, T, S] -> [B, N, T] -> [B, T, N, 1]
    rows = ops.any(_as_head_mask(mask), axis=-1)
    return ops.expand_dims(ops.transpose(rows, (0, 2, 1)), -1)


def _softmax(logits):
    with warnings.catch_warnings():
        # Keras warns about a softmax over one key, which is exactly the
        # first step of cached decoding.
        warnings.filterwarnings("ignore", "You are using a softmax over axis")
        return ops.softmax(logits, axis=-1)


def scaled_dot_product_attention(
    query,
    key,
    value,
    mask=None,
    scale=None,
    dropout_rate=0.0,
    seed=None,
    training=False,
    return_attention_scores=False,
):
    """Computes softmax(Q K^T / sqrt(H)) V, with an optional boolean mask.

    Accepts one head, (B, T, H), or several, (B, T, N, H). Masked keys get
    exactly zero weight; a row whose keys are all masked (a padded query)
    gets zero weights and a zero output, as in `keras.layers.MultiHeadAttention`.

    Args:
        query: (B, T, H) or (B, T, N, H) queries.
        key: (B, S, H) or (B, S, N, H) keys.
        value: (B, S, H) or (B, S, N, H) values.
        mask: Optional boolean mask broadcastable to (B, T, S) (or
            (B, N, T, S) with heads); `True` means "may attend".
        scale: The logit scale; defaults to 1 / sqrt(H).
        dropout_rate: Dropout on the attention weights during training.
        seed: A `keras.random.SeedGenerator` or int for that dropout.
        training: Whether dropout is active.
        return_attention_scores: Whether to also return the weights.

    Returns:
        The attended values, shaped like `query` but with the last dimension
        of `value`; with `return_attention_scores`, also the (B, N, T, S)
        (or (B, T, S) for one head) weights, before dropout.

    Example:

    >>> import numpy as np
    >>> q = np.ones((1, 2, 4), "float32")
    >>> k = v = np.eye(3, 4, dtype="float32")[None]
    >>> out = scaled_dot_product_attention(q, k, v, mask=[[[True, False, False],
    ...                                                    [True, True, True]]])
    >>> np.round(np.asarray(out), 3).tolist()[0][0]
    [1.0, 0.0, 0.0, 0.0]
    """
    query, key, value = (ops.convert_to_tensor(x) for x in (query, key, value))
    if len(query.shape) not in (3, 4):
        raise ValueError(
            "Received an invalid shape for argument `query`, expected a "
            "tensor of shape (B, T, H) or (B, T, N, H). "
            f"Received: query.shape={tuple(query.shape)}"
        )
    for name, tensor in (("key", key), ("value", value)):
        checks.rank(name, tensor.shape, len(query.shape), "like `query`")
    single_head = len(query.shape) == 3
    if single_head:
        # [B, T, H] -> [B, T, 1, H]
        query, key, value = (ops.expand_dims(x, 2) for x in (query, key, value))
    if mask is not None:
        mask = ops.convert_to_tensor(mask)
        if len(mask.shape) not in (2, 3, 4):
            raise ValueError(
                "Received an invalid shape for argument `mask`, expected a "
                "boolean tensor broadcastable to (B, T, S) or (B, N, T, S). "
                f"Received: mask.shape={tuple(mask.shape)}"
            )
        expected = tuple(mask.shape[:-2]) + (query.shape[1], key.shape[1])
        checks.static_dims_match("mask", mask.shape, expected, "(..., T, S)")
        # Once, for both the logits' bias and the attended rows.
        mask = _as_head_mask(mask)
    weights = ops.cast(_softmax(attention_logits(query, key, mask, scale)), query.dtype)
    dropped = weights
    if training and dropout_rate > 0.0:
        dropped = keras.random.dropout(weights, dropout_rate, seed=seed)
    # output = [B, T, N, H]
    output = ops.einsum("bnts,bsnh->btnh", dropped, value)
    if mask is not None:
        rows = attended_rows(mask)
        output = output * ops.cast(rows, output.dtype)
        if return_attention_scores:
            # [B, T, N, 1] -> [B, N, T, 1]
            weights = weights * ops.cast(ops.transpose(rows, (0, 2, 1, 3)), weights.dtype)
    if single_head:
        output = ops.squeeze(output, 2)
        weights = ops.squeeze(weights, 1)
    if return_attention_scores:
        return output, weights
    return output
