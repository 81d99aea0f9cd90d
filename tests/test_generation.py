"""Greedy and beam search: closed forms and cached = uncached."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_transformer.generation import beam_search
from keras_transformer.generation import greedy_search
from keras_transformer.generation import make_search_fn
from keras_transformer.models import Seq2SeqTransformer
from keras_transformer.training import MaskedSparseCrossentropy

PAD, START, END = 0, 2, 3


class MarkovModel:
    """A stand-in decoder whose next-token distribution depends only on the
    previous token, so search results can be worked out by hand."""

    def __init__(self, table):
        self.log_table = tf.math.log(tf.constant(table, tf.float32) + 1e-12)

    def encode(self, ids):
        batch = tf.shape(ids)[0]
        return tf.zeros([batch, 1, 1]), tf.ones([batch, 1], tf.bool)

    def initial_cache(self, encoder_output, max_length=None):
        return []

    def decode_step(self, tokens, encoder_output, mask, cache, index, fixed_size_cache=False):
        return tf.gather(self.log_table, tokens[:, -1:]), cache


# Tokens: 0 pad, 1 unused, 2 start, 3 end, 4 "a", 5 "b".
# start -> a 0.6 / b 0.4; a -> end 0.3, a 0.35, b 0.35; b -> end 0.9.
TABLE = np.zeros((6, 6))
TABLE[START, [4, 5]] = [0.6, 0.4]
TABLE[4, [END, 4, 5]] = [0.3, 0.35, 0.35]
TABLE[5, [END, 4]] = [0.9, 0.1]
TABLE[[0, 1, END], END] = 1.0


def test_greedy_takes_the_locally_best_token():
    tokens = greedy_search(MarkovModel(TABLE), np.ones((1, 2), "int32"), 3, START, END)
    # start -> a (0.6) -> a or b (0.35, tie broken by argmax: the first) -> ...
    np.testing.assert_array_equal(tokens[0, :2], [4, 4])


def test_beam_search_finds_the_globally_better_sequence():
    tokens, score = beam_search(
        MarkovModel(TABLE), np.ones((1, 2), "int32"), 4, START, END,
        beam_width=2, alpha=0.0,
    )
    # "b end" has probability 0.4 * 0.9 = 0.36, better than anything via "a".
    np.testing.assert_array_equal(tokens[0], [5, END, PAD, PAD])
    np.testing.assert_allclose(score, [np.log(0.36)], atol=1e-5)


def test_length_penalty_divides_the_final_score():
    _, score = beam_search(
        MarkovModel(TABLE), np.ones((1, 2), "int32"), 4, START, END,
        beam_width=2, alpha=1.0,
    )
    # Length 2 with alpha = 1: ((5 + 2) / 6) ** 1.
    np.testing.assert_allclose(score, [np.log(0.36) / (7 / 6)], atol=1e-5)


@pytest.fixture(scope="module")
def trained_model():
    """A tiny model trained for a few seconds to copy sequences, so that its
    outputs vary with the input (a random model repeats one token)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = Seq2SeqTransformer.from_preset(
        "cpu_tiny", encoder_vocabulary_size=16, hidden_dim=32, intermediate_dim=64
    )
    source = rng.integers(4, 16, size=(512, 6)).astype("int32")
    target_in = np.concatenate([np.full((512, 1), START), source], 1).astype("int32")
    target_out = np.concatenate([source, np.full((512, 1), END)], 1).astype("int32")
    model.compile(keras.optimizers.Adam(3e-3), MaskedSparseCrossentropy(0.0))
    model.fit({"encoder_token_ids": source, "decoder_token_ids": target_in},
              target_out, epochs=6, batch_size=32, verbose=0)
    return model


SOURCES = np.array(
    [[5, 6, 7, 8, 9, 10], [11, 4, 4, 12, 0, 0], [15, 14, 0, 0, 0, 0]], "int32"
)


def test_the_model_learned_something(trained_model):
    tokens = np.asarray(greedy_search(trained_model, SOURCES, 8, START, END))
    assert len({tuple(row) for row in tokens}) == 3


@pytest.mark.parametrize("fixed_size_cache", [False, True])
def test_cached_greedy_equals_uncached(trained_model, fixed_size_cache):
    cached = greedy_search(trained_model, SOURCES, 8, START, END,
                           fixed_size_cache=fixed_size_cache)
    uncached = greedy_search(trained_model, SOURCES, 8, START, END, use_cache=False)
    np.testing.assert_array_equal(cached, uncached)


@pytest.mark.parametrize("fixed_size_cache", [False, True])
def test_cached_beam_search_equals_uncached(trained_model, fixed_size_cache):
    cached, cached_scores = beam_search(
        trained_model, SOURCES, 8, START, END, beam_width=3,
        fixed_size_cache=fixed_size_cache,
    )
    uncached, uncached_scores = beam_search(
        trained_model, SOURCES, 8, START, END, beam_width=3, use_cache=False
    )
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_allclose(cached_scores, uncached_scores, atol=1e-4)


def test_beam_of_one_without_penalty_is_greedy(trained_model):
    greedy = greedy_search(trained_model, SOURCES, 8, START, END)
    beam, _ = beam_search(trained_model, SOURCES, 8, START, END, beam_width=1, alpha=0.0)
    np.testing.assert_array_equal(beam, greedy)


def test_outputs_end_with_the_end_token_then_padding(trained_model):
    tokens = np.asarray(greedy_search(trained_model, SOURCES, 10, START, END))
    for row in tokens:
        ends = np.flatnonzero(row == END)
        if len(ends):
            assert np.all(row[ends[0] + 1:] == PAD)


@pytest.mark.parametrize("beam_width", [1, 3])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_compiled_search_equals_eager(trained_model, beam_width, jit_compile):
    search = make_search_fn(trained_model, 8, START, END, beam_width=beam_width,
                            jit_compile=jit_compile)
    if beam_width == 1:
        eager = greedy_search(trained_model, SOURCES, 8, START, END)
    else:
        eager, _ = beam_search(trained_model, SOURCES, 8, START, END, beam_width=beam_width)
    np.testing.assert_array_equal(search(tf.constant(SOURCES)), eager)
    # A different batch size and length reuse the same function.
    np.testing.assert_array_equal(search(tf.constant(SOURCES[1:, :4]))[0], eager[1])
    if not jit_compile:
        # A limit is the same as a smaller max_length, without retracing.
        if beam_width == 1:
            short = greedy_search(trained_model, SOURCES, 3, START, END)
        else:
            short, _ = beam_search(trained_model, SOURCES, 3, START, END,
                                   beam_width=beam_width)
        np.testing.assert_array_equal(search(SOURCES, 3), short)


def test_search_rejects_bad_arguments(trained_model):
    with pytest.raises(ValueError, match="beam_width=0"):
        make_search_fn(trained_model, 8, START, END, beam_width=0)
    with pytest.raises(ValueError, match="max_length=-1"):
        make_search_fn(trained_model, -1, START, END)
