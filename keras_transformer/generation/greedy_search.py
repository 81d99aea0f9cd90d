"""Greedy decoding over a key/value cache."""

import tensorflow as tf

from keras_transformer.generation import decoding_state


def greedy_search(
    model,
    encoder_token_ids,
    max_length,
    start_id,
    end_id,
    pad_id=0,
    use_cache=True,
    fixed_size_cache=False,
):
    """Decodes the most likely token at each step, for a batch.

    Runs eagerly or inside `tf.function` (see `make_search_fn`). Rows stop
    at `end_id` (kept in the output) and are padded with `pad_id`; the loop
    ends when every row has stopped or `max_length` tokens were produced.

    Args:
        model: A `Seq2SeqTransformer` (anything with `encode`,
            `initial_cache` and `decode_step`).
        encoder_token_ids: (B, S) int32 source ids, 0 = padding.
        max_length: The most tokens to generate.
        start_id: The token the decoder starts from.
        end_id: The token that ends a sequence.
        pad_id: The token after the end.
        use_cache: Whether to decode one token per step over a key/value
            cache (`False` reruns the whole prefix: the reference).
        fixed_size_cache: Fixed-length caches written in place (static shapes
            for XLA) instead of growing ones (exportable to ONNX).

    Returns:
        (B, max_length) int32 generated ids.
    """
    encoder_token_ids = tf.convert_to_tensor(encoder_token_ids, tf.int32)
    batch_size = tf.shape(encoder_token_ids)[0]
    encoder_output, encoder_mask = model.encode(encoder_token_ids)
    # tokens[:, 0] is the start token; position i + 1 is written at step i.
    tokens = tf.concat(
        [tf.fill([batch_size, 1], start_id), tf.fill([batch_size, max_length], pad_id)],
        axis=1,
    )
    cache = (
        model.initial_cache(encoder_output, max_length if fixed_size_cache else None)
        if use_cache
        else []
    )
    finished = tf.zeros([batch_size], tf.bool)

    def keep_going(index, tokens, finished, cache):
        return tf.logical_and(index < max_length, tf.logical_not(tf.reduce_all(finished)))

    def step(index, tokens, finished, cache):
        logits, cache = decoding_state.step_logits(
            model, tokens, index, encoder_output, encoder_mask,
            cache if use_cache else None, use_cache, fixed_size_cache,
        )
        next_token = decoding_state.argmax_int32(logits)
        next_token = tf.where(finished, pad_id, next_token)
        tokens = decoding_state.write_column(tokens, index + 1, next_token)
        finished = tf.logical_or(finished, tf.equal(next_token, end_id))
        return index + 1, tokens, finished, cache if use_cache else []

    cache_invariants = (
        decoding_state.cache_shape_invariants(cache)
        if use_cache and not fixed_size_cache
        else tf.nest.map_structure(lambda t: t.shape, cache)
    )
    _, tokens, _, _ = tf.while_loop(
        keep_going,
        step,
        (tf.constant(0), tokens, finished, cache),
        shape_invariants=(
            tf.TensorShape([]),
            tf.TensorShape([None, None]),
            tf.TensorShape([None]),
            cache_invariants,
        ),
    )
    return tokens[:, 1:]
