"""Key/value caches for incremental decoding.

A cache holds the projected keys and values of the positions decoded so far,
stacked in one tensor of shape (B, 2, S, N, H) (index 0: keys, 1: values).
It grows in one of two ways:

* append (`cache_index=None`): the new keys/values are concatenated, so the
  cache has exactly the past positions. Only `Concat` is needed, which every
  exporter (tf2onnx included) converts; shapes change each step.
* write (`cache_index` given): the cache has a fixed length S and the new
  step is written at `cache_index` with `slice_update`. Shapes are static,
  which XLA needs, but tf2onnx 1.17 cannot convert the XlaDynamicUpdateSlice
  this lowers to.

Either way the queries of the step are at positions `offset, offset + 1, ...`
where `offset` is returned here, so the causal mask is the full pass's mask.
"""

from keras import ops


def empty_cache(batch_size, num_heads, head_dim, length=0, dtype="float32"):
    """Returns a zero cache of shape (B, 2, length, N, H).

    `length=0` starts an append-mode cache; a positive `length` is the fixed
    size of a write-mode cache.
    """
    return ops.zeros((batch_size, 2, length, num_heads, head_dim), dtype=dtype)


def update_cache(cache, key, value, cache_index=None):
    """Adds a step's keys and values to `cache`.

    Args:
        cache: (B, 2, S_past, N, H) past keys and values.
        key: (B, T, N, H) keys of the new step.
        value: (B, T, N, H) values of the new step.
        cache_index: `None` to append; else the position of the step's first
            token in a fixed-size cache.

    Returns:
        `(cache, offset)`: the grown (or updated) cache and the position of
        the step's first query.
    """
    # step = [B, 2, T, N, H]
    step = ops.stack([key, value], axis=1)
    step = ops.cast(step, cache.dtype)
    if cache_index is None:
        offset = ops.shape(cache)[2]
        return ops.concatenate([cache, step], axis=2), offset
    start = [0, 0, cache_index, 0, 0]
    return ops.slice_update(cache, start, step), cache_index
