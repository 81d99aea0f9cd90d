"""The Transformer decoder block: causal self-attention, cross-attention, FFN."""

import keras

from keras_transformer.layers import checks
from keras_transformer.layers import masks
from keras_transformer.layers.transformer_block_base import TransformerBlockBase
from keras_transformer.layers.transformer_block_base import attention_sub_block
from keras_transformer.layers.transformer_block_base import feed_forward_sub_block
from keras_transformer.layers.transformer_block_base import run_sub_block


@keras.saving.register_keras_serializable(package="keras_transformer")
class TransformerDecoderBlock(TransformerBlockBase):
    """One decoder layer of "Attention Is All You Need" (section 3.1).

    `x = Residual(CausalSelfAttention)(x)`, then, when built with an encoder
    sequence, `x = Residual(CrossAttention)(x, encoder_sequence)`, then
    `x = Residual(FeedForward)(x)`. Built without an encoder sequence it is a
    decoder-only (GPT-style) block.

    Masking: self-attention is causal (unless `use_causal_mask=False`) and
    honours the decoder's padding mask; cross-attention masks keys with the
    **encoder's** padding mask. Both come from Keras masking or from
    `decoder_sequence_mask` / `encoder_sequence_mask`; `self_attention_mask`
    (B, T, T) and `cross_attention_mask` (B, T, S) add custom patterns.

    Incremental decoding: pass `cache={"self_attention": c}` with `c` of
    shape (B, 2, S_past, N, H) (start from
    `kv_cache.empty_cache(B, N, H)`); the block returns the grown cache and,
    on the first step, the projected encoder keys/values under
    "cross_attention", to pass back at later steps. With `cache_index`, the
    self-attention cache has a fixed length and is written in place (see
    `keras_transformer.layers.kv_cache`).

    Args:
        Same as `TransformerEncoderBlock`.

    Call arguments:
        decoder_sequence: (B, T, D) decoder inputs.
        encoder_sequence: Optional (B, S, D) encoder outputs.
        decoder_sequence_mask: Optional (B, T) padding mask of the decoder.
        encoder_sequence_mask: Optional (B, S) padding mask of the encoder.
        self_attention_mask: Optional boolean (B, T, T) (or, with a cache,
            (B, T, S_cache)) mask.
        cross_attention_mask: Optional boolean (B, T, S) mask.
        use_causal_mask: Whether self-attention is causal (default `True`).
        cache: Optional dict with "self_attention" and optionally
            "cross_attention" caches of shape (B, 2, S, N, H).
        cache_index: `None` to append to the self-attention cache, or the
            write position in a fixed-size cache.
        return_attention_scores: Whether to return the attention weights.
        training: Whether dropout is active.

    Returns:
        (B, T, D) outputs; then, with `return_attention_scores`, a dict of
        weights: "self_attention" (B, N, T, T) and "cross_attention"
        (B, N, T, S); then, with `cache`, the updated cache dict.

    Example:

    >>> import numpy as np
    >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    >>> x, memory = np.ones((2, 4, 16), "float32"), np.ones((2, 7, 16), "float32")
    >>> out, scores = block(x, memory, return_attention_scores=True)
    >>> tuple(out.shape), tuple(scores["cross_attention"].shape)
    ((2, 4, 16), (2, 2, 4, 7))
    """

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        checks.rank("decoder_sequence", decoder_sequence_shape, 3, "(B, T, D)")
        hidden_dim = decoder_sequence_shape[-1]
        self.self_attention_block = attention_sub_block(
            self, "self_attention", hidden_dim
        )
        self.self_attention_block.layer.build(decoder_sequence_shape)
        self.self_attention_block.build(decoder_sequence_shape)
        self.cross_attention_block = None
        if encoder_sequence_shape is not None:
            checks.rank("encoder_sequence", encoder_sequence_shape, 3, "(B, S, D)")
            self.cross_attention_block = attention_sub_block(
                self, "cross_attention", hidden_dim
            )
            self.cross_attention_block.layer.build(
                decoder_sequence_shape, encoder_sequence_shape
            )
            self.cross_attention_block.build(decoder_sequence_shape)
        self.feed_forward_block = feed_forward_sub_block(self)
        self.feed_forward_block.layer.build(decoder_sequence_shape)
        self.feed_forward_block.build(decoder_sequence_shape)
        self.built = True

    def compute_cross_attention_cache(self, encoder_sequence):
        """Returns the (B, 2, S, N, H) cross-attention keys and values.

        Computing them once before a decoding loop keeps the cache's
        structure the same at every step, as `tf.while_loop` requires.
        """
        return self.cross_attention_block.layer.project_key_value(encoder_sequence)

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_sequence_mask=None,
        encoder_sequence_mask=None,
        self_attention_mask=None,
        cross_attention_mask=None,
        use_causal_mask=True,
        cache=None,
        cache_index=None,
        return_attention_scores=False,
        training=None,
    ):
        if decoder_sequence_mask is None:
            decoder_sequence_mask = masks.keras_mask_of(decoder_sequence)
        if encoder_sequence is not None and encoder_sequence_mask is None:
            encoder_sequence_mask = masks.keras_mask_of(encoder_sequence)
        scores, new_cache = {}, None if cache is None else dict(cache)

        outputs = run_sub_block(
            self.self_attention_block,
            decoder_sequence,
            query_mask=decoder_sequence_mask,
            attention_mask=self_attention_mask,
            use_causal_mask=use_causal_mask,
            cache=None if cache is None else cache["self_attention"],
            cache_index=cache_index,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        outputs, scores["self_attention"], new_cache = _unpack(
            outputs, return_attention_scores, new_cache, "self_attention"
        )

        if self.cross_attention_block is not None:
            cross_cache = None if cache is None else cache.get("cross_attention")
            if encoder_sequence is None and cross_cache is None:
                raise ValueError(
                    "This decoder block was built with cross-attention, so "
                    "it needs the encoder output: pass `encoder_sequence` "
                    "(B, S, D), or, when decoding with a cache, "
                    "`cache['cross_attention']` from an earlier step. "
                    "Received: encoder_sequence=None"
                )
            if cache is not None and cross_cache is None:
                cross_cache = self.compute_cross_attention_cache(encoder_sequence)
            outputs = run_sub_block(
                self.cross_attention_block,
                outputs,
                value=encoder_sequence if cross_cache is None else None,
                query_mask=decoder_sequence_mask,
                value_mask=encoder_sequence_mask,
                attention_mask=cross_attention_mask,
                cache=cross_cache,
                update_cache=False,
                return_attention_scores=return_attention_scores,
                training=training,
            )
            outputs, scores["cross_attention"], new_cache = _unpack(
                outputs, return_attention_scores, new_cache, "cross_attention"
            )
        elif encoder_sequence is not None:
            raise ValueError(
                "This decoder block was built without cross-attention (no "
                "`encoder_sequence` at build time), so it cannot attend to "
                "one. Received: encoder_sequence with shape "
                f"{tuple(encoder_sequence.shape)}"
            )

        outputs = self.feed_forward_block(outputs, training=training)
        results = (outputs,)
        if return_attention_scores:
            results += (scores,)
        if cache is not None:
            results += (new_cache,)
        return results[0] if len(results) == 1 else results


def _unpack(outputs, with_scores, cache, cache_key):
    """Splits a sub-block's `(outputs, [scores], [cache])` result."""
    if not isinstance(outputs, tuple):
        return outputs, None, cache
    outputs, rest = outputs[0], list(outputs[1:])
    scores = rest.pop(0) if with_scores else None
    if cache is not None:
        cache[cache_key] = rest.pop(0)
    return outputs, scores, cache
