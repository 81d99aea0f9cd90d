"""`scaled_dot_product_attention` and `MultiHeadAttention`."""

import keras
import numpy as np
import pytest

from harness import run_layer_test
from keras_transformer.layers import MultiHeadAttention
from keras_transformer.layers import kv_cache
from keras_transformer.layers import scaled_dot_product_attention

RNG = np.random.default_rng(42)


def normal(*shape):
    return RNG.normal(size=shape).astype("float32")


def numpy_attention(q, k, v, mask=None):
    """Reference: softmax(Q K^T / sqrt(H)) V per head, (B, T, N, H) layout."""
    logits = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    if mask is not None:
        logits = np.where(mask[:, None], logits, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", weights, v), weights


class TestScaledDotProductAttention:
    def test_matches_numpy_reference(self):
        q, k, v = normal(2, 5, 3, 4), normal(2, 7, 3, 4), normal(2, 7, 3, 4)
        mask = RNG.random((2, 5, 7)) > 0.3
        mask[..., 0] = True  # every query sees at least one key
        out, weights = scaled_dot_product_attention(
            q, k, v, mask=mask, return_attention_scores=True
        )
        ref_out, ref_weights = numpy_attention(q, k, v, mask)
        np.testing.assert_allclose(out, ref_out, atol=1e-5)
        np.testing.assert_allclose(weights, ref_weights, atol=1e-6)
        assert np.all(np.asarray(weights)[~np.broadcast_to(mask[:, None], weights.shape)] == 0)

    def test_single_head_hand_computed(self):
        # Two keys with logits 0 and ln(3) * sqrt(2) / sqrt(2): weights 1/4, 3/4.
        h = 2
        q = np.array([[[np.log(3.0) * np.sqrt(h), 0.0]]], "float32")
        k = np.array([[[0.0, 0.0], [1.0, 0.0]]], "float32")
        v = np.array([[[4.0, 0.0], [0.0, 8.0]]], "float32")
        out, weights = scaled_dot_product_attention(q, k, v, return_attention_scores=True)
        np.testing.assert_allclose(weights, [[[0.25, 0.75]]], atol=1e-6)
        np.testing.assert_allclose(out, [[[1.0, 6.0]]], atol=1e-5)

    def test_custom_scale(self):
        q, k, v = normal(1, 3, 1, 4), normal(1, 3, 1, 4), normal(1, 3, 1, 4)
        out = scaled_dot_product_attention(q, k, v, scale=1.0)
        ref, _ = numpy_attention(q * 2.0, k, v)  # sqrt(H) = 2 undoes the default
        np.testing.assert_allclose(out, ref, atol=1e-5)

    def test_dropout_only_in_training(self):
        q, k, v = normal(2, 4, 2, 4), normal(2, 4, 2, 4), normal(2, 4, 2, 4)
        base = scaled_dot_product_attention(q, k, v)
        inference = scaled_dot_product_attention(q, k, v, dropout_rate=0.5)
        np.testing.assert_array_equal(base, inference)
        trained = scaled_dot_product_attention(
            q, k, v, dropout_rate=0.5, seed=1, training=True
        )
        assert not np.allclose(base, trained)

    def test_rejects_bad_shapes(self):
        with pytest.raises(ValueError, match=r"query.shape=\(2, 3\)"):
            scaled_dot_product_attention(normal(2, 3), normal(2, 3), normal(2, 3))
        with pytest.raises(ValueError, match="key.shape"):
            scaled_dot_product_attention(normal(2, 3, 4), normal(2, 3, 1, 4), normal(2, 3, 4))
        with pytest.raises(ValueError, match=r"mask.shape=\(1, 3, 5\)"):
            scaled_dot_product_attention(
                normal(1, 3, 4), normal(1, 4, 4), normal(1, 4, 4),
                mask=np.ones((1, 3, 5), bool),
            )


def keras_reference(num_heads, key_dim, ours):
    """A `keras.layers.MultiHeadAttention` holding `ours`'s weights."""
    reference = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=key_dim)
    return reference


def copy_into_keras(ours, reference):
    for mine, theirs in (
        (ours.query_dense, reference.query_dense),
        (ours.key_dense, reference.key_dense),
        (ours.value_dense, reference.value_dense),
        (ours.output_dense, reference.output_dense),
    ):
        theirs.kernel.assign(mine.kernel)
        theirs.bias.assign(mine.bias)


class TestMultiHeadAttention:
    def test_standard_checks_self_attention(self, tmp_path):
        run_layer_test(
            MultiHeadAttention,
            {"num_heads": 2, "dropout": 0.1, "kernel_initializer": "he_normal"},
            normal(2, 5, 8),
            call_kwargs={"use_causal_mask": True},
            expected_output_shape=(2, 5, 8),
            tmp_path=tmp_path,
        )

    def test_standard_checks_cross_attention(self, tmp_path):
        run_layer_test(
            MultiHeadAttention,
            {"num_heads": 4, "key_dim": 3, "output_dim": 6},
            [normal(2, 5, 8), normal(2, 7, 12)],
            expected_output_shape=(2, 5, 6),
            tmp_path=tmp_path,
        )

    @pytest.mark.parametrize("masking", ["none", "padding", "attention_mask", "causal"])
    def test_parity_with_keras_multi_head_attention(self, masking):
        query, value = normal(3, 6, 16), normal(3, 9, 16)
        query_mask = np.array([[1] * 6, [1] * 4 + [0] * 2, [1] * 5 + [0]], bool)
        value_mask = np.array([[1] * 9, [1] * 3 + [0] * 6, [1] * 8 + [0]], bool)
        ours = MultiHeadAttention(num_heads=4)
        reference = keras.layers.MultiHeadAttention(num_heads=4, key_dim=4)
        kwargs = {}
        if masking == "padding":
            kwargs = {"query_mask": query_mask, "value_mask": value_mask}
        elif masking == "attention_mask":
            attention_mask = RNG.random((3, 6, 9)) > 0.4
            attention_mask[..., 0] = True
            kwargs = {"attention_mask": attention_mask}
        elif masking == "causal":
            value = normal(3, 6, 16)
            kwargs = {"use_causal_mask": True, "query_mask": query_mask,
                      "value_mask": query_mask}
        ours(query, value, **kwargs)
        reference(query, value, **kwargs)
        copy_into_keras(ours, reference)
        out, scores = ours(query, value, return_attention_scores=True, **kwargs)
        ref_out, ref_scores = reference(query, value, return_attention_scores=True, **kwargs)
        # Padded queries are compared too, except where every key is masked:
        # there Keras's fused path returns uniform weights and we return
        # zeros; both are padding that no real position reads.
        real = np.asarray(kwargs.get("query_mask", np.ones((3, 6), bool)))
        np.testing.assert_allclose(np.asarray(out)[real], np.asarray(ref_out)[real], atol=1e-5)
        np.testing.assert_allclose(
            np.asarray(scores).transpose(0, 2, 1, 3)[real],
            np.asarray(ref_scores).transpose(0, 2, 1, 3)[real],
            atol=1e-5,
        )

    def test_parity_with_keras_masking_in_a_functional_model(self):
        ids = np.array([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0]], "int32")
        inputs = keras.Input((None,), dtype="int32")
        embedding = keras.layers.Embedding(10, 8, mask_zero=True)
        embedded = embedding(inputs)
        ours = MultiHeadAttention(num_heads=2)
        reference = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
        ours_model = keras.Model(inputs, ours(embedded, embedded))
        ref_model = keras.Model(inputs, reference(embedded, embedded))
        copy_into_keras(ours, reference)
        real = ids != 0  # see the comment on padded queries above
        expected = ref_model.predict(ids, verbose=0)[real]
        np.testing.assert_allclose(ours_model.predict(ids, verbose=0)[real], expected, atol=1e-5)
        # Self-attention called with the query alone reads its Keras mask too.
        self_model = keras.Model(inputs, ours(embedded))
        np.testing.assert_allclose(self_model.predict(ids, verbose=0)[real], expected, atol=1e-5)
        # The masks matter: attending to the padding changes real positions.
        vectors = np.asarray(embedding.embeddings)[ids]
        everything = np.ones(ids.shape, bool)
        unmasked = ours(vectors, vectors, query_mask=everything, value_mask=everything)
        assert not np.allclose(np.asarray(unmasked)[real], expected, atol=1e-3)

    def test_identity_weights_give_hand_computed_attention(self):
        # With identity projections and one head of size D, the layer is
        # softmax(X X^T / sqrt(D)) X.
        d = 4
        x = normal(1, 3, d)
        layer = MultiHeadAttention(num_heads=1, use_bias=False)
        layer.build((None, 3, d))
        for dense in (layer.query_dense, layer.key_dense, layer.value_dense):
            dense.kernel.assign(np.eye(d, dtype="float32")[:, None, :])
        layer.output_dense.kernel.assign(np.eye(d, dtype="float32")[None])
        logits = x[0] @ x[0].T / np.sqrt(d)
        weights = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        np.testing.assert_allclose(layer(x)[0], weights @ x[0], atol=1e-5)

    def test_padding_does_not_change_real_positions(self):
        layer = MultiHeadAttention(num_heads=2)
        query, value = normal(2, 4, 8), normal(2, 6, 8)
        base = layer(query, value)
        padded_q = np.concatenate([query, normal(2, 3, 8)], axis=1)
        padded_v = np.concatenate([value, normal(2, 5, 8)], axis=1)
        out = layer(
            padded_q, padded_v,
            query_mask=np.arange(7)[None].repeat(2, 0) < 4,
            value_mask=np.arange(11)[None].repeat(2, 0) < 6,
        )
        np.testing.assert_allclose(out[:, :4], base, atol=1e-5)

    def test_future_tokens_do_not_change_the_past(self):
        layer = MultiHeadAttention(num_heads=2)
        x = normal(2, 6, 8)
        changed = x.copy()
        changed[:, 4:] = normal(2, 2, 8)
        a = layer(x, use_causal_mask=True)
        b = layer(changed, use_causal_mask=True)
        np.testing.assert_allclose(a[:, :4], b[:, :4], atol=1e-6)
        assert not np.allclose(a[:, 4:], b[:, 4:])

    @pytest.mark.parametrize("mode", ["append", "write"])
    def test_cached_steps_equal_the_full_pass(self, mode):
        layer = MultiHeadAttention(num_heads=2)
        x = normal(2, 6, 8)
        full = layer(x, use_causal_mask=True)
        length = 0 if mode == "append" else 6
        cache = kv_cache.empty_cache(2, 2, 4, length=length)
        steps = []
        # A 2-token prompt, then one token at a time.
        for start, stop in ((0, 2), (2, 3), (3, 4), (4, 5), (5, 6)):
            out, cache = layer(
                x[:, start:stop],
                use_causal_mask=True,
                cache=cache,
                cache_index=None if mode == "append" else start,
            )
            steps.append(out)
        np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)
        assert tuple(cache.shape) == (2, 2, 6, 2, 4)

    def test_precomputed_cross_attention_cache(self):
        layer = MultiHeadAttention(num_heads=2)
        query, memory = normal(2, 3, 8), normal(2, 5, 8)
        memory_mask = np.array([[1] * 5, [1] * 2 + [0] * 3], bool)
        full = layer(query, memory, value_mask=memory_mask)
        cache = layer.project_key_value(memory)
        out, same_cache = layer(
            query, cache=cache, update_cache=False, value_mask=memory_mask
        )
        np.testing.assert_allclose(out, full, atol=1e-5)
        np.testing.assert_array_equal(same_cache, cache)

    def test_rejects_bad_input(self):
        with pytest.raises(ValueError, match="`num_heads`.*num_heads=0"):
            MultiHeadAttention(num_heads=0)
        with pytest.raises(ValueError, match="`dropout`.*dropout=1.5"):
            MultiHeadAttention(num_heads=2, dropout=1.5)
        with pytest.raises(ValueError, match="hidden_dim=10, num_heads=4"):
            MultiHeadAttention(num_heads=4)(normal(1, 3, 10))
        with pytest.raises(ValueError, match=r"query.shape=\(3, 10\)"):
            MultiHeadAttention(num_heads=2)(normal(3, 10))
        layer = MultiHeadAttention(num_heads=2)
        with pytest.raises(ValueError, match=r"attention_mask.shape=\(1, 3, 4\)"):
            layer(normal(1, 3, 8), normal(1, 5, 8), attention_mask=np.ones((1, 3, 4), bool))
        with pytest.raises(ValueError, match=r"value_mask|key_mask.shape=\(1, 4\)"):
            layer(normal(1, 3, 8), normal(1, 5, 8), value_mask=np.ones((1, 4), bool))
        with pytest.raises(ValueError, match=r"query_mask.shape=\(2, 3\)"):
            layer(normal(1, 3, 8), query_mask=np.ones((2, 3), bool))
