"""Compiled search functions with a fixed input signature."""

import tensorflow as tf

from keras_transformer.generation.beam_search import beam_search
from keras_transformer.generation.greedy_search import greedy_search
from keras_transformer.layers import checks


def make_search_fn(
    model,
    max_length,
    start_id,
    end_id,
    beam_width=1,
    alpha=0.6,
    use_cache=True,
    jit_compile=False,
):
    """Returns a `tf.function` mapping (B, S) source ids to (B, L) output ids.

    `beam_width=1` is greedy search. Without XLA the function also takes an
    optional scalar `limit`: at most `min(limit, max_length)` tokens are
    generated, so a caller can bound the output by the input's length
    without retracing. `jit_compile=True` compiles with XLA, which needs
    static shapes: it uses fixed-size caches of `max_length` and takes no
    `limit`. Without XLA the caches grow by concatenation (the form that
    exports to ONNX).
    """
    max_length = checks.positive_int("max_length", max_length)
    checks.positive_int("beam_width", beam_width)
    fixed_size_cache = bool(jit_compile)

    def run(encoder_token_ids, length):
        if beam_width == 1:
            return greedy_search(
                model, encoder_token_ids, length, start_id, end_id,
                use_cache=use_cache, fixed_size_cache=fixed_size_cache,
            )
        tokens, _ = beam_search(
            model, encoder_token_ids, length, start_id, end_id,
            beam_width=beam_width, alpha=alpha, use_cache=use_cache,
            fixed_size_cache=fixed_size_cache,
        )
        return tokens

    ids_spec = tf.TensorSpec([None, None], tf.int32, name="encoder_token_ids")
    if jit_compile:
        return tf.function(
            lambda encoder_token_ids: run(encoder_token_ids, max_length),
            input_signature=[ids_spec],
            jit_compile=True,
        )

    @tf.function(input_signature=[ids_spec, tf.TensorSpec([], tf.int32, name="limit")])
    def search_with_limit(encoder_token_ids, limit):
        return run(encoder_token_ids, tf.minimum(limit, max_length))

    def search(encoder_token_ids, limit=max_length):
        return search_with_limit(
            tf.convert_to_tensor(encoder_token_ids, tf.int32),
            tf.constant(limit, tf.int32),
        )

    search.concrete_function = search_with_limit
    return search
