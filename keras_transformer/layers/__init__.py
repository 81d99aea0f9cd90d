"""Transformer layers, written with `keras.ops` only (backend-agnostic)."""

from keras_transformer.layers import kv_cache
from keras_transformer.layers import masks
from keras_transformer.layers.feed_forward import FeedForward
from keras_transformer.layers.head_projection import HeadProjection
from keras_transformer.layers.multi_head_attention import MultiHeadAttention
from keras_transformer.layers.position_embedding import PositionEmbedding
from keras_transformer.layers.residual import Residual
from keras_transformer.layers.scaled_dot_product_attention import (
    scaled_dot_product_attention,
)
from keras_transformer.layers.sinusoidal_positional_encoding import (
    SinusoidalPositionalEncoding,
)
from keras_transformer.layers.token_and_position_embedding import (
    TokenAndPositionEmbedding,
)
from keras_transformer.layers.transformer_decoder_block import (
    TransformerDecoderBlock,
)
from keras_transformer.layers.transformer_encoder_block import (
    TransformerEncoderBlock,
)

__all__ = [
    "FeedForward",
    "HeadProjection",
    "MultiHeadAttention",
    "PositionEmbedding",
    "Residual",
    "SinusoidalPositionalEncoding",
    "TokenAndPositionEmbedding",
    "TransformerDecoderBlock",
    "TransformerEncoderBlock",
    "kv_cache",
    "masks",
    "scaled_dot_product_attention",
]
