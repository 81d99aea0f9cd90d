"""The fixed sinusoidal positional encoding of "Attention Is All You Need"."""

import keras
from keras import ops

from keras_transformer.layers import checks
from keras_transformer.layers import positions


@keras.saving.register_keras_serializable(package="keras_transformer")
class SinusoidalPositionalEncoding(keras.layers.Layer):
    """Sinusoidal positional encoding (Vaswani et al. 2017, section 3.5).

    PE(pos, 2i) = sin(pos / max_wavelength^(2i / D)),
    PE(pos, 2i + 1) = cos(pos / max_wavelength^(2i / D)).

    Layout: **interleaved**, as the formula is written (sine at even
    channels, cosine at odd ones), not the "concatenated halves" layout of
    the TensorFlow tutorial. The layer returns the encoding, shaped like its
    input, for the caller to add; it has no weights.

    Args:
        max_wavelength: The base of the geometric wavelength progression
            (10000 in the paper).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: (B, T, D) embeddings; only the shape is used.
        start_index: Position of the first element, for incremental
            decoding (an int or a scalar tensor). Defaults to 0.

    Returns:
        (B, T, D) encodings in the layer's compute dtype.

    Example:

    >>> import numpy as np
    >>> encoding = SinusoidalPositionalEncoding()(np.zeros((1, 3, 4), "float32"))
    >>> [round(float(v), 3) for v in encoding[0, 1]]  # position 1
    [0.841, 0.54, 0.01, 1.0]
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = checks.positive_float(
            "max_wavelength", max_wavelength
        )
        self.supports_masking = True

    def build(self, inputs_shape):
        checks.rank("inputs", inputs_shape, 3, "(B, T, D)")
        self.built = True

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        steps = ops.arange(shape[1], dtype="int32") + ops.cast(start_index, "int32")
        encoding = positions.sinusoids(steps, inputs.shape[-1], self.max_wavelength)
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype), shape)

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
