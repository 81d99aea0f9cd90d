"""`HeadProjection`: EinsumDense's weights and results, computed as MatMuls."""

import keras
import numpy as np
import pytest

from harness import run_layer_test
from keras_transformer.layers import HeadProjection

RNG = np.random.default_rng(7)


def normal(*shape):
    return RNG.normal(size=shape).astype("float32")


def test_standard_checks_split(tmp_path):
    run_layer_test(HeadProjection, {"num_heads": 2, "head_dim": 3}, normal(2, 5, 8),
                   expected_output_shape=(2, 5, 2, 3), tmp_path=tmp_path)


def test_standard_checks_merge(tmp_path):
    run_layer_test(HeadProjection, {"output_dim": 6, "use_bias": False},
                   normal(2, 5, 2, 3), expected_output_shape=(2, 5, 6),
                   tmp_path=tmp_path)


@pytest.mark.parametrize(
    "ours, theirs, inputs",
    [
        ({"num_heads": 4, "head_dim": 3},
         keras.layers.EinsumDense("abc,cde->abde", (None, 4, 3), bias_axes="de"),
         normal(3, 7, 10)),
        ({"output_dim": 10},
         keras.layers.EinsumDense("abcd,cde->abe", (None, 10), bias_axes="e"),
         normal(3, 7, 4, 3)),
    ],
    ids=["split", "merge"],
)
def test_equals_einsum_dense_with_the_same_weights(ours, theirs, inputs):
    layer = HeadProjection(**ours, bias_initializer="random_normal")
    expected_shape = tuple(layer.compute_output_shape(inputs.shape))
    outputs = layer(inputs)
    theirs.build(inputs.shape)
    assert [w.shape for w in theirs.weights] == [w.shape for w in layer.weights]
    theirs.set_weights(layer.get_weights())
    np.testing.assert_allclose(outputs, theirs(inputs), atol=1e-5)
    assert tuple(outputs.shape) == expected_shape


def test_initialization_equals_einsum_dense():
    # Same shapes, same initializer and seed: the same numbers, so models
    # initialize as they did with EinsumDense projections.
    ours = HeadProjection(num_heads=2, head_dim=4,
                          kernel_initializer=keras.initializers.GlorotUniform(seed=3))
    theirs = keras.layers.EinsumDense("abc,cde->abde", (None, 2, 4), bias_axes="de",
                                      kernel_initializer=keras.initializers.GlorotUniform(seed=3))
    ours.build((None, None, 8))
    theirs.build((None, None, 8))
    np.testing.assert_array_equal(ours.kernel, theirs.kernel)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"either `num_heads` and `head_dim`.*Received: "
                                         r"num_heads=None, head_dim=None, output_dim=None"):
        HeadProjection()
    with pytest.raises(ValueError, match="Received: num_heads=2, head_dim=3, output_dim=4"):
        HeadProjection(num_heads=2, head_dim=3, output_dim=4)
    with pytest.raises(ValueError, match="needs both `num_heads` and `head_dim`"):
        HeadProjection(num_heads=2)
    with pytest.raises(ValueError, match="num_heads"):
        HeadProjection(num_heads=0, head_dim=3)
    with pytest.raises(ValueError, match=r"inputs"):
        HeadProjection(num_heads=2, head_dim=3)(normal(2, 3, 4, 5))
