"""Attention masks: one convention, built in one place.

A mask is boolean and `True` means "may attend". Padding masks have shape
(B, T) (or (B, S) for keys); attention masks have shape (B, T, S). Every
layer that attends merges its masks here, with logical AND, so the encoder
and the decoder cannot drift apart.
"""

import contextlib

from keras import ops

from keras_transformer.layers import checks


def keras_mask_of(x):
    """Returns the padding mask Keras attached to `x`, or `None`.

    Keras fills a `mask` / `<arg>_mask` call argument automatically only in
    some calling patterns (for instance not when a layer gets one tensor and
    a keyword tensor). Reading the attached mask here lets every call pattern
    honour padding.
    """
    return getattr(x, "_keras_mask", None)


@contextlib.contextmanager
def detached_keras_masks(*tensors):
    """Detaches the Keras masks of `tensors` for the block; yields them.

    Attention consumes the padding masks itself; detaching them keeps the
    projections (which do not support masking) from warning that they drop
    a mask. The masks are reattached on exit, because the same tensor (an
    encoder output) is read again by later layers.
    """
    attached = [None if x is None else keras_mask_of(x) for x in tensors]
    for x, mask in zip(tensors, attached):
        if mask is not None:
            x._keras_mask = None
    try:
        yield attached
    finally:
        for x, mask in zip(tensors, attached):
            if mask is not None:
                x._keras_mask = mask


def causal_mask(query_length, key_length, offset=0):
    """Returns a (1, T, S) mask letting query `i` see keys `j <= i + offset`.

    `offset` is the number of keys that precede the first query: 0 for a full
    pass, the cache length (or the cache write index) when decoding step by
    step, so that cached decoding sees exactly what the full pass sees.

    Example:

    >>> import numpy as np
    >>> np.asarray(causal_mask(2, 3, offset=1)[0]).astype(int).tolist()
    [[1, 1, 0], [1, 1, 1]]
    """
    # i = [T, 1], j = [1, S]
    i = ops.expand_dims(ops.arange(query_length, dtype="int32"), 1)
    j = ops.expand_dims(ops.arange(key_length, dtype="int32"), 0)
    mask = j <= i + ops.cast(offset, "int32")
    return ops.expand_dims(mask, 0)


def merge_masks(
    query_mask=None,
    key_mask=None,
    attention_mask=None,
    use_causal_mask=False,
    query_length=None,
    key_length=None,
    causal_offset=0,
):
    """Merges padding, explicit and causal masks into one (B, T, S) mask.

    Args:
        query_mask: Optional (B, T) padding mask of the queries. A padded
            query still attends (its output is ignored downstream), but its
            row is masked so that padding never changes real positions.
        key_mask: Optional (B, S) padding mask of the keys.
        attention_mask: Optional (B, T, S) mask.
        use_causal_mask: Whether to forbid attending to later positions.
        query_length: T, needed for the causal mask.
        key_length: S, needed for the causal mask.
        causal_offset: Keys preceding the first query (see `causal_mask`).

    Returns:
        A boolean (B, T, S) (or broadcastable) mask, or `None` when no mask
        applies.
    """
    mask = None
    if query_mask is not None:
        # [B, T] -> [B, T, 1]
        mask = ops.expand_dims(ops.cast(query_mask, "bool"), -1)
    if key_mask is not None:
        # [B, S] -> [B, 1, S]
        key_mask = ops.expand_dims(ops.cast(key_mask, "bool"), -2)
        mask = key_mask if mask is None else ops.logical_and(mask, key_mask)
    if attention_mask is not None:
        attention_mask = ops.cast(attention_mask, "bool")
        mask = (
            attention_mask
            if mask is None
            else ops.logical_and(mask, attention_mask)
        )
    if use_causal_mask:
        causal = causal_mask(query_length, key_length, causal_offset)
        mask = causal if mask is None else ops.logical_and(mask, causal)
    return mask


def check_masks(query_shape, key_shape, query_mask, key_mask, attention_mask):
    """Raises `ValueError` when a mask's known shape contradicts the inputs.

    `query_shape` is (B, T, ...) and `key_shape` is (B, S, ...).
    """
    batch, query_length = query_shape[0], query_shape[1]
    key_length = key_shape[1]
    if query_mask is not None:
        checks.static_dims_match(
            "query_mask", query_mask.shape, (batch, query_length), "(B, T)"
        )
    if key_mask is not None:
        checks.static_dims_match(
            "key_mask", key_mask.shape, (batch, key_length), "(B, S)"
        )
    if attention_mask is not None:
        checks.static_dims_match(
            "attention_mask",
            attention_mask.shape,
            (batch, query_length, key_length),
            "(B, T, S)",
        )
