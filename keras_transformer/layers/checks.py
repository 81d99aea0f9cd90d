"""Argument validation shared by every layer.

Every message follows Keras's phrasing: it names the argument, says what was
expected and shows what was received, so a user can fix the call without
reading our source.
"""

import numbers


def invalid_argument(name, expected, value):
    """Returns the `ValueError` for argument `name` holding `value`."""
    return ValueError(
        f"Received an invalid value for argument `{name}`, expected "
        f"{expected}. Received: {name}={value!r}"
    )


def positive_int(name, value):
    """Returns `value` if it is a positive integer, else raises."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value <= 0
    ):
        raise invalid_argument(name, "a positive integer", value)
    return int(value)


def non_negative_int(name, value):
    """Returns `value` if it is an integer >= 0, else raises."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < 0
    ):
        raise invalid_argument(name, "a non-negative integer", value)
    return int(value)


def rate(name, value):
    """Returns `value` if it is a float in [0, 1), else raises."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value < 1.0
    ):
        raise invalid_argument(name, "a float in [0, 1)", value)
    return float(value)


def positive_float(name, value):
    """Returns `value` if it is a float > 0, else raises."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value > 0
    ):
        raise invalid_argument(name, "a positive number", value)
    return float(value)


def one_of(name, value, choices):
    """Returns `value` if it is one of `choices`, else raises."""
    if value not in choices:
        raise invalid_argument(name, f"one of {sorted(choices)}", value)
    return value


def rank(name, shape, expected_rank, notation):
    """Raises unless `shape` has `expected_rank` dimensions.

    Args:
        name: The argument the shape belongs to.
        shape: A shape tuple (dimensions may be `None`).
        expected_rank: The required number of dimensions.
        notation: The expected layout, e.g. `"(B, T, D)"`.
    """
    if len(shape) != expected_rank:
        raise ValueError(
            f"Received an invalid shape for argument `{name}`, expected a "
            f"rank-{expected_rank} tensor of shape {notation}. "
            f"Received: {name}.shape={tuple(shape)}"
        )


def divisible(hidden_dim, num_heads):
    """Raises unless `hidden_dim` splits evenly across `num_heads`."""
    if hidden_dim % num_heads != 0:
        raise ValueError(
            "The hidden size must be divisible by `num_heads`, so that every "
            f"head has the same size. Received: hidden_dim={hidden_dim}, "
            f"num_heads={num_heads}"
        )


def static_dims_match(name, shape, expected, notation):
    """Raises when a known dimension of `shape` contradicts `expected`.

    Dimensions that are `None` on either side are unknown until run time and
    are not checked; a dimension of 1 in `shape` broadcasts and is accepted.
    """
    if len(shape) != len(expected):
        raise ValueError(
            f"Received an invalid shape for argument `{name}`, expected "
            f"{notation} = {tuple(expected)}. Received: {name}.shape="
            f"{tuple(shape)}"
        )
    for got, want in zip(shape, expected):
        if got is None or want is None or got == 1:
            continue
        if got != want:
            raise ValueError(
                f"Received an invalid shape for argument `{name}`, expected "
                f"{notation} = {tuple(expected)}. Received: {name}.shape="
                f"{tuple(shape)}"
            )


def non_negative_float(name, value):
    """Returns `value` if it is a float >= 0, else raises."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not value >= 0
    ):
        raise invalid_argument(name, "a non-negative number", value)
    return float(value)
