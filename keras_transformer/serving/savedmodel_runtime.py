"""Serving with TensorFlow: the SavedModel's own signatures."""

import numpy as np
import tensorflow as tf

# Registers the SentencePiece ops that the text signatures' graphs use.
import tensorflow_text  # noqa: F401


class SavedModelRuntime:
    """Runs the signatures of an exported SavedModel.

    Concrete functions are thread-safe, so concurrent requests call them
    directly; TensorFlow parallelizes each call over the CPU cores.

    Args:
        path: A version folder with `saved_model.pb`.
    """

    kind = "savedmodel"

    def __init__(self, path):
        self.path = str(path)
        self._loaded = tf.saved_model.load(self.path)
        self._functions = dict(self._loaded.signatures)

    @property
    def signature_names(self):
        return sorted(self._functions)

    def run(self, signature_name, arrays):
        """Calls a signature on NumPy inputs; returns NumPy outputs.

        Strings come back as `bytes`.
        """
        function = self._functions[signature_name]
        inputs = {
            name: tf.constant(_encode_texts(value) if value.dtype == object else value)
            for name, value in arrays.items()
        }
        return {name: value.numpy() for name, value in function(**inputs).items()}


def _encode_texts(array):
    """(B,) `str` -> (B,) UTF-8 `bytes`, which `tf.string` holds."""
    return np.array([t.encode("utf-8") for t in array], dtype=object)
