"""The server-side text signatures of BERT task exports: text in, answers out.

An exported graph takes ids (`serving_default`). These functions do what
the graph does not, in Python in the server, with the export's
`BertTokenizer` and the package's own pre- and post-processing, so that
served answers are those of the training code:

* `tag_entities` / `tag_word_entities` (NER): raw text or pre-split words,
  tagged by the code of `keras_transformer.tasks.EntityTagger`
  (`tag_texts`, `tag_split_words`): one definition for the tagger, the
  fine-tuning example and the server.
* `answer_questions` (extractive QA): windows over long contexts by
  `keras_transformer.data.prepare_qa_features` (stride, never cut), n-best
  span decoding over all windows by `keras_transformer.question_answering.
  decode_answers`.
* `classify_texts`: a text (or pair) encoded with [CLS] ... [SEP], softmax
  over the class logits.

`run(arrays) -> outputs` is the runtime's `serving_default` on
{"token_ids", "segment_ids", "padding_mask"} (B, T) int32. What a client
did wrong raises `RequestError` (HTTP 400) naming the limit; texts are
never cut.
"""

import numpy as np

from keras_transformer.data import prepare_qa_features
from keras_transformer.export.encoder_signatures import INPUT_NAMES
from keras_transformer.models.bert_span_extractor import PADDING_LOGIT
from keras_transformer.question_answering import decode_answers
from keras_transformer.serving.errors import RequestError
from keras_transformer.tasks.entity_tagger import tag_split_words
from keras_transformer.tasks.entity_tagger import tag_texts


def pad_encodings(encodings, pad_id):
    """`BertEncoding`s as right-padded (B, T) int32 model inputs.

    Example:

    >>> from keras_transformer.data import BertEncoding
    >>> short = BertEncoding([2, 7, 3], [0, 0, 0], [], [], [])
    >>> arrays = pad_encodings([short, BertEncoding([2, 7, 8, 3], [0] * 4, [], [], [])], 0)
    >>> arrays["token_ids"].tolist(), arrays["padding_mask"].tolist()
    ([[2, 7, 3, 0], [2, 7, 8, 3]], [[1, 1, 1, 0], [1, 1, 1, 1]])
    """
    length = max(len(encoding) for encoding in encodings)
    arrays = {
        "token_ids": np.full((len(encodings), length), pad_id, np.int32),
        "segment_ids": np.zeros((len(encodings), length), np.int32),
        "padding_mask": np.zeros((len(encodings), length), np.int32),
    }
    for row, encoding in enumerate(encodings):
        arrays["token_ids"][row, : len(encoding)] = encoding.token_ids
        arrays["segment_ids"][row, : len(encoding)] = encoding.segment_ids
        arrays["padding_mask"][row, : len(encoding)] = 1
    return arrays


def softmax(logits):
    """Softmax over the last axis, in float64 (scores for clients)."""
    logits = np.asarray(logits, np.float64)
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def tag_entities(texts, tokenizer, run, labels, max_length, limit):
    """The named entities of each text, as character spans.

    The code of `keras_transformer.tasks.EntityTagger.tag` (`tag_texts`),
    on the runtime's `run`: served entities are the tagger's.

    Args:
        texts: Strings.
        tokenizer: The export's `BertTokenizer`.
        run: The runtime's `serving_default` (returns "logits" (B, T, L)).
        labels: The L IOB2 tag names, "O" among them.
        max_length: The most word pieces per text, [CLS] and [SEP]
            included; longer texts are refused.
        limit: How the limit is named in the refusal, e.g. "the model's
            max_sequence_length=128".

    Returns:
        For each text, a list of entities in text order, each a dict:
        "entity" (its type, e.g. "PER"), "start" and "end" (character
        offsets, end exclusive), "text" (`text[start:end]`) and "score" (the
        mean probability of the predicted tags of its words).
    """
    try:
        return tag_texts(list(texts), tokenizer, run, list(labels), max_length,
                         batch_size=max(len(texts), 1), name="text", limit=limit)
    except ValueError as error:
        raise RequestError(str(error)) from None


def tag_word_entities(word_lists, tokenizer, run, labels, max_length, limit):
    """The named entities of sentences already split into words.

    The code of `keras_transformer.tasks.EntityTagger.tag_words`
    (`tag_split_words`): words are never split again, so a client that
    splits as its training data was split gets the training-time words.

    Returns:
        For each sentence, a list of entities, each a dict: "entity",
        "start" and "end" (word indices, end exclusive), "words", "text"
        (the words joined by spaces) and "score".
    """
    try:
        return tag_split_words(list(word_lists), tokenizer, run, list(labels), max_length,
                               batch_size=max(len(word_lists), 1), name="words",
                               limit=limit)
    except ValueError as error:
        raise RequestError(str(error)) from None


def answer_questions(questions, contexts, tokenizer, run, qa_config, max_batch_size):
    """The answer span of each question in its context.

    Args:
        questions: Strings.
        contexts: Strings, one per question, of any length: contexts longer
            than a window are covered by overlapping windows.
        tokenizer: The export's `BertTokenizer`.
        run: The runtime's `serving_default` ("start_logits",
            "end_logits").
        qa_config: The export's `QaConfig`.
        max_batch_size: The most windows per model call.

    Returns:
        For each question, a dict: "answer" (the text, "" for no answer),
        "start" / "end" (its character span in the context, `None` for no
        answer) and "score" (start + end logit of the span, as
        `decode_answers` scores it).
    """
    for index, question in enumerate(questions):
        # [CLS] question [SEP]: the question's own pieces are 2 fewer.
        length = len(tokenizer.encode(question)) - 2
        if length > qa_config.max_question_length:
            raise RequestError(
                f"question[{index}] is {length} word pieces long, more than this "
                f"model's max_question_length={qa_config.max_question_length} "
                "(fixed at export). Questions are never cut: shorten it."
            )
    examples = [{"question": q, "context": c} for q, c in zip(questions, contexts)]
    try:
        features = prepare_qa_features(examples, tokenizer, **qa_config.window_args())
    except ValueError as error:
        raise RequestError(str(error)) from None
    start_logits, end_logits = _window_logits(features, run, max_batch_size)
    predictions = decode_answers(
        examples, features, start_logits, end_logits, **qa_config.decoding_args()
    )
    return [
        {"answer": p["text"], "start": p["start"], "end": p["end"], "score": p["score"]}
        for p in predictions
    ]


def classify_texts(texts, text_pairs, tokenizer, run, labels, max_length, limit):
    """The class of each text (or text pair).

    Args:
        texts: Strings.
        text_pairs: Strings, one per text, or `None`.
        tokenizer: The export's `BertTokenizer`.
        run: The runtime's `serving_default` ("logits" (B, C)).
        labels: The C class names.
        max_length: The most word pieces per input, special tokens
            included; longer inputs are refused.
        limit: How the limit is named in the refusal.

    Returns:
        For each text, a dict: "label", "score" (its probability) and
        "probabilities" (C floats, in `labels` order).
    """
    pairs = text_pairs if text_pairs is not None else [None] * len(texts)
    encodings = []
    for index, (text, pair) in enumerate(zip(texts, pairs)):
        encoding = tokenizer.encode(text, pair)
        if len(encoding) > max_length:
            raise RequestError(
                f"text[{index}]{' with text_pair' if pair is not None else ''} is "
                f"{len(encoding)} word pieces long (special tokens included), more "
                f"than the limit of {max_length} ({limit}). Inputs are never "
                "cut: shorten it."
            )
        encodings.append(encoding)
    probabilities = softmax(run(pad_encodings(encodings, tokenizer.pad_id))["logits"])
    return [
        {
            "label": labels[int(np.argmax(row))],
            "score": float(np.max(row)),
            "probabilities": row.tolist(),
        }
        for row in probabilities
    ]


def _window_logits(features, run, max_batch_size):
    """(W, T) start and end logits of every window, `max_batch_size` at a
    time; each call is cut to its longest window."""
    num_windows, length = features["token_ids"].shape
    start_logits = np.full((num_windows, length), PADDING_LOGIT, np.float32)
    end_logits = np.full((num_windows, length), PADDING_LOGIT, np.float32)
    lengths = features["padding_mask"].sum(axis=1)
    for first in range(0, num_windows, max_batch_size):
        rows = slice(first, first + max_batch_size)
        width = int(lengths[rows].max())
        outputs = run({name: features[name][rows, :width] for name in INPUT_NAMES})
        start_logits[rows, :width] = outputs["start_logits"]
        end_logits[rows, :width] = outputs["end_logits"]
    return start_logits, end_logits
