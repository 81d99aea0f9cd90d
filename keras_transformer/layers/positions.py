"""Position arithmetic shared by the positional encodings."""

from keras import ops

from keras_transformer.layers import checks


def check_length(name, sequence_length, start_index, max_length):
    """Raises when positions `start_index .. start_index + T - 1` overflow.

    Only static values are checked; a length known only at run time fails in
    the table lookup instead.
    """
    if max_length is None or sequence_length is None:
        return
    if not isinstance(start_index, int):
        start_index = 0
    if start_index + sequence_length > max_length:
        raise ValueError(
            f"Received an input of length {sequence_length} starting at "
            f"position {start_index}, but `{name}` allows positions below "
            f"{max_length}. Received: {name}={max_length}, "
            f"sequence length={sequence_length}, start_index={start_index}"
        )


def sinusoids(positions, hidden_dim, max_wavelength):
    """Returns the (T, D) float32 sinusoidal encoding of `positions` (T,).

    Interleaved layout, exactly the paper's formula:
    PE(pos, 2i) = sin(pos / max_wavelength^(2i / D)) and
    PE(pos, 2i + 1) = cos(pos / max_wavelength^(2i / D)).
    """
    checks.positive_int("hidden_dim", hidden_dim)
    dims = ops.arange(hidden_dim, dtype="int32")
    # 2i for both members of the (2i, 2i + 1) pair.
    even_dims = ops.cast(dims - dims % 2, "float32")
    inverse_frequency = ops.power(
        ops.cast(max_wavelength, "float32"), -even_dims / hidden_dim
    )
    # angles = [T, D]
    angles = ops.expand_dims(ops.cast(positions, "float32"), 1) * inverse_frequency
    return ops.where(dims % 2 == 0, ops.sin(angles), ops.cos(angles))
