"""Parallel text for translation: datasets, a subword tokenizer, batches.

Importing this package registers the built-in TFDS dataset `bible_en_es`.

    pairs, info = load_translation("bible_en_es", split="train")
    tokenizer = SubwordTokenizer.train(
        text.decode() for pair in pairs.as_numpy_iterator() for text in pair)
    batches = make_translation_batches(pairs, tokenizer, max_length=128, seed=0)
    model.fit(batches, epochs=...)
"""

from keras_transformer.data.bible import BibleEnEs
from keras_transformer.data.datasets import TranslationInfo
from keras_transformer.data.datasets import load_translation
from keras_transformer.data.pipeline import OverlengthCounts
from keras_transformer.data.pipeline import bucket_boundaries
from keras_transformer.data.pipeline import count_overlength
from keras_transformer.data.pipeline import encode_for_translation
from keras_transformer.data.pipeline import make_translation_batches
from keras_transformer.data.pipeline import padding_fraction
from keras_transformer.data.pipeline import tokenize_pairs
from keras_transformer.data.tokenizer import SubwordTokenizer

__all__ = [
    "BibleEnEs",
    "OverlengthCounts",
    "SubwordTokenizer",
    "TranslationInfo",
    "bucket_boundaries",
    "count_overlength",
    "encode_for_translation",
    "load_translation",
    "make_translation_batches",
    "padding_fraction",
    "tokenize_pairs",
]
