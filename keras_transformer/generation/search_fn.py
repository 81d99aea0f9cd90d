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

    `beam_width=1` is greedy search. `jit_compile=True` compiles with XLA,
    which needs static shapes, so it uses fixed-size caches; otherwise the
    caches grow by concatenation (the form that exports to ONNX).
    """
    checks.positive_int("max_length", max_length)
    checks.positive_int("beam_width", beam_width)
    fixed_size_cache = bool(jit_compile)

    @tf.function(
        input_signature=[tf.TensorSpec([None, None], tf.int32, name="encoder_token_ids")],
        jit_compile=jit_compile,
        reduce_retracing=True,
    )
    def search(encoder_token_ids):
        if beam_width == 1:
            return greedy_search(
                model, encoder_token_ids, max_length, start_id, end_id,
                use_cache=use_cache, fixed_size_cache=fixed_size_cache,
            )
        tokens, _ = beam_search(
            model, encoder_token_ids, max_length, start_id, end_id,
            beam_width=beam_width, alpha=alpha, use_cache=use_cache,
            fixed_size_cache=fixed_size_cache,
        )
        return tokens

    return search
