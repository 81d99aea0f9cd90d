"""What the server accepts: request size, batch size, text length."""

import dataclasses

from keras_transformer.layers import checks


@dataclasses.dataclass(frozen=True)
class ServingLimits:
    """Limits on requests; a request past any of them gets a 4xx answer.

    Attributes:
        max_request_bytes: Largest request body (413 beyond).
        max_batch_size: Most instances (rows) in one request.
        max_text_chars: Longest text, in characters.
        max_text_tokens: Longest text in subword ids, with the end id (for
            a BERT task model: in word pieces with [CLS] and [SEP], for
            the texts it tags or classifies); `None`: the model's
            `max_sequence_length` (never more).
        request_timeout_s: Seconds a connection may take to send a request
            (and stay idle between keep-alive requests) before it is closed,
            so slow or stalled clients cannot hold a thread forever.

    Example:

    >>> limits = ServingLimits(max_batch_size=8)
    >>> limits.max_batch_size, limits.max_request_bytes
    (8, 1048576)
    """

    max_request_bytes: int = 1 << 20
    max_batch_size: int = 64
    max_text_chars: int = 2000
    max_text_tokens: int = None
    request_timeout_s: float = 30.0

    def __post_init__(self):
        checks.positive_int("max_request_bytes", self.max_request_bytes)
        checks.positive_int("max_batch_size", self.max_batch_size)
        checks.positive_int("max_text_chars", self.max_text_chars)
        if self.max_text_tokens is not None:
            checks.positive_int("max_text_tokens", self.max_text_tokens)
        checks.positive_float("request_timeout_s", self.request_timeout_s)

    def text_token_limit(self, max_sequence_length):
        """The most tokens of one text for a model: `max_text_tokens`, never
        past its `max_sequence_length`.

        >>> ServingLimits(max_text_tokens=64).text_token_limit(32)
        32
        """
        return min(self.max_text_tokens or max_sequence_length, max_sequence_length)
