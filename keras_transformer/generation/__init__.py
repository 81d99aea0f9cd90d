"""Decoding: greedy and beam search over a key/value cache, compiled."""

from keras_transformer.generation.beam_search import beam_search
from keras_transformer.generation.greedy_search import greedy_search
from keras_transformer.generation.search_fn import make_search_fn

__all__ = ["beam_search", "greedy_search", "make_search_fn"]
