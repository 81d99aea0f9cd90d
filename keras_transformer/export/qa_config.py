"""How an exported question-answering model windows and decodes: fixed at
export, recorded in the manifest, applied by the server."""

import dataclasses
import numbers

from keras_transformer.layers import checks

# BERT's SQuAD settings, used where the model is long enough.
DEFAULT_MAX_LENGTH = 384
DEFAULT_DOC_STRIDE = 128
DEFAULT_MAX_QUESTION_LENGTH = 64


@dataclasses.dataclass(frozen=True)
class QaConfig:
    """Windowing and span decoding of the server's `answer` signature.

    The fields are the arguments of `keras_transformer.data.
    prepare_qa_features` and `keras_transformer.question_answering.
    decode_answers` (and of `QuestionAnswerer`), under the same names, so
    the `qa_config.json` that `examples/finetune_qa.py` writes is one.

    Attributes:
        max_length: Tokens per window, at most the model's maximum length.
        doc_stride: Context tokens between the starts of two windows.
        max_question_length: The most question tokens (longer questions
            are refused, never cut).
        max_answer_length: The longest answer, in tokens.
        n_best_size: Candidate starts / ends per window.
        null_score_threshold: `None` to always answer; a number to answer
            "" when "no answer" wins by more than it.

    Example:

    >>> config = QaConfig.for_model(32)
    >>> config.max_length, config.max_question_length, config.doc_stride
    (32, 8, 10)
    >>> QaConfig.from_json(config.to_json()) == config
    True
    """

    max_length: int
    doc_stride: int
    max_question_length: int
    max_answer_length: int = 30
    n_best_size: int = 20
    null_score_threshold: float = None

    def __post_init__(self):
        for name in ("max_length", "doc_stride", "max_question_length",
                     "max_answer_length", "n_best_size"):
            checks.positive_int(name, getattr(self, name))
        threshold = self.null_score_threshold
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)
        ):
            raise checks.invalid_argument(
                "null_score_threshold", "None or a number", threshold
            )

    @classmethod
    def for_model(cls, max_sequence_length, **overrides):
        """BERT's settings, scaled down for models shorter than 384 tokens.

        Defaults: `max_length` = min(384, the model's maximum);
        `max_question_length` = min(64, max_length // 4); `doc_stride` =
        min(128, half the context tokens of a window), so that windows
        overlap.
        """
        max_length = overrides.pop(
            "max_length", min(DEFAULT_MAX_LENGTH, max_sequence_length)
        )
        max_question_length = overrides.pop(
            "max_question_length",
            min(DEFAULT_MAX_QUESTION_LENGTH, max(1, max_length // 4)),
        )
        # [CLS] question [SEP] context [SEP]: 3 special tokens.
        doc_stride = overrides.pop(
            "doc_stride",
            min(DEFAULT_DOC_STRIDE, max(1, (max_length - max_question_length - 3) // 2)),
        )
        return cls(max_length=max_length, doc_stride=doc_stride,
                   max_question_length=max_question_length, **overrides)

    def window_args(self):
        """The keyword arguments of `prepare_qa_features`."""
        return {
            "max_length": self.max_length,
            "doc_stride": self.doc_stride,
            "max_question_length": self.max_question_length,
        }

    def decoding_args(self):
        """The keyword arguments of `decode_answers`."""
        return {
            "n_best_size": self.n_best_size,
            "max_answer_length": self.max_answer_length,
            "null_score_threshold": self.null_score_threshold,
        }

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, config):
        return cls(**config)
