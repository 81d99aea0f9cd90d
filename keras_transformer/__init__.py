"""keras_transformer: Transformer layers and models for Keras 3 on TensorFlow."""

from keras_transformer import layers

__version__ = "0.1.0"

__all__ = ["layers", "__version__"]
