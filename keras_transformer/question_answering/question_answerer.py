"""Text in, answer out: a trained span extractor, its tokenizer and decoding."""

import numpy as np

from keras_transformer.data.qa_features import INPUT_NAMES
from keras_transformer.data.qa_features import prepare_qa_features
from keras_transformer.layers import checks
from keras_transformer.question_answering.span_decoding import decode_answers

# The logit of positions a batch does not reach; far below any real logit.
_MISSING_LOGIT = -1e9


class QuestionAnswerer:
    """Answers questions about a context with a `BertSpanExtractor`.

    Questions and contexts are tokenized and windowed with
    `prepare_qa_features`; the windows are sorted by length into batches
    (little padding) and scored by the model; `decode_answers` picks the
    best span over all windows of each question and maps it back to the
    context's characters.

    Args:
        model: A trained `BertSpanExtractor`.
        tokenizer: The `BertTokenizer` of its encoder.
        max_length: Tokens per window; at most the encoder's
            `max_sequence_length`.
        doc_stride: Context tokens between the starts of consecutive windows.
        max_question_length: The most question tokens; longer questions
            raise `ValueError`.
        max_answer_length: The longest answer, in tokens.
        n_best_size: Candidate starts / ends per window, and spans reported.
        null_score_threshold: `None` to always answer; a number to answer
            "" when the model prefers "no answer" by more than it (see
            `decode_answers`).
        batch_size: Windows per model call.

    Example (an untrained model answers with some span of the context):

    >>> import os, tempfile
    >>> from keras_transformer.data import BertTokenizer
    >>> from keras_transformer.models import BertEncoder, BertSpanExtractor
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "vocab.txt"), "w") as f:
    ...     _ = f.write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...         "who", "built", "the", "ark", "?", "noah", "."]))
    >>> tokenizer = BertTokenizer(os.path.join(folder, "vocab.txt"))
    >>> encoder = BertEncoder(vocabulary_size=12, num_layers=1, num_heads=2,
    ...                       hidden_dim=8, intermediate_dim=16, max_sequence_length=32)
    >>> answerer = QuestionAnswerer(BertSpanExtractor(encoder), tokenizer,
    ...                             max_length=32, doc_stride=8, max_question_length=8)
    >>> prediction = answerer.answer("Who built the ark?", "Noah built the ark.")
    >>> prediction["text"] in "Noah built the ark."
    True
    >>> sorted(prediction)
    ['end', 'n_best', 'null_score', 'score', 'start', 'text']
    """

    def __init__(
        self,
        model,
        tokenizer,
        max_length=384,
        doc_stride=128,
        max_question_length=64,
        max_answer_length=30,
        n_best_size=20,
        null_score_threshold=None,
        batch_size=16,
    ):
        encoder = getattr(model, "encoder", None)
        if encoder is None or not hasattr(encoder, "max_sequence_length"):
            raise checks.invalid_argument(
                "model", "a `BertSpanExtractor` (with an `encoder`)", model
            )
        if tokenizer.vocabulary_size > encoder.vocabulary_size:
            raise ValueError(
                "The tokenizer does not match the model: its vocabulary has "
                f"{tokenizer.vocabulary_size} ids, the encoder's embedding "
                f"{encoder.vocabulary_size}."
            )
        max_length = checks.positive_int("max_length", max_length)
        if max_length > encoder.max_sequence_length:
            raise ValueError(
                "Received an invalid value for argument `max_length`, expected "
                "at most the encoder's max_sequence_length="
                f"{encoder.max_sequence_length}. Received: max_length={max_length}"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.doc_stride = checks.positive_int("doc_stride", doc_stride)
        self.max_question_length = checks.positive_int(
            "max_question_length", max_question_length
        )
        self.max_answer_length = checks.positive_int(
            "max_answer_length", max_answer_length
        )
        self.n_best_size = checks.positive_int("n_best_size", n_best_size)
        self.null_score_threshold = null_score_threshold
        self.batch_size = checks.positive_int("batch_size", batch_size)
        # Checks the window arguments together, before any question comes.
        prepare_qa_features([], tokenizer, **self._window_args())

    def _window_args(self):
        return dict(
            max_length=self.max_length,
            doc_stride=self.doc_stride,
            max_question_length=self.max_question_length,
        )

    def answer(self, question, context):
        """Returns the prediction dict (see `decode_answers`) of one question."""
        return self.predict([{"question": question, "context": context}])[0]

    def predict(self, examples):
        """Answers a list of examples (dicts with "question" and "context").

        Returns:
            A list of prediction dicts, one per example, in order (see
            `decode_answers`).
        """
        examples = list(examples)
        features = prepare_qa_features(examples, self.tokenizer, **self._window_args())
        start_logits, end_logits = self.logits(features)
        return decode_answers(
            examples,
            features,
            start_logits,
            end_logits,
            n_best_size=self.n_best_size,
            max_answer_length=self.max_answer_length,
            null_score_threshold=self.null_score_threshold,
        )

    def logits(self, features):
        """(W, T) start and end logits of the windows of `features`."""
        num_windows, length = features["token_ids"].shape
        start_logits = np.full((num_windows, length), _MISSING_LOGIT, "float32")
        end_logits = np.full((num_windows, length), _MISSING_LOGIT, "float32")
        lengths = features["padding_mask"].sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        for first in range(0, num_windows, self.batch_size):
            rows = order[first : first + self.batch_size]
            width = int(lengths[rows].max())
            inputs = {name: features[name][rows, :width] for name in INPUT_NAMES}
            outputs = self.model.predict_on_batch(inputs)
            start_logits[rows, :width] = np.asarray(outputs["start_logits"])
            end_logits[rows, :width] = np.asarray(outputs["end_logits"])
        return start_logits, end_logits
