"""Exports run in float32, whatever precision the model trained in."""

import contextlib

import keras


def is_float32(model):
    """Whether the model and each of its layers compute in float32."""
    return model.compute_dtype == "float32" and all(
        layer.compute_dtype == "float32" for layer in model.layers
    )


@contextlib.contextmanager
def float32_policy():
    """Sets the global dtype policy to float32 for the block."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def as_float32(model):
    """Returns `model` if it computes in float32, else a float32 copy.

    A mixed-precision model (`mixed_bfloat16`, `mixed_float16`) keeps its
    variables in float32 already; only its computations are in half
    precision. The copy is rebuilt from the config under the float32
    policy and given the same weights, so the exported graphs take and
    return float32 tensors (ONNX Runtime and TF Serving on CPUs have few
    bfloat16 kernels, and verification compares float32 with float32).

    Args:
        model: A `Seq2SeqTransformer` (any model whose constructor takes
            `dtype` and whose `get_config` round-trips).

    Returns:
        A float32 model with the same weights.
    """
    if is_float32(model):
        return model
    with float32_policy():
        clone = type(model).from_config({**model.get_config(), "dtype": "float32"})
    # Weights are float32 in both (mixed precision keeps float32 variables),
    # and the same architecture lists them in the same order.
    clone.set_weights(model.get_weights())
    return clone
