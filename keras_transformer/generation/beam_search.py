"""Beam search with a length penalty, over a key/value cache."""

import tensorflow as tf

from keras_transformer.generation import decoding_state

# Scores of impossible hypotheses. Finite, so that sums stay comparable.
_NEG_INF = -1e9


def length_penalty(length, alpha):
    """GNMT's length penalty ((5 + length) / 6) ** alpha (Wu et al. 2016)."""
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, alpha)


def _gather_beams(tensor, beam_indices):
    """Picks, for every batch row, the beams `beam_indices` (B, K') of
    `tensor` (B, K, ...)."""
    return tf.gather(tensor, beam_indices, axis=1, batch_dims=1)


def _flat_gather(tensor, beam_indices, beam_width):
    """Same as `_gather_beams` for a tensor whose first axis is B * K."""
    batch_size = tf.shape(beam_indices)[0]
    offsets = tf.range(batch_size)[:, None] * beam_width
    return tf.gather(tensor, tf.reshape(beam_indices + offsets, [-1]), axis=0)


def beam_search(
    model,
    encoder_token_ids,
    max_length,
    start_id,
    end_id,
    beam_width=4,
    alpha=0.6,
    pad_id=0,
    use_cache=True,
    fixed_size_cache=False,
):
    """Finds high-probability outputs by keeping `beam_width` hypotheses.

    The algorithm of tensor2tensor / the TF Model Garden: at each step the
    2K best extensions of the K alive hypotheses are scored; those ending in
    `end_id` compete for the K finished slots with score
    log p / length_penalty, the others become the new alive hypotheses. The
    search stops when no alive hypothesis can beat the worst finished one, or
    at `max_length`.

    Args:
        model: A `Seq2SeqTransformer`.
        encoder_token_ids: (B, S) int32 source ids, 0 = padding.
        max_length: The most tokens to generate.
        start_id: The token the decoder starts from.
        end_id: The token that ends a sequence (kept in the output).
        beam_width: K, the number of hypotheses kept.
        alpha: Length-penalty exponent (0 = none; 0.6 in GNMT and the paper).
        pad_id: The token after the end.
        use_cache: Decode one token per step over a cache (`False`: rerun the
            prefix, the reference).
        fixed_size_cache: Fixed-length caches written in place (XLA).

    Returns:
        `(tokens, scores)`: (B, max_length) int32 best hypothesis per row and
        its (B,) length-normalized log-probability.
    """
    k = beam_width
    encoder_token_ids = tf.convert_to_tensor(encoder_token_ids, tf.int32)
    batch_size = tf.shape(encoder_token_ids)[0]
    encoder_output, encoder_mask = model.encode(encoder_token_ids)
    # Every beam of a row reads the same encoder output: [B * K, S, D].
    encoder_output = tf.repeat(encoder_output, k, axis=0)
    encoder_mask = tf.repeat(encoder_mask, k, axis=0)
    cache = (
        model.initial_cache(encoder_output, max_length if fixed_size_cache else None)
        if use_cache
        else []
    )

    # Hypotheses are [B, K, 1 + max_length]; column 0 is the start token.
    start = tf.concat([[start_id], tf.fill([max_length], pad_id)], axis=0)
    alive_tokens = tf.tile(start[None, None], [batch_size, k, 1])
    # Only the first beam is live at first, so the K beams don't duplicate it.
    alive_scores = tf.tile(
        tf.concat([[0.0], tf.fill([k - 1], _NEG_INF)], axis=0)[None], [batch_size, 1]
    )
    finished_tokens = alive_tokens
    finished_scores = tf.fill([batch_size, k], _NEG_INF)
    finished_any = tf.zeros([batch_size, k], tf.bool)

    def keep_going(index, alive_tokens, alive_scores, finished_tokens,
                   finished_scores, finished_any, cache):
        # The best alive hypothesis can at most keep its log-probability; with
        # the most favourable penalty it still loses to the worst finished.
        best_possible = alive_scores[:, 0] / length_penalty(max_length, alpha)
        worst_finished = tf.reduce_min(
            tf.where(finished_any, finished_scores, 1e9), axis=1
        )
        worst_finished = tf.where(
            tf.reduce_any(finished_any, axis=1), worst_finished, _NEG_INF
        )
        all_done = tf.reduce_all(
            tf.logical_and(tf.reduce_all(finished_any, axis=1),
                           worst_finished > best_possible)
        )
        return tf.logical_and(index < max_length, tf.logical_not(all_done))

    def step(index, alive_tokens, alive_scores, finished_tokens,
             finished_scores, finished_any, cache):
        flat_tokens = tf.reshape(alive_tokens, [batch_size * k, -1])
        logits, cache = decoding_state.step_logits(
            model, flat_tokens, index, encoder_output, encoder_mask,
            cache if use_cache else None, use_cache, fixed_size_cache,
        )
        vocabulary_size = tf.shape(logits)[-1]
        log_probs = tf.reshape(tf.nn.log_softmax(logits), [batch_size, k, -1])
        # candidates = [B, K * V]
        candidates = tf.reshape(alive_scores[:, :, None] + log_probs, [batch_size, -1])
        top_scores, top_indices = tf.math.top_k(candidates, k=2 * k)
        beam_of = top_indices // vocabulary_size
        token_of = top_indices % vocabulary_size
        grown = decoding_state.write_column(
            _gather_beams(alive_tokens, beam_of), index + 1, token_of
        )
        ends = tf.equal(token_of, end_id)

        # New alive hypotheses: the best K extensions that did not end.
        alive_candidates = tf.where(ends, _NEG_INF, top_scores)
        new_alive_scores, keep = tf.math.top_k(alive_candidates, k=k)
        alive_tokens = _gather_beams(grown, keep)
        if use_cache:
            chosen_beams = _gather_beams(beam_of, keep)
            cache = tf.nest.map_structure(
                lambda t: _flat_gather(t, chosen_beams, k), cache
            )

        # New finished hypotheses: the best K of the old ones and those that
        # just ended, scored with the length penalty.
        ended_scores = tf.where(
            ends, top_scores / length_penalty(index + 1, alpha), _NEG_INF
        )
        pool_tokens = tf.concat([finished_tokens, grown], axis=1)
        pool_scores = tf.concat([finished_scores, ended_scores], axis=1)
        pool_any = tf.concat([finished_any, ends], axis=1)
        finished_scores, best = tf.math.top_k(pool_scores, k=k)
        finished_tokens = _gather_beams(pool_tokens, best)
        finished_any = _gather_beams(pool_any, best)
        return (index + 1, alive_tokens, new_alive_scores, finished_tokens,
                finished_scores, finished_any, cache if use_cache else [])

    cache_invariants = (
        decoding_state.cache_shape_invariants(cache)
        if use_cache and not fixed_size_cache
        else tf.nest.map_structure(lambda t: t.shape, cache)
    )
    hypotheses = tf.TensorShape([None, k, None])
    scores = tf.TensorShape([None, k])
    (_, alive_tokens, alive_scores, finished_tokens, finished_scores,
     finished_any, _) = tf.while_loop(
        keep_going,
        step,
        (tf.constant(0), alive_tokens, alive_scores, finished_tokens,
         finished_scores, finished_any, cache),
        shape_invariants=(tf.TensorShape([]), hypotheses, scores, hypotheses,
                          scores, tf.TensorShape([None, k]), cache_invariants),
    )
    # A row with no finished hypothesis returns its best alive one.
    has_finished = tf.reduce_any(finished_any, axis=1)
    tokens = tf.where(
        has_finished[:, None], finished_tokens[:, 0], alive_tokens[:, 0]
    )
    scores = tf.where(
        has_finished,
        finished_scores[:, 0],
        alive_scores[:, 0] / length_penalty(max_length, alpha),
    )
    return tokens[:, 1:], scores
