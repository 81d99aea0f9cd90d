"""Translation: text in, text out."""

from keras_transformer.translation.translator import Translator

__all__ = ["Translator"]
