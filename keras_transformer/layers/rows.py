"""Dense layers on (B, T, D) sequences as 2-D matrix products.

TensorFlow runs a matmul of a (B, T, D) tensor by a (D, F) kernel through
`tf.tensordot`, which adds about eight shape ops (Shape, Gather, Prod, Pack,
Reshape...) around the MatMul, and an einsum through `BatchMatMulV2`. Both
cost little in a training step but dominate a cached decoding step, which
runs a few hundred small ops per token. Flattening the positions into rows
once makes every projection one plain MatMul.
"""

from keras import ops


def to_rows(x):
    """(B, T, ..., D) -> (B * T * ..., D)."""
    return ops.reshape(x, (-1, x.shape[-1]))


def from_rows(rows, like, *trailing):
    """(B * T, ...) -> (B, T, *trailing), with B and T those of `like`.

    T is taken statically when `like` knows it (a decoding step's T = 1),
    so that no shape op runs.
    """
    length = like.shape[1] if like.shape[1] is not None else ops.shape(like)[1]
    return ops.reshape(rows, (-1, length, *trailing))
