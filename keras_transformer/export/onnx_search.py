"""Greedy and beam search in NumPy over ONNX sessions (`OnnxSeq2Seq`).

Line-for-line ports of `keras_transformer.generation.greedy_search` and
`beam_search` (append-mode caches), so that given the same logits they pick
the same tokens: arithmetic in float32, `_NEG_INF` = -1e9, GNMT's length
penalty, the same stopping rule, and ties broken as TensorFlow breaks them
(`tf.math.argmax` and `tf.math.top_k` take the lowest index among equal
values; `np.argmax` and the stable descending sort in `_top_k` do too).
Logits from onnxruntime and TensorFlow differ by float rounding (about
1e-6), so only a near-exact tie between two candidates could tell the two
apart; verification checks that they agree on the exported model.
"""

import numpy as np

from keras_transformer.layers import checks

_NEG_INF = np.float32(-1e9)


def length_penalty(length, alpha):
    """GNMT's ((5 + length) / 6) ** alpha, in float32 like TensorFlow's."""
    base = (np.float32(5.0) + np.float32(length)) / np.float32(6.0)
    return np.power(base, np.float32(alpha), dtype=np.float32)


def log_softmax(logits):
    """float32 log-softmax over the last axis."""
    logits = np.asarray(logits, np.float32)
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def top_k(values, k):
    """`tf.math.top_k` on the last axis of a (B, N) array: the k largest,
    in descending order, the lower index first among equal values.

    Example:

    >>> values, indices = top_k(np.array([[1.0, 3.0, 3.0, 2.0]]), 3)
    >>> indices.tolist(), values.tolist()
    ([[1, 2, 3]], [[3.0, 3.0, 2.0]])
    """
    # A stable sort of the negated values keeps equal values in index order.
    indices = np.argsort(-values, axis=-1, kind="stable")[:, :k]
    return np.take_along_axis(values, indices, axis=-1), indices


def _check_source(encoder_token_ids, max_length):
    checks.positive_int("max_length", max_length)
    ids = np.asarray(encoder_token_ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise checks.invalid_argument(
            "encoder_token_ids", "an integer array of shape (B, S)",
            f"an array of dtype {ids.dtype} and shape {ids.shape}",
        )
    return ids.astype(np.int32)


def greedy_search(model, encoder_token_ids, max_length, start_id, end_id, pad_id=0):
    """Decodes the most likely token at each step, for a batch.

    Args:
        model: An `OnnxSeq2Seq`.
        encoder_token_ids: (B, S) int source ids, 0 = padding.
        max_length: The most tokens to generate.
        start_id: The token the decoder starts from.
        end_id: The token that ends a sequence (kept in the output).
        pad_id: The token after the end.

    Returns:
        (B, max_length) int32 generated ids.
    """
    encoder_token_ids = _check_source(encoder_token_ids, max_length)
    batch_size = encoder_token_ids.shape[0]
    cross_attention, encoder_mask = model.encode(encoder_token_ids)
    cache = model.initial_cache(cross_attention)
    # tokens[:, 0] is the start token; position i + 1 is written at step i.
    tokens = np.full((batch_size, max_length + 1), pad_id, np.int32)
    tokens[:, 0] = start_id
    finished = np.zeros(batch_size, bool)
    index = 0
    while index < max_length and not finished.all():
        logits, cache = model.decode_step(
            tokens[:, index : index + 1], encoder_mask, cache, index
        )
        next_token = np.argmax(logits, axis=-1).astype(np.int32)
        next_token = np.where(finished, pad_id, next_token)
        tokens[:, index + 1] = next_token
        finished |= next_token == end_id
        index += 1
    return tokens[:, 1:]


def beam_search(
    model,
    encoder_token_ids,
    max_length,
    start_id,
    end_id,
    beam_width=4,
    alpha=0.6,
    pad_id=0,
):
    """Beam search with a length penalty, as `generation.beam_search`.

    Args:
        model: An `OnnxSeq2Seq`.
        encoder_token_ids: (B, S) int source ids, 0 = padding.
        max_length: The most tokens to generate.
        start_id: The token the decoder starts from.
        end_id: The token that ends a sequence (kept in the output).
        beam_width: K, the number of hypotheses kept.
        alpha: Length-penalty exponent.
        pad_id: The token after the end.

    Returns:
        `(tokens, scores)`: (B, max_length) int32 best hypothesis per row and
        its (B,) float32 length-normalized log-probability.
    """
    k = checks.positive_int("beam_width", beam_width)
    encoder_token_ids = _check_source(encoder_token_ids, max_length)
    batch_size = encoder_token_ids.shape[0]
    cross_attention, encoder_mask = model.encode(encoder_token_ids)
    # Every beam of a row reads the same encoder keys/values: [B * K, ...].
    cross_attention = [np.repeat(c, k, axis=0) for c in cross_attention]
    encoder_mask = np.repeat(encoder_mask, k, axis=0)
    cache = model.initial_cache(cross_attention)

    # Hypotheses are [B, K, 1 + max_length]; column 0 is the start token.
    alive_tokens = np.full((batch_size, k, max_length + 1), pad_id, np.int32)
    alive_tokens[:, :, 0] = start_id
    # Only the first beam is live at first, so the K beams don't duplicate it.
    alive_scores = np.tile(
        np.array([0.0] + [_NEG_INF] * (k - 1), np.float32), (batch_size, 1)
    )
    finished_tokens = alive_tokens.copy()
    finished_scores = np.full((batch_size, k), _NEG_INF, np.float32)
    finished_any = np.zeros((batch_size, k), bool)
    final_penalty = length_penalty(max_length, alpha)
    row_offsets = np.arange(batch_size)[:, None] * k

    def keep_going(index):
        best_possible = alive_scores[:, 0] / final_penalty
        worst_finished = np.min(
            np.where(finished_any, finished_scores, np.float32(1e9)), axis=1
        )
        worst_finished = np.where(finished_any.any(axis=1), worst_finished, _NEG_INF)
        all_done = np.all(finished_any.all(axis=1) & (worst_finished > best_possible))
        return index < max_length and not all_done

    index = 0
    while keep_going(index):
        flat_tokens = alive_tokens.reshape(batch_size * k, -1)
        logits, cache = model.decode_step(
            flat_tokens[:, index : index + 1], encoder_mask, cache, index
        )
        vocabulary_size = logits.shape[-1]
        log_probs = log_softmax(logits).reshape(batch_size, k, vocabulary_size)
        # candidates = [B, K * V]
        candidates = (alive_scores[:, :, None] + log_probs).reshape(batch_size, -1)
        top_scores, top_indices = top_k(candidates, 2 * k)
        beam_of = top_indices // vocabulary_size
        token_of = (top_indices % vocabulary_size).astype(np.int32)
        grown = np.take_along_axis(alive_tokens, beam_of[:, :, None], axis=1)
        grown[:, :, index + 1] = token_of
        ends = token_of == end_id

        # New alive hypotheses: the best K extensions that did not end.
        new_alive_scores, keep = top_k(np.where(ends, _NEG_INF, top_scores), k)
        alive_tokens = np.take_along_axis(grown, keep[:, :, None], axis=1)
        chosen_rows = (np.take_along_axis(beam_of, keep, axis=1) + row_offsets).reshape(-1)
        # Cross-attention caches are the same for every beam of a row, so
        # only the self-attention caches follow the chosen beams.
        cache = [
            {
                "self_attention": layer_cache["self_attention"][chosen_rows],
                "cross_attention": layer_cache["cross_attention"],
            }
            for layer_cache in cache
        ]

        # New finished hypotheses: the best K of the old ones and those that
        # just ended, scored with the length penalty.
        ended_scores = np.where(
            ends, top_scores / length_penalty(index + 1, alpha), _NEG_INF
        )
        pool_tokens = np.concatenate([finished_tokens, grown], axis=1)
        pool_scores = np.concatenate([finished_scores, ended_scores], axis=1)
        pool_any = np.concatenate([finished_any, ends], axis=1)
        finished_scores, best = top_k(pool_scores, k)
        finished_tokens = np.take_along_axis(pool_tokens, best[:, :, None], axis=1)
        finished_any = np.take_along_axis(pool_any, best, axis=1)
        alive_scores = new_alive_scores
        index += 1

    # A row with no finished hypothesis returns its best alive one.
    has_finished = finished_any.any(axis=1)
    tokens = np.where(
        has_finished[:, None], finished_tokens[:, 0], alive_tokens[:, 0]
    )
    scores = np.where(
        has_finished, finished_scores[:, 0], alive_scores[:, 0] / final_penalty
    )
    return tokens[:, 1:], scores.astype(np.float32)


def search(model, encoder_token_ids, decoding, beam_width):
    """Greedy (`beam_width=1`) or beam search with an export's settings.

    Args:
        model: An `OnnxSeq2Seq`.
        encoder_token_ids: (B, S) int source ids, 0 = padding.
        decoding: The export's `DecodingConfig`.
        beam_width: 1 for greedy search, K for beam search.

    Returns:
        (B, L) int32 output ids, L = `decoding.max_output_length`.
    """
    args = (model, encoder_token_ids, decoding.max_output_length,
            decoding.start_id, decoding.end_id)
    if beam_width == 1:
        return greedy_search(*args, pad_id=decoding.pad_id)
    tokens, _ = beam_search(
        *args, beam_width=beam_width, alpha=decoding.alpha, pad_id=decoding.pad_id
    )
    return tokens
