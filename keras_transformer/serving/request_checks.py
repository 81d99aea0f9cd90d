"""Checks of request values that every served export makes, each raising
`RequestError` (a 4xx answer) that names the value and the limit."""

import numpy as np

from keras_transformer.serving.errors import RequestError


def check_texts(name, texts, max_text_chars, purpose):
    """Refuses blank texts and texts longer than `max_text_chars`.

    Args:
        name: The input's name, e.g. "text".
        texts: Its (B,) strings.
        max_text_chars: The server's limit in characters.
        purpose: What the model does with a text ("translate", "read"), for
            the message on a blank one.
    """
    for index, text in enumerate(texts):
        if not text.strip():
            raise RequestError(
                f"{name}[{index}] is empty or blank: there is nothing to {purpose}."
            )
        if len(text) > max_text_chars:
            raise RequestError(
                f"{name}[{index}] has {len(text)} characters, more than this "
                f"server's max_text_chars={max_text_chars}. Split it."
            )


def check_sequence_length(subject, length, max_sequence_length):
    """Refuses (B, T) inputs with T past the model's `max_sequence_length`.

    Args:
        subject: What has the sequences, with its verb ("token_ids has").
        length: T.
        max_sequence_length: The model's limit.
    """
    if length > max_sequence_length:
        raise RequestError(
            f"{subject} sequences of {length} ids, more than the "
            f"model's max_sequence_length={max_sequence_length}."
        )


def check_range(name, values, limit, what, plural):
    """Refuses (B, T) integer `values` outside [0, limit), naming the first.

    Args:
        name: The input's name.
        values: Its (B, T) array.
        limit: One past the largest valid value.
        what: One valid value, for the message ("a token id").
        plural: The valid values, for the message ("ids").
    """
    bad = (values < 0) | (values >= limit)
    if np.any(bad):
        row, column = map(int, np.argwhere(bad)[0])
        raise RequestError(
            f"{name}[{row}][{column}] = {int(values[row, column])} is not "
            f"{what}: {plural} are in [0, {limit})."
        )
