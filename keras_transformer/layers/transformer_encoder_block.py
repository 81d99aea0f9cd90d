"""The Transformer encoder block: self-attention, then a feed-forward network."""

import keras

from keras_transformer.layers import checks
from keras_transformer.layers import masks
from keras_transformer.layers.transformer_block_base import TransformerBlockBase
from keras_transformer.layers.transformer_block_base import attention_sub_block
from keras_transformer.layers.transformer_block_base import feed_forward_sub_block
from keras_transformer.layers.transformer_block_base import run_sub_block


@keras.saving.register_keras_serializable(package="keras_transformer")
class TransformerEncoderBlock(TransformerBlockBase):
    """One encoder layer of "Attention Is All You Need" (section 3.1).

    `x = Residual(SelfAttention)(x); x = Residual(FeedForward)(x)`, where
    `Residual` decides post-norm (the paper, BERT) or pre-norm.

    Masking: the padding mask comes from Keras masking (or `mask`) and is
    passed on unchanged, so blocks can be stacked; `attention_mask` (B, T, T)
    adds any custom pattern. Padded positions never change real ones.

    Args:
        num_heads: N, the number of attention heads; D must be divisible by it.
        intermediate_dim: Inner size of the feed-forward network.
        dropout: Dropout on each sub-block's output, before the residual sum.
        attention_dropout: Dropout on the attention weights.
        feed_forward_dropout: Dropout on the feed-forward inner activations.
        activation: Feed-forward activation ("relu", exact "gelu", ...).
        gated_feed_forward: Whether the feed-forward network is gated (GLU).
        layer_norm_epsilon: Epsilon of the layer normalizations.
        norm_first: Pre-norm if `True`, post-norm (the paper) if `False`.
        kernel_initializer: Initializer of every kernel.
        bias_initializer: Initializer of every bias.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: (B, T, D) inputs.
        mask: Optional (B, T) padding mask; filled from Keras masking.
        attention_mask: Optional boolean (B, T, T) mask.
        return_attention_scores: Whether to also return the weights.
        training: Whether dropout is active.

    Returns:
        (B, T, D) outputs; with `return_attention_scores`, also the
        (B, N, T, T) self-attention weights.

    Example:

    >>> import numpy as np
    >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
    >>> tuple(block(np.ones((2, 5, 16), "float32")).shape)
    (2, 5, 16)
    """

    def build(self, inputs_shape):
        checks.rank("inputs", inputs_shape, 3, "(B, T, D)")
        self.self_attention_block = attention_sub_block(
            self, "self_attention", inputs_shape[-1]
        )
        self.self_attention_block.layer.build(inputs_shape)
        self.self_attention_block.build(inputs_shape)
        self.feed_forward_block = feed_forward_sub_block(self)
        self.feed_forward_block.layer.build(inputs_shape)
        self.feed_forward_block.build(inputs_shape)
        self.built = True

    def call(
        self,
        inputs,
        mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        if mask is None:
            mask = masks.keras_mask_of(inputs)
        outputs = run_sub_block(
            self.self_attention_block,
            inputs,
            query_mask=mask,
            attention_mask=attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        if return_attention_scores:
            outputs, scores = outputs
        outputs = self.feed_forward_block(outputs, training=training)
        return (outputs, scores) if return_attention_scores else outputs
