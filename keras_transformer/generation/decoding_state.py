"""Pieces shared by greedy and beam search: decoder steps and buffers.

Searches run inside `tf.function` graphs (optionally XLA-compiled), so
TensorFlow is used directly here; the layers themselves stay backend-
agnostic.
"""

import tensorflow as tf


def cache_shape_invariants(cache):
    """Shape invariants for `tf.while_loop`: a growing cache's length varies."""
    return tf.nest.map_structure(
        lambda t: tf.TensorShape([None, 2, None] + t.shape[3:].as_list()), cache
    )


def write_column(buffer, index, values):
    """Returns `buffer` (..., L) with `values` (...) written at column `index`.

    A select rather than a scatter: static shapes for XLA, and plain ops that
    every exporter converts.
    """
    length = tf.shape(buffer)[-1]
    at_index = tf.equal(tf.range(length), index)
    return tf.where(at_index, tf.expand_dims(values, -1), buffer)


def step_logits(model, tokens, index, encoder_output, encoder_mask, cache, use_cache,
                fixed_size_cache):
    """Returns (B, V) float32 logits for position `index`, and the new cache.

    With `use_cache`, only the token at `index` is run through the decoder.
    Without it, the whole prefix `tokens[:, :index + 1]` is, which is the
    reference that cached decoding must reproduce exactly.
    """
    if use_cache:
        # A gather has a static size of 1, which XLA needs; a slice with a
        # traced start does not.
        current = tf.gather(tokens, tf.reshape(index, [1]), axis=1)
    else:
        current, cache = tokens[:, : index + 1], None
    logits, cache = model.decode_step(
        current, encoder_output, encoder_mask, cache, index,
        fixed_size_cache=fixed_size_cache,
    )
    return tf.cast(logits[:, -1], tf.float32), cache


def argmax_int32(logits):
    """`tf.math.argmax` as int32: converts to ONNX ArgMax, unlike
    `keras.ops.argmax`, which tf2onnx 1.17 sees as an unconvertible Bitcast."""
    return tf.math.argmax(logits, axis=-1, output_type=tf.int32)
