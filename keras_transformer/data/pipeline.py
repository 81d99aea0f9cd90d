"""Batches of token ids for `model.fit`: tokenize, bucket by length, pad.

`make_translation_batches` turns `(source_text, target_text)` pairs into

    ({"encoder_token_ids": (B, S) int32, "decoder_token_ids": (B, T) int32},
     target_token_ids (B, T) int32)

with id 0 as padding, the input of `Seq2SeqTransformer` and its labels:

    encoder_token_ids = source + [end]
    decoder_token_ids = [start] + target      (teacher forcing)
    target_token_ids  = target + [end]        (the decoder input shifted left)

Every sequence, with its start or end id, holds at most `max_length` ids;
longer pairs follow an explicit `overlength` policy ("drop", "truncate" or
"error"), and the pipeline counts and logs them before training.

Batches are formed by length (`tf.data.Dataset.bucket_by_sequence_length`):
pairs are grouped by `max(S, T)` into buckets whose bounds grow by 10%
(`bucket_boundaries`), and a bucket's batch size fills a token budget, so
short pairs travel in big batches and long pairs in small ones, with little
padding. `padding_fraction` measures it: on the Bible train split (8000-id
BPE vocabulary, 4096 tokens per batch, 108 pairs per batch on average), 7%
of the ids are padding, against 56% in shuffled batches of 108 pairs.
"""

import logging
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from keras_transformer.layers import checks

logger = logging.getLogger(__name__)

DEFAULT_TOKENS_PER_BATCH = 4096
OVERLENGTH_POLICIES = ("drop", "error", "truncate")
# Texts tokenized per graph call: SentencePiece ops have a per-call cost.
TOKENIZE_BATCH_SIZE = 4096
# A shuffle buffer holds strings, about 100 bytes per pair here.
MAX_SHUFFLE_BUFFER_SIZE = 1_000_000
UNKNOWN_SIZE_SHUFFLE_BUFFER_SIZE = 100_000


class OverlengthCounts(NamedTuple):
    """Pairs that do not fit `max_length`, as `count_overlength` finds them.

    Lengths include the end id (source, target) or start id (decoder input),
    i.e. they are the S and T the pair would have.
    """

    num_pairs: int
    num_overlength: int  # pairs with either side too long
    num_source_overlength: int
    num_target_overlength: int
    longest_source: int
    longest_target: int


def bucket_boundaries(max_length, min_length=8, growth=1.1):
    """Bucket bounds for sequences of 1 to `max_length` ids.

    A sequence of length L goes to bucket i when `boundaries[i - 1] <= L <
    boundaries[i]`. Bounds start at `min_length` and grow by at least one
    and by about `growth` each, so a batch pads each sequence by at most
    ~10% of the bucket length on the longer side; the last bound is
    `max_length + 1`.

    Example:

    >>> bucket_boundaries(32)
    [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 24, 26, 28, 30, 33]
    """
    max_length = checks.positive_int("max_length", max_length)
    min_length = checks.positive_int("min_length", min_length)
    boundaries = []
    bound = min_length
    while bound <= max_length:
        boundaries.append(bound)
        bound = max(bound + 1, int(bound * growth))
    boundaries.append(max_length + 1)
    return boundaries


def count_overlength(pairs_dataset, tokenizer, max_length):
    """Counts the pairs that do not fit `max_length` ids (one pass).

    Args:
        pairs_dataset: A finite `tf.data.Dataset` of `(source, target)`
            scalar strings.
        tokenizer: A `SubwordTokenizer`.
        max_length: The most ids a sequence may have, with its end (or
            start) id.

    Returns:
        An `OverlengthCounts`.
    """
    _check_pairs(pairs_dataset)
    max_length = checks.positive_int("max_length", max_length)
    return _overlength_counts(*_scan_lengths(pairs_dataset, tokenizer), max_length)


def _scan_lengths(pairs_dataset, tokenizer):
    """Sequence lengths S and T of every pair, as two int64 arrays."""

    def lengths(source, target):
        # +1: the end id of the source and target, the start id of the
        # decoder input.
        return (
            tokenizer.tf_tokenize(source).row_lengths() + 1,
            tokenizer.tf_tokenize(target).row_lengths() + 1,
        )

    source_lengths, target_lengths = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    batches = pairs_dataset.batch(TOKENIZE_BATCH_SIZE).map(
        lengths, num_parallel_calls=tf.data.AUTOTUNE
    )
    for source, target in batches.as_numpy_iterator():
        source_lengths.append(source)
        target_lengths.append(target)
    return np.concatenate(source_lengths), np.concatenate(target_lengths)


def _overlength_counts(source_lengths, target_lengths, max_length):
    source_over = source_lengths > max_length
    target_over = target_lengths > max_length
    return OverlengthCounts(
        num_pairs=int(source_lengths.size),
        num_overlength=int(np.sum(source_over | target_over)),
        num_source_overlength=int(np.sum(source_over)),
        num_target_overlength=int(np.sum(target_over)),
        longest_source=int(source_lengths.max(initial=0)),
        longest_target=int(target_lengths.max(initial=0)),
    )


def make_translation_batches(
    pairs_dataset,
    tokenizer,
    max_length=128,
    tokens_per_batch=None,
    batch_size=None,
    shuffle=True,
    shuffle_buffer_size=None,
    seed=None,
    overlength="drop",
    pad_to_bucket_boundary=False,
    drop_remainder=False,
    report_overlength=True,
):
    """Tokenized, length-bucketed, padded batches for `model.fit`.

    Args:
        pairs_dataset: A `tf.data.Dataset` of `(source, target)` scalar
            strings, e.g. from `load_translation`.
        tokenizer: A `SubwordTokenizer`; tokenization runs inside `tf.data`
            (`tokenizer.tf_tokenize`).
        max_length: The most ids in a sequence, with its start or end id.
            The model's `max_sequence_length` must be at least this.
        tokens_per_batch: Token budget of a batch: the (B, S) and (B, T)
            tensors of a batch each hold at most this many ids, padding
            included. The default when `batch_size` is not given: 4096.
            Must be at least `max_length`.
        batch_size: A fixed number of pairs per batch instead (still
            bucketed by length). Give one of `tokens_per_batch` and
            `batch_size`.
        shuffle: Shuffle the pairs, anew each epoch.
        shuffle_buffer_size: Default: the whole dataset when its size is
            known (up to 1,000,000 pairs), else 100,000 pairs.
        seed: Shuffle seed; with a seed, the sequence of epochs is the same
            in every run.
        overlength: What to do with a pair whose source or target does not
            fit `max_length` ids: `"drop"` skips it, `"truncate"` keeps the
            first `max_length - 1` tokens of each side and still ends the
            sequences with the end id (so the model learns to stop early on
            those pairs), `"error"` raises a `ValueError`.
        pad_to_bucket_boundary: Pad S and T to the bucket's upper bound
            rather than to the longest pair of the batch. Costs padding;
            bounds the set of batch shapes to about one per bucket, which
            matters when the model is compiled with XLA (`jit_compile`).
        drop_remainder: Drop each bucket's last, smaller batch per epoch.
        report_overlength: Before batching, tokenize the dataset once to
            count the over-long pairs and log the count (raise for
            `"error"`). The same pass counts the batches of an epoch, which
            the returned dataset then declares as its cardinality (so
            `model.fit` knows its steps); the input must therefore yield the
            same pairs, in any order, every time it is iterated. Set `False`
            to skip that pass on very large datasets: over-long pairs are
            then still dropped or truncated (or fail the iteration for
            `"error"`), but not counted up front.

    Returns:
        A `tf.data.Dataset` of `({"encoder_token_ids": (B, S),
        "decoder_token_ids": (B, T)}, target_token_ids (B, T))`, all int32,
        0-padded, prefetched.

    Example:

    >>> from keras_transformer.data import SubwordTokenizer
    >>> pairs = tf.data.Dataset.from_tensor_slices(
    ...     (["the cat sat", "a dog"], ["el gato", "un perro"]))
    >>> tokenizer = SubwordTokenizer.train(
    ...     ["the cat sat", "a dog", "el gato", "un perro"] * 5,
    ...     vocabulary_size=290)
    >>> batches = make_translation_batches(pairs, tokenizer, max_length=16,
    ...                                    batch_size=2, shuffle=False)
    >>> inputs, targets = next(iter(batches))
    >>> sorted(inputs), targets.dtype.name
    (['decoder_token_ids', 'encoder_token_ids'], 'int32')
    >>> bool(inputs["decoder_token_ids"][0, 0] == tokenizer.start_id)
    True
    """
    _check_pairs(pairs_dataset)
    max_length = checks.positive_int("max_length", max_length)
    checks.one_of("overlength", overlength, OVERLENGTH_POLICIES)
    if tokens_per_batch is not None and batch_size is not None:
        raise ValueError(
            "Pass either `tokens_per_batch` or `batch_size`, not both. "
            f"Received: tokens_per_batch={tokens_per_batch}, "
            f"batch_size={batch_size}"
        )
    boundaries = bucket_boundaries(max_length)
    bucket_batch_sizes = _bucket_batch_sizes(
        boundaries, max_length, tokens_per_batch, batch_size
    )
    if shuffle_buffer_size is not None:
        shuffle_buffer_size = checks.positive_int(
            "shuffle_buffer_size", shuffle_buffer_size
        )
    if seed is not None:
        seed = checks.non_negative_int("seed", seed)

    lengths = _report_overlength(
        pairs_dataset, tokenizer, max_length, overlength, report_overlength
    )

    pairs = pairs_dataset
    if shuffle:
        pairs = pairs.shuffle(
            shuffle_buffer_size or _default_shuffle_buffer_size(pairs),
            seed=seed,
            reshuffle_each_iteration=True,
        )
    tokens = _apply_overlength_policy(
        tokenize_pairs(pairs, tokenizer), overlength, max_length
    )

    def add_special_ids(source, target):
        end = tf.constant([tokenizer.end_id], tf.int32)
        start = tf.constant([tokenizer.start_id], tf.int32)
        encoder_ids = tf.concat([source, end], axis=0)  # (S,)
        decoder_ids = tf.concat([start, target], axis=0)  # (T,)
        target_ids = tf.concat([target, end], axis=0)  # (T,)
        return encoder_ids, decoder_ids, target_ids

    examples = tokens.map(add_special_ids, num_parallel_calls=tf.data.AUTOTUNE)
    batches = examples.bucket_by_sequence_length(
        element_length_func=lambda encoder_ids, decoder_ids, _: tf.maximum(
            tf.shape(encoder_ids)[0], tf.shape(decoder_ids)[0]
        ),
        bucket_boundaries=boundaries,
        bucket_batch_sizes=bucket_batch_sizes,
        pad_to_bucket_boundary=pad_to_bucket_boundary,
        drop_remainder=drop_remainder,
    )
    batches = batches.map(
        lambda encoder_ids, decoder_ids, target_ids: (
            {"encoder_token_ids": encoder_ids, "decoder_token_ids": decoder_ids},
            target_ids,
        )
    )
    if lengths is not None:
        # Known from the scan: gives `model.fit` its steps per epoch.
        batches = batches.apply(
            tf.data.experimental.assert_cardinality(
                _count_batches(
                    *lengths, max_length, overlength, boundaries,
                    bucket_batch_sizes, drop_remainder,
                )
            )
        )
    return batches.prefetch(tf.data.AUTOTUNE)


def tokenize_pairs(pairs_dataset, tokenizer):
    """`(source, target)` strings -> `(source_ids (L_s,), target_ids (L_t,))`.

    No start or end ids are added. Tokenizes `TOKENIZE_BATCH_SIZE` pairs per
    graph call, keeping the order.
    """
    _check_pairs(pairs_dataset)
    return (
        pairs_dataset.batch(TOKENIZE_BATCH_SIZE)
        .map(
            lambda source, target: (
                tokenizer.tf_tokenize(source),
                tokenizer.tf_tokenize(target),
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .unbatch()
    )


def padding_fraction(batches, max_batches=None):
    """Fraction of padding ids in the encoder and decoder inputs.

    Args:
        batches: A dataset as `make_translation_batches` returns.
        max_batches: Read only this many batches.

    Returns:
        A float in [0, 1): padding ids / all ids of the (B, S) and (B, T)
        input tensors (the targets pad exactly like the decoder input).
    """
    spec = batches.element_spec
    if not (
        isinstance(spec, tuple)
        and len(spec) == 2
        and isinstance(spec[0], dict)
        and {"encoder_token_ids", "decoder_token_ids"} <= set(spec[0])
    ):
        raise checks.invalid_argument(
            "batches", "a dataset of ({'encoder_token_ids', "
            "'decoder_token_ids'}, targets) as make_translation_batches "
            "returns", spec,
        )
    if max_batches is not None:
        batches = batches.take(checks.positive_int("max_batches", max_batches))
    padding = total = 0
    for inputs, _ in batches.as_numpy_iterator():
        for name in ("encoder_token_ids", "decoder_token_ids"):
            padding += int(np.sum(inputs[name] == 0))
            total += inputs[name].size
    if not total:
        raise checks.invalid_argument("batches", "a non-empty dataset", batches)
    return padding / total


def encode_for_translation(texts, tokenizer, max_length, overlength="error"):
    """Encoder input for a batch of texts to translate.

    Each row is the text's ids followed by the end id, like the source side
    of `make_translation_batches`, padded with 0 to the longest row.

    Args:
        texts: A list of B strings.
        tokenizer: A `SubwordTokenizer`.
        max_length: The most ids per row, with the end id (the model's
            `max_sequence_length` or less).
        overlength: `"error"` raises for a text that does not fit;
            `"truncate"` cuts it to `max_length - 1` tokens plus the end id
            and logs a warning with the count. (There is no `"drop"`: the
            batch keeps one row per text.)

    Returns:
        An int32 array of shape (B, S), S <= `max_length`.

    Example:

    >>> from keras_transformer.data import SubwordTokenizer
    >>> tokenizer = SubwordTokenizer.train(["a b c", "b c a"] * 5,
    ...                                    vocabulary_size=270)
    >>> ids = encode_for_translation(["a b c", "a"], tokenizer, max_length=8)
    >>> ids.shape[0], bool(ids[1, -1] == 0)
    (2, True)
    """
    max_length = checks.positive_int("max_length", max_length)
    if overlength not in ("error", "truncate"):
        raise checks.invalid_argument(
            "overlength",
            "'error' or 'truncate' (an inference batch keeps one row per "
            "text, so nothing can be dropped)",
            overlength,
        )
    rows = tokenizer.encode(texts)
    too_long = [i for i, row in enumerate(rows) if len(row) + 1 > max_length]
    if too_long:
        if overlength == "error":
            first = too_long[0]
            raise ValueError(
                f"{len(too_long)} of {len(rows)} texts do not fit "
                f"max_length={max_length} ids with the end id (text {first} "
                f"has {len(rows[first]) + 1}). Pass overlength='truncate' to "
                "cut them, or a larger max_length."
            )
        logger.warning(
            "Truncating %d of %d texts to max_length=%d ids (texts %s).",
            len(too_long), len(rows), max_length, too_long[:10],
        )
        rows = [row[: max_length - 1] for row in rows]
    ids = np.zeros((len(rows), max(len(row) for row in rows) + 1), np.int32)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        ids[i, len(row)] = tokenizer.end_id
    return ids


def _bucket_batch_sizes(boundaries, max_length, tokens_per_batch, batch_size):
    """Pairs per batch in each bucket: a fixed size or a token budget."""
    # One more bucket than bounds; the last one (past max_length) stays
    # empty because over-long pairs are handled before bucketing.
    num_buckets = len(boundaries) + 1
    if batch_size is not None:
        return [checks.positive_int("batch_size", batch_size)] * num_buckets
    if tokens_per_batch is None:
        tokens_per_batch = DEFAULT_TOKENS_PER_BATCH
    tokens_per_batch = checks.positive_int("tokens_per_batch", tokens_per_batch)
    if tokens_per_batch < max_length:
        raise checks.invalid_argument(
            "tokens_per_batch",
            f"at least max_length={max_length}, so that the longest pair "
            "fits in a batch",
            tokens_per_batch,
        )
    # The longest sequence a bucket holds sets its batch size.
    bucket_lengths = [bound - 1 for bound in boundaries] + [max_length]
    return [tokens_per_batch // length for length in bucket_lengths]


def _apply_overlength_policy(tokens, overlength, max_length):
    """Drops, truncates or rejects pairs that do not fit `max_length`.

    `tokens` holds `(source_ids, target_ids)` without start or end ids, so
    a side fits when it has fewer than `max_length` ids.
    """

    def fits(source, target):
        return tf.logical_and(
            tf.size(source) < max_length, tf.size(target) < max_length
        )

    if overlength == "drop":
        return tokens.filter(fits)
    if overlength == "truncate":
        return tokens.map(
            lambda source, target: (
                source[: max_length - 1],
                target[: max_length - 1],
            )
        )

    # "error": the up-front scan has raised already for a finite dataset;
    # this guards infinite ones and `report_overlength=False`.
    def check_fits(source, target):
        message = [
            "A pair is longer than max_length (overlength='error'); source "
            "and target lengths:",
            tf.size(source) + 1,
            tf.size(target) + 1,
            "max_length:",
            max_length,
        ]
        with tf.control_dependencies([tf.debugging.Assert(fits(source, target), message)]):
            return tf.identity(source), tf.identity(target)

    return tokens.map(check_fits)


def _check_pairs(pairs_dataset):
    spec = getattr(pairs_dataset, "element_spec", None)
    if not (
        isinstance(spec, tuple)
        and len(spec) == 2
        and all(
            isinstance(s, tf.TensorSpec) and s.dtype == tf.string and s.shape.rank == 0
            for s in spec
        )
    ):
        raise checks.invalid_argument(
            "pairs_dataset",
            "a tf.data.Dataset of (source, target) scalar strings",
            spec if spec is not None else pairs_dataset,
        )


def _default_shuffle_buffer_size(pairs):
    size = int(pairs.cardinality())
    if size > 0:
        return min(size, MAX_SHUFFLE_BUFFER_SIZE)
    return UNKNOWN_SIZE_SHUFFLE_BUFFER_SIZE


def _report_overlength(pairs, tokenizer, max_length, overlength, report):
    """Scans the lengths once; logs the over-long count, or raises for "error".

    Returns the `(source_lengths, target_lengths)` of the scan, or `None`
    without one.
    """
    action = {"drop": "dropped", "truncate": "truncated", "error": "an error"}
    infinite = int(pairs.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
    if not report or infinite:
        reason = "report_overlength=False" if not report else "the dataset is infinite"
        logger.warning(
            "Pairs longer than max_length=%d ids will be %s, uncounted (%s).",
            max_length, action[overlength], reason,
        )
        return None
    lengths = _scan_lengths(pairs, tokenizer)
    counts = _overlength_counts(*lengths, max_length)
    if not counts.num_overlength:
        logger.info(
            "All %d pairs fit max_length=%d ids.", counts.num_pairs, max_length
        )
        return lengths
    details = (
        f"{counts.num_overlength} of {counts.num_pairs} pairs "
        f"({100 * counts.num_overlength / counts.num_pairs:.2f}%) do not fit "
        f"max_length={max_length} ids with their start/end id "
        f"({counts.num_source_overlength} sources, "
        f"{counts.num_target_overlength} targets; longest source "
        f"{counts.longest_source}, longest target {counts.longest_target})"
    )
    if overlength == "error":
        raise ValueError(
            f"{details}. Pass overlength='drop' to skip them or 'truncate' "
            "to cut them, or a larger max_length."
        )
    logger.warning("%s: they are %s (overlength=%r).", details,
                   action[overlength], overlength)
    return lengths


def _count_batches(
    source_lengths, target_lengths, max_length, overlength, boundaries,
    bucket_batch_sizes, drop_remainder,
):
    """Batches per epoch: each bucket makes ceil(pairs / batch size) batches.

    The count does not depend on the order of the pairs, so it holds for
    every shuffled epoch.
    """
    if overlength == "drop":
        fits = (source_lengths <= max_length) & (target_lengths <= max_length)
        source_lengths, target_lengths = source_lengths[fits], target_lengths[fits]
    else:
        source_lengths = np.minimum(source_lengths, max_length)
        target_lengths = np.minimum(target_lengths, max_length)
    # Bucket i holds lengths in [boundaries[i - 1], boundaries[i]), as in
    # `tf.data.Dataset.bucket_by_sequence_length`.
    buckets = np.searchsorted(
        boundaries, np.maximum(source_lengths, target_lengths), side="right"
    )
    pairs_per_bucket = np.bincount(buckets, minlength=len(bucket_batch_sizes))
    sizes = np.asarray(bucket_batch_sizes)
    if drop_remainder:
        return int(np.sum(pairs_per_bucket // sizes))
    return int(np.sum(-(-pairs_per_bucket // sizes)))
