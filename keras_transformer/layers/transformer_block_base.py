"""Constructor, config and sub-blocks shared by the encoder and decoder blocks.

Both blocks are thin compositions of `Residual`-wrapped `MultiHeadAttention`
and `FeedForward` sublayers; everything they have in common is built here,
once, so the two cannot drift apart (same sublayer names, same weight
order, same validation).
"""

import functools

import keras

from keras_transformer.layers import checks
from keras_transformer.layers.feed_forward import FeedForward
from keras_transformer.layers.multi_head_attention import MultiHeadAttention
from keras_transformer.layers.multi_head_attention import clone_initializer
from keras_transformer.layers.residual import Residual


class TransformerBlockBase(keras.layers.Layer):
    """Constructor and config shared by the encoder and decoder blocks.

    Not public: `TransformerEncoderBlock` and `TransformerDecoderBlock`
    document these arguments.
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        attention_dropout=0.0,
        feed_forward_dropout=0.0,
        activation="relu",
        gated_feed_forward=False,
        layer_norm_epsilon=1e-5,
        norm_first=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = checks.positive_int("num_heads", num_heads)
        self.intermediate_dim = checks.positive_int(
            "intermediate_dim", intermediate_dim
        )
        self.dropout = checks.rate("dropout", dropout)
        self.attention_dropout = checks.rate(
            "attention_dropout", attention_dropout
        )
        self.feed_forward_dropout = checks.rate(
            "feed_forward_dropout", feed_forward_dropout
        )
        self.activation = activation
        self.gated_feed_forward = bool(gated_feed_forward)
        self.layer_norm_epsilon = checks.positive_float(
            "layer_norm_epsilon", layer_norm_epsilon
        )
        self.norm_first = bool(norm_first)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "feed_forward_dropout": self.feed_forward_dropout,
                "activation": self.activation,
                "gated_feed_forward": self.gated_feed_forward,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "norm_first": self.norm_first,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config


def _residual(block, layer, name):
    return Residual(
        layer,
        norm_first=block.norm_first,
        dropout=block.dropout,
        layer_norm_epsilon=block.layer_norm_epsilon,
        dtype=block.dtype_policy,
        name=name,
    )


def attention_sub_block(block, name, hidden_dim):
    """Returns an unbuilt `Residual(MultiHeadAttention)`.

    The attention layer is named `name` ("self_attention" or
    "cross_attention") and its wrapper `name + "_residual"`, so weight paths
    read `block/self_attention/query/kernel` in both blocks.
    """
    checks.divisible(hidden_dim, block.num_heads)
    attention = MultiHeadAttention(
        num_heads=block.num_heads,
        dropout=block.attention_dropout,
        kernel_initializer=clone_initializer(block.kernel_initializer),
        bias_initializer=clone_initializer(block.bias_initializer),
        dtype=block.dtype_policy,
        name=name,
    )
    return _residual(block, attention, name + "_residual")


def feed_forward_sub_block(block):
    """Returns an unbuilt `Residual(FeedForward)` ("feed_forward")."""
    feed_forward = FeedForward(
        intermediate_dim=block.intermediate_dim,
        activation=block.activation,
        dropout=block.feed_forward_dropout,
        gated=block.gated_feed_forward,
        kernel_initializer=clone_initializer(block.kernel_initializer),
        bias_initializer=clone_initializer(block.bias_initializer),
        dtype=block.dtype_policy,
        name="feed_forward",
    )
    return _residual(block, feed_forward, "feed_forward_residual")


def run_sub_block(sub_block, inputs, training=None, **sublayer_kwargs):
    """Calls a `Residual` sub-block, passing `sublayer_kwargs` to its sublayer."""
    sublayer_call = functools.partial(
        sub_block.layer, training=training, **sublayer_kwargs
    )
    return sub_block(inputs, training=training, sublayer_call=sublayer_call)
