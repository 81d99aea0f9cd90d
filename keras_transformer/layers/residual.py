"""The residual connection around a sublayer: the one place norm order lives."""

import keras

from keras_transformer.layers import checks


@keras.saving.register_keras_serializable(package="keras_transformer")
class Residual(keras.layers.Wrapper):
    """Wraps a sublayer in a residual connection with layer normalization.

    Post-norm ("Attention Is All You Need", BERT):
    `y = norm(x + dropout(sublayer(x)))`.
    Pre-norm (GPT-2, Xiong et al. 2020): `y = x + dropout(sublayer(norm(x)))`.

    Every Transformer block in this package builds its sub-blocks with this
    wrapper, so the choice is made here and nowhere else.

    Args:
        layer: The sublayer, a `keras.layers.Layer` mapping (B, T, D) to
            (B, T, D). It may return a tuple whose first element is that
            output (attention scores, caches); the rest is passed through.
        norm_first: Whether to normalize before the sublayer (pre-norm).
        dropout: Dropout rate on the sublayer's output.
        layer_norm_epsilon: Epsilon of the layer normalization.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: (B, T, D) inputs.
        training: Whether dropout is active.
        sublayer_call: Optional callable that calls the sublayer on the
            (normalized) inputs with extra arguments, e.g.
            `functools.partial(attention, value=memory, training=training)`.
            Keras call arguments cannot mix tensors and Python values in
            one `**kwargs` structure, hence a callable.

    Returns:
        (B, T, D) outputs, followed by the sublayer's extra outputs if any.

    Example:

    >>> import numpy as np
    >>> block = Residual(keras.layers.Dense(4), norm_first=True)
    >>> tuple(block(np.ones((2, 3, 4), "float32")).shape)
    (2, 3, 4)
    """

    def __init__(
        self,
        layer,
        norm_first=False,
        dropout=0.0,
        layer_norm_epsilon=1e-5,
        **kwargs,
    ):
        super().__init__(layer, **kwargs)
        self.norm_first = bool(norm_first)
        self.dropout = checks.rate("dropout", dropout)
        self.layer_norm_epsilon = checks.positive_float(
            "layer_norm_epsilon", layer_norm_epsilon
        )
        self.supports_masking = True

    def build(self, inputs_shape):
        checks.rank("inputs", inputs_shape, 3, "(B, T, D)")
        self.norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
        )
        self.norm.build(inputs_shape)
        self.output_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="output_dropout"
        )
        if not self.layer.built:
            self.layer.build(inputs_shape)
        self.built = True

    def call(self, inputs, training=None, sublayer_call=None):
        sublayer_inputs = self.norm(inputs) if self.norm_first else inputs
        if sublayer_call is None:
            outputs = self.layer(sublayer_inputs, training=training)
        else:
            outputs = sublayer_call(sublayer_inputs)
        extras = ()
        if isinstance(outputs, (tuple, list)):
            outputs, extras = outputs[0], tuple(outputs[1:])
        outputs = inputs + self.output_dropout(outputs, training=training)
        if not self.norm_first:
            outputs = self.norm(outputs)
        return (outputs,) + extras if extras else outputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "norm_first": self.norm_first,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config
