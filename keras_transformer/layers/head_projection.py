"""The projections into and out of attention heads, as plain matmuls."""

import keras
from keras import ops

from keras_transformer.layers import checks
from keras_transformer.layers import rows


@keras.saving.register_keras_serializable(package="keras_transformer")
class HeadProjection(keras.layers.Layer):
    """A dense projection into attention heads, or out of them.

    Split (`num_heads` and `head_dim` given): (B, T, D) -> (B, T, N, H), with
    a (D, N, H) kernel and an (N, H) bias. Merge (`output_dim` given):
    (B, T, N, H) -> (B, T, D_out), with an (N, H, D_out) kernel and a
    (D_out,) bias. The weights have the shapes (and the initialization) of
    the `keras.layers.EinsumDense` layers of `keras.layers.MultiHeadAttention`,
    so weights copy between the two.

    The product is computed as one 2-D matrix multiplication on (B * T, D)
    rows (`rows`), with the kernel viewed as (D, N * H) or (N * H, D_out),
    rather than as an einsum: TensorFlow runs EinsumDense and its gradients
    as `BatchMatMulV2`, which measured about 4x slower per FLOP than `MatMul`
    on a 2-core CPU (`benchmarks/README.md`).

    Args:
        num_heads: N, for a split projection.
        head_dim: H, for a split projection.
        output_dim: D_out, for a merge projection.
        use_bias: Whether to add a bias.
        kernel_initializer: Initializer of the kernel.
        bias_initializer: Initializer of the bias.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Example:

    >>> import numpy as np
    >>> split = HeadProjection(num_heads=2, head_dim=3)
    >>> heads = split(np.ones((4, 5, 8), "float32"))
    >>> tuple(heads.shape), tuple(split.kernel.shape)
    ((4, 5, 2, 3), (8, 2, 3))
    >>> merge = HeadProjection(output_dim=8)
    >>> tuple(merge(heads).shape)
    (4, 5, 8)
    """

    def __init__(
        self,
        num_heads=None,
        head_dim=None,
        output_dim=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        split = num_heads is not None or head_dim is not None
        if split == (output_dim is not None):
            raise ValueError(
                "`HeadProjection` needs either `num_heads` and `head_dim` (a "
                "projection into heads) or `output_dim` (out of them). "
                f"Received: num_heads={num_heads}, head_dim={head_dim}, "
                f"output_dim={output_dim}"
            )
        self.num_heads = None if num_heads is None else checks.positive_int(
            "num_heads", num_heads
        )
        self.head_dim = None if head_dim is None else checks.positive_int(
            "head_dim", head_dim
        )
        if split and (self.num_heads is None or self.head_dim is None):
            raise ValueError(
                "A projection into heads needs both `num_heads` and `head_dim`. "
                f"Received: num_heads={num_heads}, head_dim={head_dim}"
            )
        self.output_dim = None if output_dim is None else checks.positive_int(
            "output_dim", output_dim
        )
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, inputs_shape):
        if self.output_dim is None:
            checks.rank("inputs", inputs_shape, 3, "(B, T, D)")
            kernel_shape = (inputs_shape[-1], self.num_heads, self.head_dim)
            bias_shape = (self.num_heads, self.head_dim)
        else:
            checks.rank("inputs", inputs_shape, 4, "(B, T, N, H)")
            kernel_shape = (inputs_shape[-2], inputs_shape[-1], self.output_dim)
            bias_shape = (self.output_dim,)
        # Kernel axes read by the input and written to the output: the fans
        # of variance-scaling initializers, as `keras.layers.EinsumDense`
        # computes them (Glorot: fan_in = D, fan_out = N * H when splitting).
        axes = ([0], [1, 2]) if self.output_dim is None else ([0, 1], [2])
        self.kernel = self.add_weight(
            name="kernel",
            shape=kernel_shape,
            initializer=_with_fan_axes(self.kernel_initializer, *axes),
        )
        self.bias = (
            self.add_weight(name="bias", shape=bias_shape, initializer=self.bias_initializer)
            if self.use_bias
            else None
        )

    def call(self, inputs):
        if self.output_dim is None:
            # [B * T, D] x [D, N * H] -> [B, T, N, H]
            hidden_dim = self.kernel.shape[0]
            kernel = ops.reshape(self.kernel, (hidden_dim, self.num_heads * self.head_dim))
            outputs = ops.matmul(rows.to_rows(inputs), kernel)
            outputs = rows.from_rows(outputs, inputs, self.num_heads, self.head_dim)
            return outputs if self.bias is None else outputs + self.bias
        # [B * T, N * H] x [N * H, D_out] -> [B, T, D_out]
        num_heads, head_dim = self.kernel.shape[0], self.kernel.shape[1]
        flat = ops.reshape(inputs, (-1, num_heads * head_dim))
        kernel = ops.reshape(self.kernel, (num_heads * head_dim, self.output_dim))
        outputs = ops.matmul(flat, kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return rows.from_rows(outputs, inputs, self.output_dim)

    def compute_output_shape(self, inputs_shape):
        if self.output_dim is None:
            return (*inputs_shape[:2], self.num_heads, self.head_dim)
        return (*inputs_shape[:2], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "head_dim": self.head_dim,
                "output_dim": self.output_dim,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config


def _with_fan_axes(initializer, input_axes, output_axes):
    """`initializer` with the fan axes set, when it scales by fans."""
    if not isinstance(initializer, keras.initializers.VarianceScaling) or (
        initializer.input_axes is not None and initializer.output_axes is not None
    ):
        return initializer
    config = initializer.get_config()
    # The concrete seed, so that the copy draws what the original would.
    config.update(seed=initializer.seed, input_axes=input_axes, output_axes=output_axes)
    return initializer.__class__.from_config(config)
