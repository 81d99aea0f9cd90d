"""`FeedForward` and the `Residual` wrapper, against closed forms."""

import math

import keras
import numpy as np
import pytest

from harness import run_layer_test
from keras_transformer.layers import FeedForward
from keras_transformer.layers import Residual

RNG = np.random.default_rng(7)
X = RNG.normal(size=(2, 3, 4)).astype("float32")


def dense_weights(layer):
    return np.asarray(layer.kernel), np.asarray(layer.bias)


def exact_gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


class TestFeedForward:
    @pytest.mark.parametrize("gated", [False, True])
    def test_standard_checks(self, tmp_path, gated):
        run_layer_test(
            FeedForward,
            {"intermediate_dim": 8, "activation": "gelu", "dropout": 0.1, "gated": gated},
            X,
            expected_output_shape=(2, 3, 4),
            tmp_path=tmp_path,
        )

    @pytest.mark.parametrize("activation", ["relu", "gelu"])
    def test_closed_form(self, activation):
        layer = FeedForward(8, activation=activation, bias_initializer="random_normal")
        out = layer(X)
        w1, b1 = dense_weights(layer.intermediate_dense)
        w2, b2 = dense_weights(layer.output_dense)
        hidden = X @ w1 + b1
        hidden = np.maximum(hidden, 0) if activation == "relu" else exact_gelu(hidden)
        np.testing.assert_allclose(out, hidden @ w2 + b2, atol=1e-5)

    def test_gated_closed_form(self):
        layer = FeedForward(8, activation="silu", gated=True)
        out = layer(X)
        w1, b1 = dense_weights(layer.intermediate_dense)
        wg, bg = dense_weights(layer.gate_dense)
        w2, b2 = dense_weights(layer.output_dense)
        a = X @ w1 + b1
        hidden = a / (1 + np.exp(-a)) * (X @ wg + bg)
        np.testing.assert_allclose(out, hidden @ w2 + b2, atol=1e-5)

    def test_rejects_bad_arguments(self):
        with pytest.raises(ValueError, match="intermediate_dim=0"):
            FeedForward(0)
        with pytest.raises(ValueError, match="`dropout`.*dropout=-0.1"):
            FeedForward(4, dropout=-0.1)
        with pytest.raises(ValueError, match=r"inputs.shape=\(3, 4\)"):
            FeedForward(4)(X[0])


def layer_norm(x, eps):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(-1, keepdims=True) + eps)


class TestResidual:
    def test_standard_checks(self, tmp_path):
        run_layer_test(
            Residual,
            {"layer": keras.layers.Dense(4), "norm_first": True, "dropout": 0.1},
            X,
            expected_output_shape=(2, 3, 4),
            tmp_path=tmp_path,
        )

    @pytest.mark.parametrize("norm_first", [False, True])
    def test_closed_form(self, norm_first):
        dense = keras.layers.Dense(4, bias_initializer="random_normal")
        layer = Residual(dense, norm_first=norm_first, layer_norm_epsilon=1e-3)
        out = layer(X)
        w, b = dense_weights(dense)
        if norm_first:
            expected = X + layer_norm(X, 1e-3) @ w + b
        else:
            expected = layer_norm(X + X @ w + b, 1e-3)
        np.testing.assert_allclose(out, expected, atol=1e-4)

    def test_rejects_bad_arguments(self):
        with pytest.raises(ValueError, match="layer_norm_epsilon=0"):
            Residual(keras.layers.Dense(4), layer_norm_epsilon=0)
        with pytest.raises(ValueError, match="`dropout`.*dropout=1.0"):
            Residual(keras.layers.Dense(4), dropout=1.0)
