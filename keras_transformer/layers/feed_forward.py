"""The position-wise feed-forward network of a Transformer block."""

import keras

from keras_transformer.layers import checks
from keras_transformer.layers import rows
from keras_transformer.layers.multi_head_attention import clone_initializer


def _exact_gelu(x):
    return keras.activations.gelu(x, approximate=False)


def get_activation(name):
    """Returns the activation `name`; "gelu" is the exact (erf) GELU of BERT."""
    if name == "gelu":
        return _exact_gelu
    return keras.activations.get(name)


@keras.saving.register_keras_serializable(package="keras_transformer")
class FeedForward(keras.layers.Layer):
    """FFN(x) = W2 act(W1 x + b1) + b2 ("Attention Is All You Need", 3.3).

    With `gated=True` it is the gated variant of Shazeer, "GLU Variants
    Improve Transformer" (2020): W2 (act(W1 x) * (V x)), e.g. SwiGLU with
    `activation="silu"`. The output size equals the input size D, inferred
    in `build()`.

    Args:
        intermediate_dim: The inner size (2048 in the paper's base model).
        activation: "relu" (the paper), "gelu" (exact, erf-based, as in
            BERT), "gelu_approximate" (tanh form) or any Keras activation.
        dropout: Dropout rate on the inner activations.
        gated: Whether to use a gated linear unit.
        use_bias: Whether the projections have biases.
        kernel_initializer: Initializer of the kernels.
        bias_initializer: Initializer of the biases.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: (B, T, D) inputs.
        training: Whether dropout is active.

    Returns:
        (B, T, D) outputs.

    Example:

    >>> import numpy as np
    >>> ffn = FeedForward(intermediate_dim=16, activation="gelu")
    >>> tuple(ffn(np.ones((2, 3, 8), "float32")).shape)
    (2, 3, 8)
    """

    def __init__(
        self,
        intermediate_dim,
        activation="relu",
        dropout=0.0,
        gated=False,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_dim = checks.positive_int(
            "intermediate_dim", intermediate_dim
        )
        self.activation = activation
        if activation != "gelu_approximate":
            self._activation_fn = get_activation(activation)
        else:
            self._activation_fn = lambda x: keras.activations.gelu(
                x, approximate=True
            )
        self.dropout = checks.rate("dropout", dropout)
        self.gated = bool(gated)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def _dense(self, units, name):
        return keras.layers.Dense(
            units,
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, inputs_shape):
        checks.rank("inputs", inputs_shape, 3, "(B, T, D)")
        hidden_dim = inputs_shape[-1]
        self.intermediate_dense = self._dense(self.intermediate_dim, "intermediate")
        self.intermediate_dense.build(inputs_shape)
        if self.gated:
            self.gate_dense = self._dense(self.intermediate_dim, "gate")
            self.gate_dense.build(inputs_shape)
        self.inner_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="inner_dropout"
        )
        self.output_dense = self._dense(hidden_dim, "output")
        self.output_dense.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))
        self.built = True

    def call(self, inputs, training=None):
        # [B, T, D] -> [B * T, D]: each Dense is then one MatMul (see `rows`).
        x = rows.to_rows(inputs)
        # hidden = [B * T, F]
        hidden = self._activation_fn(self.intermediate_dense(x))
        if self.gated:
            hidden = hidden * self.gate_dense(x)
        hidden = self.inner_dropout(hidden, training=training)
        return rows.from_rows(self.output_dense(hidden), inputs, inputs.shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": self.activation,
                "dropout": self.dropout,
                "gated": self.gated,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config
