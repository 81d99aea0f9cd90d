"""A learned position embedding with a fixed maximum length."""

import keras
from keras import ops

from keras_transformer.layers import checks
from keras_transformer.layers import positions
from keras_transformer.layers.multi_head_attention import clone_initializer


@keras.saving.register_keras_serializable(package="keras_transformer")
class PositionEmbedding(keras.layers.Layer):
    """A learned (L, D) table of position vectors (as in BERT and GPT-2).

    Returns the vectors of positions `start_index .. start_index + T - 1`,
    shaped like the input, for the caller to add. A sequence reaching past
    `sequence_length` is an error, never silently cut.

    Args:
        sequence_length: L, the maximum number of positions.
        initializer: Initializer of the table.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: (B, T, D) embeddings; only the shape is used.
        start_index: Position of the first element (int or scalar tensor).

    Returns:
        (B, T, D) position vectors.

    Example:

    >>> import numpy as np
    >>> layer = PositionEmbedding(sequence_length=8)
    >>> tuple(layer(np.zeros((2, 5, 4), "float32")).shape)
    (2, 5, 4)
    """

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = checks.positive_int("sequence_length", sequence_length)
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        checks.rank("inputs", inputs_shape, 3, "(B, T, D)")
        positions.check_length(
            "sequence_length", inputs_shape[1], 0, self.sequence_length
        )
        self.position_embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, inputs_shape[-1]),
            initializer=clone_initializer(self.initializer),
        )
        self.built = True

    def call(self, inputs, start_index=0):
        positions.check_length(
            "sequence_length", inputs.shape[1], start_index, self.sequence_length
        )
        shape = ops.shape(inputs)
        table = ops.convert_to_tensor(self.position_embeddings)
        table = ops.slice(table, (start_index, 0), (shape[1], shape[2]))
        return ops.broadcast_to(ops.cast(table, self.compute_dtype), shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config
