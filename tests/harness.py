"""One call per layer that checks what every layer must do.

`run_layer_test` checks the config round trip (arguments stored under their
own names), build, a symbolic call in a functional model, an eager call, one
`fit` step that changes the weights, `.keras` save/load with identical
outputs, and `mixed_bfloat16` / `mixed_float16`. Layer tests then add only
behaviour.
"""

import copy

import numpy as np
import keras
from keras import ops


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _serializable(value):
    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    return None


def check_config_round_trip(layer_cls, init_kwargs):
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for name, value in init_kwargs.items():
        if name.endswith("initializer") and isinstance(value, str):
            expected = type(keras.initializers.get(value)).__name__
            assert config[name]["class_name"] == expected, (name, config[name])
        elif _serializable(value) is not None:
            assert config[name] == value, (name, config[name], value)
    # from_config may consume its argument (keras.layers.Wrapper does).
    clone = layer_cls.from_config(copy.deepcopy(config))
    assert clone.get_config() == config
    # The layer is registered, so generic deserialization finds it by name.
    revived = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(revived) is layer_cls
    assert revived.get_config() == config


def _functional_model(layer, inputs, call_kwargs):
    symbolic = [
        keras.Input(shape=x.shape[1:], dtype=str(x.dtype), batch_size=None)
        for x in inputs
    ]
    outputs = layer(*symbolic, **call_kwargs)
    return keras.Model(symbolic, outputs)


def run_layer_test(
    layer_cls,
    init_kwargs,
    inputs,
    call_kwargs=None,
    expected_output_shape=None,
    tmp_path=None,
    run_fit=True,
    run_mixed_precision=True,
):
    """Runs the standard checks; returns the eager output (float32 policy).

    Args:
        layer_cls: The layer class.
        init_kwargs: Constructor arguments.
        inputs: A numpy array or list of arrays: the positional call inputs.
        call_kwargs: Python-valued keyword call arguments.
        expected_output_shape: The expected eager output shape.
        tmp_path: A folder for the `.keras` round trip.
        run_fit: Whether to run a `fit` step (layers with weights).
        run_mixed_precision: Whether to check the mixed policies.
    """
    call_kwargs = call_kwargs or {}
    inputs = _as_list(inputs)
    check_config_round_trip(layer_cls, init_kwargs)

    # Eager call, then the same layer in a functional model.
    layer = layer_cls(**init_kwargs)
    eager = layer(*inputs, **call_kwargs)
    assert layer.built
    if expected_output_shape is not None:
        assert tuple(eager.shape) == tuple(expected_output_shape)
    model = _functional_model(layer, inputs, call_kwargs)
    assert tuple(model.outputs[0].shape)[1:] == tuple(eager.shape)[1:]
    symbolic_result = model.predict(inputs, verbose=0)
    np.testing.assert_allclose(symbolic_result, eager, rtol=1e-5, atol=1e-5)

    if run_fit:
        before = [np.array(w) for w in model.trainable_weights]
        assert before, "a layer with weights was expected"
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        target = np.random.default_rng(0).normal(size=eager.shape).astype("float32")
        history = model.fit(inputs, target, epochs=1, batch_size=len(target), verbose=0)
        assert np.isfinite(history.history["loss"][0])
        after = [np.array(w) for w in model.trainable_weights]
        assert any(not np.array_equal(b, a) for b, a in zip(before, after))

    if tmp_path is not None:
        path = str(tmp_path / f"{layer_cls.__name__}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_array_equal(
            loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0)
        )
        assert type(loaded.layers[-1]) is layer_cls

    if run_mixed_precision:
        for policy in ("mixed_bfloat16", "mixed_float16"):
            mixed = layer_cls(**init_kwargs, dtype=policy)
            output = mixed(*inputs, **call_kwargs)
            compute_dtype = keras.DTypePolicy(policy).compute_dtype
            assert keras.backend.standardize_dtype(output.dtype) == compute_dtype
            assert np.all(np.isfinite(ops.convert_to_numpy(ops.cast(output, "float32"))))
            for weight in mixed.weights:
                if keras.backend.is_float_dtype(weight.dtype):
                    assert weight.dtype == "float32", weight.path
    return ops.convert_to_numpy(eager)


def copy_weights(source_layer, target_layer):
    """Copies weights between layers whose weights line up one to one."""
    target_layer.set_weights(source_layer.get_weights())


class MaskProbe(keras.layers.Layer):
    """Outputs the Keras mask it receives, as int32 (for masking tests)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return ops.cast(mask, "int32")

    def compute_output_spec(self, inputs, mask=None):
        return keras.KerasTensor(inputs.shape[:2], dtype="int32")
