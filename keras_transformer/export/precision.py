"""Exports run in float32, whatever precision the model trained in."""

import contextlib

import keras

_FLOAT_POLICY_NAMES = (
    "float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16",
)


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

    Every dtype policy in the config is replaced, nested ones included: a
    BERT task model serializes its encoder, and that encoder's policy, in
    its own config.

    Args:
        model: A `Seq2SeqTransformer` or a BERT task model (any model whose
            constructor takes `dtype` and whose `get_config` round-trips).

    Returns:
        A float32 model with the same weights.
    """
    if is_float32(model):
        return model
    with float32_policy():
        clone = type(model).from_config(
            {**float32_config(model.get_config()), "dtype": "float32"}
        )
    # Weights are float32 in both (mixed precision keeps float32 variables),
    # and the same architecture lists them in the same order.
    clone.set_weights(model.get_weights())
    return clone


def float32_config(config):
    """`config` with every dtype policy in it, at any depth, set to float32.

    Policies appear as names ("mixed_bfloat16") or serialized dicts (class
    name "DTypePolicy"); other values under a "dtype" key, such as an
    input's "int32", are kept.

    Example:

    >>> float32_config({"dtype": "mixed_float16", "encoder": {"config": {
    ...     "dtype": {"class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}}}},
    ...     "ids": {"dtype": "int32"}})
    {'dtype': 'float32', 'encoder': {'config': {'dtype': 'float32'}}, 'ids': {'dtype': 'int32'}}
    """
    if isinstance(config, dict):
        return {
            key: "float32" if key == "dtype" and _is_float_policy(value)
            else float32_config(value)
            for key, value in config.items()
        }
    if isinstance(config, (list, tuple)):
        return type(config)(float32_config(value) for value in config)
    return config


def _is_float_policy(value):
    if isinstance(value, dict):
        return "DTypePolicy" in str(value.get("class_name", ""))
    return value in _FLOAT_POLICY_NAMES
