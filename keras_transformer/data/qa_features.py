"""Extractive question answering features: windows over long contexts.

`prepare_qa_features` turns SQuAD examples into model inputs the way BERT's
SQuAD code does. Each example becomes one or more windows

    [CLS] question [SEP] context[s : s + n] [SEP] [PAD] ...

of `max_length` tokens. A context too long for one window is covered by
overlapping windows whose context starts `doc_stride` tokens apart (BERT's
`doc_stride`; Hugging Face's `stride` is instead the overlap, here
`n - doc_stride`). The question is never cut: one longer than
`max_question_length` tokens raises `ValueError`.

Each window carries the token positions of the first gold answer, when the
whole answer lies inside the window's context, and (0, 0), the [CLS]
position, when it does not or when the question is unanswerable; and the
character offsets of its context tokens, which map predicted token spans
back to the context (see `keras_transformer.question_answering`).

`make_qa_batches` batches the features for `model.fit`.
"""

import logging

import numpy as np
import tensorflow as tf

from keras_transformer.layers import checks

logger = logging.getLogger(__name__)

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")
# [CLS] before the question, [SEP] after it and after the context.
NUM_SPECIAL_TOKENS = 3


def prepare_qa_features(
    examples, tokenizer, max_length=384, doc_stride=128, max_question_length=64
):
    """Tokenizes and windows question answering examples.

    Args:
        examples: An iterable of dicts with "question" and "context"
            strings; optional "id", "answers" (`{"text": [...],
            "answer_start": [...]}`, character offsets into the context) and
            "is_impossible" (see `qa_examples`). Only the first answer
            labels the windows.
        tokenizer: A `BertTokenizer`.
        max_length: T, the tokens per window, special tokens included.
        doc_stride: How many context tokens each window starts after the
            previous one; at most `max_length - max_question_length - 3`,
            so that consecutive windows always overlap or touch.
        max_question_length: The most question tokens allowed.

    Returns:
        A dict of numpy int32 arrays, one row per window (W windows):
        "token_ids", "segment_ids", "padding_mask" (W, T), the model
        inputs; "start_positions", "end_positions" (W,), the answer's token
        positions in the window (0 = no answer in this window);
        "example_index" (W,), the example each window comes from;
        "offsets" (W, T, 2), `(start, end)` character offsets into the
        context of each context token, and (-1, -1) for every other token.

    Raises:
        ValueError: for an invalid argument, a question longer than
            `max_question_length` tokens (naming the example), or an
            example without question or context.

    Example:

    >>> import tempfile, os
    >>> from keras_transformer.data import BertTokenizer
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "vocab.txt"), "w") as f:
    ...     _ = f.write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...         "who", "built", "it", "?", "noah", "the", "ark", "."]))
    >>> tokenizer = BertTokenizer(os.path.join(folder, "vocab.txt"))
    >>> example = {"question": "Who built it?", "context": "Noah built the ark.",
    ...            "answers": {"text": ["Noah"], "answer_start": [0]}}
    >>> features = prepare_qa_features([example], tokenizer, max_length=12,
    ...                                doc_stride=2, max_question_length=4)
    >>> features["token_ids"][0].tolist()
    [2, 5, 6, 7, 8, 3, 9, 6, 10, 11, 12, 3]
    >>> features["start_positions"].tolist(), features["end_positions"].tolist()
    ([6], [6])
    >>> features["offsets"][0, 6].tolist()
    [0, 4]
    """
    max_length = checks.positive_int("max_length", max_length)
    max_question_length = checks.positive_int("max_question_length", max_question_length)
    doc_stride = checks.positive_int("doc_stride", doc_stride)
    min_context_tokens = max_length - max_question_length - NUM_SPECIAL_TOKENS
    if min_context_tokens < 1:
        raise ValueError(
            "Received an invalid value for argument `max_length`, expected at "
            "least max_question_length + 4 (the question, 3 special tokens "
            f"and one context token). Received: max_length={max_length}, "
            f"max_question_length={max_question_length}"
        )
    if doc_stride > min_context_tokens:
        raise ValueError(
            "Received an invalid value for argument `doc_stride`, expected at "
            f"most max_length - max_question_length - 3 = {min_context_tokens}"
            ", so that windows leave no context token out. Received: "
            f"doc_stride={doc_stride}"
        )
    rows = {name: [] for name in ("token_ids", "segment_ids", "start_positions",
                                  "end_positions", "example_index", "offsets")}
    context_cache = {}
    num_unaligned = 0
    for index, example in enumerate(examples):
        question, context = _question_and_context(example, index)
        question_ids = _content(tokenizer.encode(question))[0]
        if len(question_ids) > max_question_length:
            raise ValueError(
                f"The question of example {_name(example, index)} has "
                f"{len(question_ids)} tokens, more than "
                f"max_question_length={max_question_length}; questions are "
                f"never cut. Raise `max_question_length` (and `max_length`) or "
                f"leave the example out. Received: question={question!r}"
            )
        if context not in context_cache:
            context_cache[context] = _content(tokenizer.encode(context))
        context_ids, context_offsets = context_cache[context]
        answer_tokens = _answer_tokens(example, context_offsets)
        if answer_tokens is None and _has_answer(example):
            num_unaligned += 1
        capacity = max_length - len(question_ids) - NUM_SPECIAL_TOKENS
        prefix = [tokenizer.cls_id, *question_ids, tokenizer.sep_id]
        for start in _window_starts(len(context_ids), capacity, doc_stride):
            stop = min(start + capacity, len(context_ids))
            token_ids = prefix + context_ids[start:stop] + [tokenizer.sep_id]
            rows["token_ids"].append(token_ids)
            rows["segment_ids"].append(
                [0] * len(prefix) + [1] * (len(token_ids) - len(prefix))
            )
            offsets = [(-1, -1)] * len(prefix) + context_offsets[start:stop]
            rows["offsets"].append(offsets)
            rows["example_index"].append(index)
            label = (0, 0)
            if answer_tokens is not None:
                first, last = answer_tokens
                if start <= first and last < stop:
                    label = (len(prefix) + first - start, len(prefix) + last - start)
            rows["start_positions"].append(label[0])
            rows["end_positions"].append(label[1])
    if num_unaligned:
        logger.warning(
            "%d answers cover no context token (only whitespace or characters "
            "the tokenizer drops); their windows are labelled as unanswerable.",
            num_unaligned,
        )
    return _to_arrays(rows, max_length, tokenizer.pad_id)


def make_qa_batches(features, batch_size=16, shuffle=False, seed=None, trim=True):
    """Batches `prepare_qa_features` output for `model.fit` / `evaluate`.

    Args:
        features: The dict from `prepare_qa_features`.
        batch_size: Windows per batch.
        shuffle: Whether to shuffle the windows (once per epoch).
        seed: Shuffle seed.
        trim: Cut each batch to its longest window, so short windows cost
            less than `max_length`.

    Returns:
        A `tf.data.Dataset` of `(inputs, targets)`: inputs `{"token_ids",
        "segment_ids", "padding_mask"}` (B, T) and targets `{"start_logits":
        (B,), "end_logits": (B,)}`, the answer positions keyed by the
        outputs of `BertSpanExtractor`.
    """
    batch_size = checks.positive_int("batch_size", batch_size)
    inputs = {name: features[name] for name in INPUT_NAMES}
    targets = {
        "start_logits": features["start_positions"],
        "end_logits": features["end_positions"],
    }
    data = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        data = data.shuffle(len(features["token_ids"]), seed=seed,
                            reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if trim:
        data = data.map(_trim_batch, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def _trim_batch(inputs, targets):
    length = tf.reduce_max(tf.reduce_sum(inputs["padding_mask"], axis=1))
    return {name: value[:, :length] for name, value in inputs.items()}, targets


def _name(example, index):
    qid = example.get("id") if isinstance(example, dict) else None
    return f"{index} (id {qid!r})" if qid else str(index)


def _question_and_context(example, index):
    if not isinstance(example, dict):
        raise ValueError(
            f"Received an invalid example {index}, expected a dict with "
            f"'question' and 'context' strings. Received: {example!r}"[:500]
        )
    values = []
    for key in ("question", "context"):
        value = example.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                f"Received an invalid example {_name(example, index)}, expected "
                f"a non-empty string {key!r}. Received: {key}={value!r}"[:500]
            )
        values.append(value)
    return values


def _content(encoding):
    """(ids, offsets) of the text tokens of an encoding, without [CLS] / [SEP]."""
    keep = [i for i, sequence in enumerate(encoding.sequence_ids) if sequence == 0]
    return (
        [encoding.token_ids[i] for i in keep],
        [tuple(encoding.offsets[i]) for i in keep],
    )


def _has_answer(example):
    answers = example.get("answers") or {}
    return bool(answers.get("text")) and not example.get("is_impossible", False)


def _answer_tokens(example, context_offsets):
    """(first, last) context token indices of the first answer, or `None`."""
    if not _has_answer(example):
        return None
    answers = example["answers"]
    start = int(answers["answer_start"][0])
    end = start + len(answers["text"][0])
    # Tokens overlapping the answer's characters [start, end).
    inside = [
        i for i, (token_start, token_end) in enumerate(context_offsets)
        if token_start < end and token_end > start
    ]
    return (inside[0], inside[-1]) if inside else None


def _window_starts(num_tokens, capacity, doc_stride):
    """Start indices of the context windows (BERT's `doc_spans`)."""
    start = 0
    while True:
        yield start
        if start + capacity >= num_tokens:
            return
        start += min(capacity, doc_stride)


def _to_arrays(rows, max_length, pad_id):
    num_windows = len(rows["token_ids"])
    token_ids = np.full((num_windows, max_length), pad_id, "int32")
    segment_ids = np.zeros((num_windows, max_length), "int32")
    padding_mask = np.zeros((num_windows, max_length), "int32")
    offsets = np.full((num_windows, max_length, 2), -1, "int32")
    for w in range(num_windows):
        length = len(rows["token_ids"][w])
        token_ids[w, :length] = rows["token_ids"][w]
        segment_ids[w, :length] = rows["segment_ids"][w]
        padding_mask[w, :length] = 1
        window_offsets = np.asarray(rows["offsets"][w], "int32").reshape(-1, 2)
        offsets[w, : len(window_offsets)] = window_offsets
    return {
        "token_ids": token_ids,
        "segment_ids": segment_ids,
        "padding_mask": padding_mask,
        "start_positions": np.asarray(rows["start_positions"], "int32"),
        "end_positions": np.asarray(rows["end_positions"], "int32"),
        "example_index": np.asarray(rows["example_index"], "int32"),
        "offsets": offsets,
    }
