"""Positional encodings and the token + position embedding."""

import math

import keras
import numpy as np
import pytest

from harness import MaskProbe
from harness import run_layer_test
from keras_transformer.layers import PositionEmbedding
from keras_transformer.layers import SinusoidalPositionalEncoding
from keras_transformer.layers import TokenAndPositionEmbedding


def paper_encoding(num_positions, hidden_dim, max_wavelength=10000.0, start=0):
    """A plain transcription of section 3.5 of the paper (interleaved)."""
    table = np.zeros((num_positions, hidden_dim))
    for row in range(num_positions):
        pos = start + row
        for i in range(0, hidden_dim, 2):
            angle = pos / max_wavelength ** (i / hidden_dim)
            table[row, i] = math.sin(angle)
            if i + 1 < hidden_dim:
                table[row, i + 1] = math.cos(angle)
    return table


class TestSinusoidalPositionalEncoding:
    def test_standard_checks(self, tmp_path):
        run_layer_test(
            SinusoidalPositionalEncoding,
            {"max_wavelength": 10000.0},
            np.zeros((2, 6, 8), "float32"),
            expected_output_shape=(2, 6, 8),
            tmp_path=tmp_path,
            run_fit=False,
        )

    @pytest.mark.parametrize("hidden_dim", [8, 64, 7])
    def test_matches_the_paper_formula(self, hidden_dim):
        layer = SinusoidalPositionalEncoding()
        encoding = layer(np.zeros((3, 50, hidden_dim), "float32"))
        expected = paper_encoding(50, hidden_dim)
        for batch in range(3):
            np.testing.assert_allclose(encoding[batch], expected, atol=2e-5)

    def test_custom_wavelength(self):
        encoding = SinusoidalPositionalEncoding(max_wavelength=100.0)(
            np.zeros((1, 10, 6), "float32")
        )
        np.testing.assert_allclose(
            encoding[0], paper_encoding(10, 6, max_wavelength=100.0), atol=2e-6
        )

    def test_start_index_continues_the_sequence(self):
        layer = SinusoidalPositionalEncoding()
        full = layer(np.zeros((1, 12, 16), "float32"))
        step = layer(np.zeros((1, 1, 16), "float32"), start_index=7)
        np.testing.assert_allclose(step[0, 0], full[0, 7], atol=1e-6)
        np.testing.assert_allclose(
            step[0], paper_encoding(1, 16, start=7), atol=2e-6
        )

    def test_float16_positions_stay_accurate(self):
        # Angles are computed in float32 and only the result is cast, so
        # float16 keeps ~3 significant digits even at large positions.
        layer = SinusoidalPositionalEncoding(dtype="mixed_float16")
        encoding = layer(np.zeros((1, 512, 32), "float16"))
        np.testing.assert_allclose(
            np.asarray(encoding[0], "float32"), paper_encoding(512, 32), atol=1e-3
        )

    def test_rejects_bad_arguments(self):
        with pytest.raises(ValueError, match="max_wavelength=0"):
            SinusoidalPositionalEncoding(max_wavelength=0)
        with pytest.raises(ValueError, match=r"inputs.shape=\(2, 5\)"):
            SinusoidalPositionalEncoding()(np.zeros((2, 5), "float32"))


class TestPositionEmbedding:
    def test_standard_checks(self, tmp_path):
        run_layer_test(
            PositionEmbedding,
            {"sequence_length": 10},
            np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32"),
            expected_output_shape=(2, 6, 8),
            tmp_path=tmp_path,
        )

    def test_returns_table_rows_from_start_index(self):
        layer = PositionEmbedding(sequence_length=10)
        layer.build((None, 10, 4))
        table = np.asarray(layer.position_embeddings)
        out = layer(np.zeros((2, 3, 4), "float32"), start_index=5)
        np.testing.assert_array_equal(out[1], table[5:8])

    def test_longer_than_the_table_is_an_error(self):
        layer = PositionEmbedding(sequence_length=4)
        with pytest.raises(ValueError, match="sequence_length=4.*length=5"):
            layer(np.zeros((1, 5, 8), "float32"))
        layer = PositionEmbedding(sequence_length=4)
        layer(np.zeros((1, 4, 8), "float32"))
        with pytest.raises(ValueError, match="start_index=2"):
            layer(np.zeros((1, 3, 8), "float32"), start_index=2)

    @pytest.mark.parametrize("bad", [0, -3, 2.5, True])
    def test_rejects_non_positive_length(self, bad):
        with pytest.raises(ValueError, match="`sequence_length`.*positive integer"):
            PositionEmbedding(sequence_length=bad)


class TestTokenAndPositionEmbedding:
    ids = np.array([[4, 9, 2, 0, 0], [7, 1, 3, 5, 8]], "int32")

    @pytest.mark.parametrize("positional_encoding", ["sinusoidal", "learned"])
    def test_standard_checks(self, tmp_path, positional_encoding):
        run_layer_test(
            TokenAndPositionEmbedding,
            {
                "vocabulary_size": 20,
                "sequence_length": 8,
                "embedding_dim": 6,
                "positional_encoding": positional_encoding,
                "mask_zero": True,
                "scale_embeddings": True,
            },
            self.ids,
            expected_output_shape=(2, 5, 6),
            tmp_path=tmp_path,
        )

    def test_closed_form_with_scaling(self):
        layer = TokenAndPositionEmbedding(20, 8, 6, scale_embeddings=True)
        out = layer(self.ids)
        table = np.asarray(layer.token_embedding.embeddings)
        expected = table[self.ids] * math.sqrt(6) + paper_encoding(5, 6)
        np.testing.assert_allclose(out, expected, atol=1e-5)

    def test_mask_zero_flows_through_keras_masking(self):
        layer = TokenAndPositionEmbedding(20, 8, 6, mask_zero=True)
        inputs = keras.Input((None,), dtype="int32")
        model = keras.Model(inputs, MaskProbe()(layer(inputs)))
        np.testing.assert_array_equal(model.predict(self.ids, verbose=0), self.ids != 0)

    def test_tied_output_projection(self):
        layer = TokenAndPositionEmbedding(20, 8, 6)
        hidden = np.random.default_rng(1).normal(size=(2, 5, 6)).astype("float32")
        layer(self.ids)
        logits = layer(hidden, reverse=True)
        table = np.asarray(layer.token_embedding.embeddings)
        np.testing.assert_allclose(logits, hidden @ table.T, rtol=1e-5, atol=1e-5)
        assert layer.compute_mask(hidden) is None

    def test_incremental_positions(self):
        layer = TokenAndPositionEmbedding(20, 8, 6, positional_encoding="learned")
        full = layer(self.ids)
        step = layer(self.ids[:, 3:4], start_index=3)
        np.testing.assert_allclose(step[:, 0], full[:, 3], atol=1e-6)

    def test_rejects_bad_input(self):
        with pytest.raises(ValueError, match="positional_encoding='rotary'"):
            TokenAndPositionEmbedding(20, 8, 6, positional_encoding="rotary")
        with pytest.raises(ValueError, match="vocabulary_size=0"):
            TokenAndPositionEmbedding(0, 8, 6)
        layer = TokenAndPositionEmbedding(20, 4, 6)
        with pytest.raises(ValueError, match="sequence_length=4.*length=5"):
            layer(self.ids)
        with pytest.raises(ValueError, match=r"inputs.shape=\(2, 5, 1\)"):
            TokenAndPositionEmbedding(20, 8, 6)(self.ids[..., None])
