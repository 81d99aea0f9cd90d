"""`TransformerEncoderBlock` and `TransformerDecoderBlock`: invariances."""

import keras
import numpy as np
import pytest

from harness import run_layer_test
from keras_transformer.layers import TokenAndPositionEmbedding
from keras_transformer.layers import TransformerDecoderBlock
from keras_transformer.layers import TransformerEncoderBlock
from keras_transformer.layers import kv_cache

RNG = np.random.default_rng(3)
D, HEADS, FF = 16, 4, 32
BLOCK_ARGS = {"num_heads": HEADS, "intermediate_dim": FF}


def normal(*shape):
    return RNG.normal(size=shape).astype("float32")


def seq2seq(norm_first=False, layers=2, vocabulary=30):
    """A small functional encoder-decoder with padding masks from id 0."""
    source = keras.Input((None,), dtype="int32", name="source")
    target = keras.Input((None,), dtype="int32", name="target")
    x = TokenAndPositionEmbedding(vocabulary, 40, D, mask_zero=True)(source)
    for _ in range(layers):
        x = TransformerEncoderBlock(**BLOCK_ARGS, norm_first=norm_first)(x)
    y = TokenAndPositionEmbedding(vocabulary, 40, D, mask_zero=True)(target)
    for _ in range(layers):
        y = TransformerDecoderBlock(**BLOCK_ARGS, norm_first=norm_first)(y, x)
    return keras.Model([source, target], keras.layers.Dense(vocabulary)(y))


def ids(batch, length, real_lengths):
    out = RNG.integers(1, 30, size=(batch, length)).astype("int32")
    for row, real in enumerate(real_lengths):
        out[row, real:] = 0
    return out


class TestStandardChecks:
    @pytest.mark.parametrize("norm_first", [False, True])
    def test_encoder_block(self, tmp_path, norm_first):
        run_layer_test(
            TransformerEncoderBlock,
            {**BLOCK_ARGS, "norm_first": norm_first, "dropout": 0.1,
             "attention_dropout": 0.1, "feed_forward_dropout": 0.1,
             "activation": "gelu", "layer_norm_epsilon": 1e-6},
            normal(2, 5, D),
            expected_output_shape=(2, 5, D),
            tmp_path=tmp_path,
        )

    @pytest.mark.parametrize("norm_first", [False, True])
    def test_decoder_block_with_cross_attention(self, tmp_path, norm_first):
        run_layer_test(
            TransformerDecoderBlock,
            {**BLOCK_ARGS, "norm_first": norm_first, "gated_feed_forward": True,
             "activation": "silu"},
            [normal(2, 5, D), normal(2, 7, D)],
            expected_output_shape=(2, 5, D),
            tmp_path=tmp_path,
        )

    def test_decoder_only_block(self, tmp_path):
        run_layer_test(
            TransformerDecoderBlock,
            BLOCK_ARGS,
            normal(2, 5, D),
            expected_output_shape=(2, 5, D),
            tmp_path=tmp_path,
        )

    def test_seq2seq_model_saves_and_loads(self, tmp_path):
        model = seq2seq(norm_first=True)
        inputs = [ids(2, 6, [6, 3]), ids(2, 4, [4, 2])]
        path = str(tmp_path / "seq2seq.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_array_equal(
            loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0)
        )


class TestInvariances:
    @pytest.mark.parametrize("norm_first", [False, True])
    def test_padding_leaves_real_positions_unchanged(self, norm_first):
        model = seq2seq(norm_first)
        source, target = ids(2, 7, [7, 4]), ids(2, 5, [5, 3])
        base = model.predict([source, target], verbose=0)
        # More padding on both sides, with source length != target length.
        padded_source = np.pad(source, ((0, 0), (0, 6)))
        padded_target = np.pad(target, ((0, 0), (0, 3)))
        padded = model.predict([padded_source, padded_target], verbose=0)
        real = target != 0
        np.testing.assert_allclose(padded[:, :5][real], base[real], atol=1e-5)

    def test_future_target_tokens_do_not_change_the_past(self):
        model = seq2seq()
        source, target = ids(2, 7, [7, 7]), ids(2, 6, [6, 6])
        changed = target.copy()
        changed[:, 3:] = (changed[:, 3:] % 29) + 1
        a = model.predict([source, target], verbose=0)
        b = model.predict([source, changed], verbose=0)
        np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)
        assert not np.allclose(a[:, 3:], b[:, 3:])

    def test_cross_attention_uses_the_encoder_padding_mask(self):
        block = TransformerDecoderBlock(**BLOCK_ARGS)
        x, memory = normal(2, 4, D), normal(2, 6, D)
        memory_mask = np.array([[1] * 6, [1] * 3 + [0] * 3], bool)
        out = block(x, memory, encoder_sequence_mask=memory_mask)
        noisy = memory.copy()
        noisy[1, 3:] = normal(3, D) * 10
        np.testing.assert_allclose(
            block(x, noisy, encoder_sequence_mask=memory_mask), out, atol=1e-5
        )
        # Without the mask the same change is visible.
        assert not np.allclose(block(x, noisy), block(x, memory), atol=1e-3)

    @pytest.mark.parametrize("mode", ["append", "write"])
    @pytest.mark.parametrize("norm_first", [False, True])
    def test_cached_decoding_equals_the_full_pass(self, mode, norm_first):
        block = TransformerDecoderBlock(**BLOCK_ARGS, norm_first=norm_first)
        x, memory = normal(2, 6, D), normal(2, 5, D)
        memory_mask = np.array([[1] * 5, [1] * 2 + [0] * 3], bool)
        full, full_scores = block(
            x, memory, encoder_sequence_mask=memory_mask, return_attention_scores=True
        )
        cache = {"self_attention": kv_cache.empty_cache(
            2, HEADS, D // HEADS, length=0 if mode == "append" else 6)}
        steps = []
        for start in range(6):
            out, scores, cache = block(
                x[:, start:start + 1],
                memory if start == 0 else None,
                encoder_sequence_mask=memory_mask,
                cache=cache,
                cache_index=None if mode == "append" else start,
                return_attention_scores=True,
            )
            steps.append(out)
            np.testing.assert_allclose(
                scores["cross_attention"][:, :, 0], full_scores["cross_attention"][:, :, start],
                atol=1e-5,
            )
        np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)
        assert tuple(cache["cross_attention"].shape) == (2, 2, 5, HEADS, D // HEADS)

    def test_attention_scores_from_both_attentions(self):
        block = TransformerDecoderBlock(**BLOCK_ARGS)
        out, scores = block(normal(2, 3, D), normal(2, 8, D), return_attention_scores=True)
        assert tuple(scores["self_attention"].shape) == (2, HEADS, 3, 3)
        assert tuple(scores["cross_attention"].shape) == (2, HEADS, 3, 8)
        # Causal: the first query puts all its weight on the first key.
        np.testing.assert_allclose(np.asarray(scores["self_attention"])[:, :, 0, 0], 1.0)
        encoder = TransformerEncoderBlock(**BLOCK_ARGS)
        _, enc_scores = encoder(normal(2, 3, D), return_attention_scores=True)
        np.testing.assert_allclose(np.asarray(enc_scores).sum(-1), 1.0, atol=1e-5)

    def test_dropout_is_active_only_in_training(self):
        block = TransformerEncoderBlock(**BLOCK_ARGS, dropout=0.3, attention_dropout=0.3)
        x = normal(2, 5, D)
        np.testing.assert_array_equal(block(x), block(x))
        assert not np.allclose(block(x, training=True), block(x))


class TestStructure:
    def test_blocks_name_shared_sublayers_the_same_way(self):
        encoder = TransformerEncoderBlock(**BLOCK_ARGS, name="block")
        decoder = TransformerDecoderBlock(**BLOCK_ARGS, name="block")
        encoder(normal(1, 3, D))
        decoder(normal(1, 3, D), normal(1, 4, D))
        encoder_paths = [w.path for w in encoder.weights]
        decoder_paths = [w.path for w in decoder.weights]
        assert encoder_paths == [p for p in decoder_paths if "cross_attention" not in p]
        assert "block/self_attention/query/kernel" in encoder_paths
        assert "block/feed_forward/intermediate/kernel" in encoder_paths
        assert "block/cross_attention/query/kernel" in decoder_paths


class TestBadInput:
    def test_hidden_size_not_divisible_by_heads(self):
        with pytest.raises(ValueError, match="hidden_dim=10, num_heads=4"):
            TransformerEncoderBlock(**BLOCK_ARGS)(normal(1, 3, 10))
        with pytest.raises(ValueError, match="hidden_dim=10, num_heads=4"):
            TransformerDecoderBlock(**BLOCK_ARGS)(normal(1, 3, 10))

    @pytest.mark.parametrize(
        "argument, value",
        [("num_heads", 0), ("intermediate_dim", -1), ("dropout", 1.0),
         ("attention_dropout", -0.5), ("layer_norm_epsilon", 0)],
    )
    def test_bad_constructor_arguments(self, argument, value):
        kwargs = {**BLOCK_ARGS, argument: value}
        for cls in (TransformerEncoderBlock, TransformerDecoderBlock):
            with pytest.raises(ValueError, match=f"`{argument}`.*{argument}={value}"):
                cls(**kwargs)

    def test_wrong_ranks(self):
        with pytest.raises(ValueError, match=r"inputs.shape=\(2, 5\)"):
            TransformerEncoderBlock(**BLOCK_ARGS)(normal(2, 5))
        with pytest.raises(ValueError, match=r"encoder_sequence.shape=\(2, 5\)"):
            TransformerDecoderBlock(**BLOCK_ARGS)(normal(2, 3, D), normal(2, 5))

    def test_mismatched_masks(self):
        with pytest.raises(ValueError, match=r"attention_mask.shape=\(2, 5, 4\)"):
            TransformerEncoderBlock(**BLOCK_ARGS)(
                normal(2, 5, D), attention_mask=np.ones((2, 5, 4), bool)
            )
        block = TransformerDecoderBlock(**BLOCK_ARGS)
        with pytest.raises(ValueError, match=r"key_mask.shape=\(2, 4\)"):
            block(normal(2, 3, D), normal(2, 6, D), encoder_sequence_mask=np.ones((2, 4), bool))

    def test_cross_attention_needs_the_encoder_output(self):
        block = TransformerDecoderBlock(**BLOCK_ARGS)
        block(normal(1, 3, D), normal(1, 4, D))
        with pytest.raises(ValueError, match="encoder_sequence=None"):
            block(normal(1, 3, D))
        decoder_only = TransformerDecoderBlock(**BLOCK_ARGS)
        decoder_only(normal(1, 3, D))
        with pytest.raises(ValueError, match="built without cross-attention"):
            decoder_only(normal(1, 3, D), normal(1, 4, D))
