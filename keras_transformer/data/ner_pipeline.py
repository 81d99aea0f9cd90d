"""Word-piece inputs and labels for token classification (NER), and batches.

A sentence is a list of words with one tag id each. `BertTokenizer`
cuts words into pieces and adds [CLS] and [SEP]; the label of every piece
is then

* the word's tag id on the word's **first** piece;
* `IGNORE_LABEL` (-1) on its other pieces, on [CLS] / [SEP] and on padding,

so that each word counts once in the loss and in the metrics (use
`keras.losses.SparseCategoricalCrossentropy(from_logits=True,
ignore_class=IGNORE_LABEL)`). At prediction time the first piece's logits
give the word's tag (`word_predictions`).

A sentence longer than `max_length` pieces ([CLS] and [SEP] included) is
never cut: `overlength="error"` (the default) raises a `ValueError` that
names the sentence and its length; `overlength="drop"` leaves it out, logs
how many were left out and which, and counts them in the result.

`make_ner_batches` turns encoded sentences into

    ({"token_ids": (B, T) int32, "segment_ids": (B, T) int32,
      "padding_mask": (B, T) int32}, labels (B, T) int32)

padded to the longest sentence of each batch, sentences of similar length
batched together (`tf.data.Dataset.bucket_by_sequence_length`).
"""

import logging
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from keras_transformer.layers import checks

logger = logging.getLogger(__name__)

IGNORE_LABEL = -1
OVERLENGTH_POLICIES = ("drop", "error")
# Length bounds of the batch buckets, in pieces.
BUCKET_BOUNDARIES = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384)


class EncodedSentences(NamedTuple):
    """Sentences as word pieces, from `encode_ner_sentences`.

    Attributes:
        token_ids: One list of piece ids per sentence, [CLS] ... [SEP].
        labels: One list per sentence, as long as its `token_ids`: the tag
            id on each word's first piece, `IGNORE_LABEL` elsewhere (all
            `IGNORE_LABEL` when encoded without tags).
        word_starts: One list per sentence with, for each word, the position
            of its first piece, or -1 for a word that gave no piece (e.g. a
            word of characters the tokenizer removes).
        sentence_indices: The index of each kept sentence in the input.
        num_dropped: Sentences left out as too long (`overlength="drop"`).
    """

    token_ids: list
    labels: list
    word_starts: list
    sentence_indices: list
    num_dropped: int = 0

    def __len__(self):
        return len(self.token_ids)


def align_labels(word_ids, word_tags, ignore_label=IGNORE_LABEL):
    """Labels the pieces of one sentence from the tags of its words.

    Args:
        word_ids: For each piece, the index of its word, `None` for special
            tokens (`BertEncoding.word_ids`).
        word_tags: The tag id of each word.
        ignore_label: The label of pieces that are not a word's first.

    Returns:
        A list of labels, one per piece.

    Example:

    >>> # [CLS] paris ##ian went [SEP]: words "Parisian" (tag 2), "went" (0).
    >>> align_labels([None, 0, 0, 1, None], [2, 0])
    [-1, 2, -1, 0, -1]
    """
    labels, previous = [], None
    for word_id in word_ids:
        if word_id is None or word_id == previous:
            labels.append(ignore_label)
        else:
            labels.append(int(word_tags[word_id]))
        if word_id is not None:
            previous = word_id
    return labels


def first_pieces(word_ids, num_words):
    """The position of each word's first piece, -1 for words without one.

    Example:

    >>> first_pieces([None, 0, 0, 2, None], num_words=3)
    [1, -1, 3]
    """
    starts = [-1] * num_words
    for position, word_id in enumerate(word_ids):
        if word_id is not None and starts[word_id] == -1:
            starts[word_id] = position
    return starts


def _sentences_of(sentences):
    """`(words, tags or None)` pairs from a list or a `load_ner` dataset."""
    if isinstance(sentences, tf.data.Dataset):
        for example in sentences.as_numpy_iterator():
            yield [w.decode("utf-8") for w in example["tokens"]], list(example["tags"])
        return
    for sentence in sentences:
        if isinstance(sentence, dict):
            yield list(sentence["tokens"]), list(sentence["tags"])
        elif isinstance(sentence, (list, tuple)) and len(sentence) == 2 and not (
            isinstance(sentence[0], str)
        ):
            yield list(sentence[0]), None if sentence[1] is None else list(sentence[1])
        else:
            yield list(sentence), None


def encode_ner_sentences(sentences, tokenizer, max_length, overlength="error"):
    """Encodes sentences of words (and tags) as word pieces with labels.

    Args:
        sentences: A `load_ner` dataset, or a list of `(words, tag_ids)`
            pairs, `{"tokens", "tags"}` dicts, or word lists (no tags: every
            label is `IGNORE_LABEL`, as for prediction).
        tokenizer: A `BertTokenizer` (anything with `encode_words`).
        max_length: The most pieces per sentence, [CLS] and [SEP] included:
            usually the encoder's `max_sequence_length`.
        overlength: "error" (raise for a longer sentence) or "drop" (leave it
            out, logged and counted).

    Returns:
        An `EncodedSentences`.

    Raises:
        ValueError: for a sentence longer than `max_length` with
            `overlength="error"`, or words and tags of different lengths.
    """
    max_length = checks.positive_int("max_length", max_length)
    checks.one_of("overlength", overlength, OVERLENGTH_POLICIES)
    token_ids, labels, word_starts, kept, dropped = [], [], [], [], []
    for index, (words, tags) in enumerate(_sentences_of(sentences)):
        if tags is not None and len(tags) != len(words):
            raise ValueError(
                f"Sentence {index} has {len(words)} words but {len(tags)} "
                "tags; expected one tag per word."
            )
        encoding = tokenizer.encode_words(words)
        length = len(encoding.token_ids)
        if length > max_length:
            if overlength == "error":
                raise ValueError(
                    f"Sentence {index} is {length} word pieces long ({len(words)} "
                    f"words, [CLS] and [SEP] included), longer than "
                    f"max_length={max_length}. Sentences are never cut: "
                    "shorten or split it, or pass overlength='drop' to leave "
                    "such sentences out (they are logged and counted)."
                )
            dropped.append((index, length))
            continue
        token_ids.append(list(encoding.token_ids))
        labels.append(
            align_labels(encoding.word_ids, tags)
            if tags is not None
            else [IGNORE_LABEL] * length
        )
        word_starts.append(first_pieces(encoding.word_ids, len(words)))
        kept.append(index)
    if dropped:
        shown = ", ".join(f"{i} ({n} pieces)" for i, n in dropped[:10])
        logger.warning(
            "Left out %d of %d sentences longer than max_length=%d word "
            "pieces: %s%s.", len(dropped), len(dropped) + len(kept),
            max_length, shown, ", ..." if len(dropped) > 10 else "",
        )
    return EncodedSentences(token_ids, labels, word_starts, kept, len(dropped))


def make_ner_batches(encoded, batch_size=32, pad_id=0, shuffle=True, seed=None,
                     repeat=False):
    """Batches `EncodedSentences` for `model.fit` / `predict`, padded.

    Args:
        encoded: From `encode_ner_sentences`.
        batch_size: Sentences per batch.
        pad_id: The tokenizer's [PAD] id.
        shuffle: Shuffle sentences (each epoch) before bucketing. Without
            shuffling, batches follow the input order and are not bucketed,
            so predictions come back in order.
        seed: Shuffle seed.
        repeat: Repeat forever (then pass `steps_per_epoch` to `fit`).

    Returns:
        A `tf.data.Dataset` of `(inputs, labels)`; inputs hold "token_ids",
        "segment_ids" and "padding_mask" (1 = real token), labels are
        `IGNORE_LABEL` on padding.
    """
    batch_size = checks.positive_int("batch_size", batch_size)
    if not len(encoded):
        raise ValueError(
            "Received no sentences to batch: `encoded` is empty (were all "
            "sentences dropped as too long?)."
        )

    def examples():
        for ids, labels in zip(encoded.token_ids, encoded.labels):
            yield (np.asarray(ids, "int32"), np.asarray(labels, "int32"),
                   np.ones(len(ids), "int32"))

    dataset = tf.data.Dataset.from_generator(
        examples,
        output_signature=(tf.TensorSpec((None,), tf.int32),) * 3,
    ).apply(tf.data.experimental.assert_cardinality(len(encoded)))
    if shuffle:
        dataset = dataset.shuffle(len(encoded), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    padding_values = (
        tf.constant(pad_id, tf.int32),
        tf.constant(IGNORE_LABEL, tf.int32),
        tf.constant(0, tf.int32),
    )
    if shuffle:
        boundaries = [b for b in BUCKET_BOUNDARIES if b < max(map(len, encoded.token_ids))]
        boundaries = boundaries or [1]
        dataset = dataset.bucket_by_sequence_length(
            lambda ids, labels, mask: tf.shape(ids)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padding_values=padding_values,
        )
        if not repeat:
            # Each bucket ends with a partial batch: count them, so that
            # Keras knows the number of steps of an epoch.
            sizes = np.bincount(
                np.searchsorted(boundaries, [len(ids) for ids in encoded.token_ids],
                                side="right"),
                minlength=len(boundaries) + 1,
            )
            num_batches = int(np.sum(-(-sizes // batch_size)))
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
    else:
        dataset = dataset.padded_batch(batch_size, padding_values=padding_values)

    def to_inputs(ids, labels, padding_mask):
        return {
            "token_ids": ids,
            "segment_ids": tf.zeros_like(ids),
            "padding_mask": padding_mask,
        }, labels

    return dataset.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


def word_predictions(logits, word_starts, outside_id=0):
    """Word-level tag ids from piece-level logits.

    Args:
        logits: (B, T, L) array, or a list of (T_i, L) arrays.
        word_starts: `EncodedSentences.word_starts` of the same sentences.
        outside_id: The tag id given to words without pieces ("O").

    Returns:
        One list of tag ids per sentence, one per word.
    """
    predictions = []
    for sentence_logits, starts in zip(logits, word_starts):
        ids = np.argmax(np.asarray(sentence_logits), axis=-1)
        predictions.append([int(ids[s]) if s >= 0 else outside_id for s in starts])
    return predictions
