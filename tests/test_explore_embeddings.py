"""examples/explore_embeddings.py runs and agrees with sentence-transformers."""

import pathlib

import numpy as np
import pytest

from examples import explore_embeddings

GOLDEN = pathlib.Path(__file__).parent / "data" / "bert_golden"


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("explore")
    return explore_embeddings.main(
        ["--output-dir", str(output_dir), "--layer", "2", "--head", "3",
         "--positions", "16"]
    )


def test_writes_the_plots(result):
    assert len(result["plots"]) == 2
    for path in result["plots"]:
        path = pathlib.Path(path)
        assert path.exists() and path.suffix == ".png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lists_the_tokens_and_their_states(result):
    assert result["tokens"] == [
        "[CLS]", "hello", ",", "my", "dog", "is", "cute", "[SEP]"
    ]
    assert result["embedding_output"].shape == (1, 8, 384)
    assert result["sequence_output"].shape == (1, 8, 384)


def test_paraphrases_are_closer_than_unrelated_sentences(result):
    similarity = result["similarity"]
    # 0/1 and 2/3 are paraphrase pairs, 4 is unrelated to both.
    assert similarity[0, 1] > similarity[0, 4] + 0.3
    assert similarity[2, 3] > similarity[2, 4] + 0.3
    assert similarity[0, 1] > similarity[0, 2]
    np.testing.assert_allclose(np.diag(similarity), 1.0, atol=1e-5)


def test_sentence_embeddings_match_sentence_transformers(result):
    # The reference: SentenceTransformer("all-MiniLM-L6-v2").encode(...), in
    # float32 (scripts/make_bert_golden.py).
    with np.load(GOLDEN / "minilm_golden.npz") as golden:
        expected = golden["sentence_embeddings"]
    np.testing.assert_allclose(
        result["sentence_embeddings"], expected, rtol=0, atol=1e-5
    )


def test_attention_weights_are_distributions_over_real_keys(result):
    weights = result["attention_weights"]
    assert weights.shape == (1, 12, 8, 8)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)


def test_mean_pool_ignores_padding():
    states = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], "float32")
    pooled = explore_embeddings.mean_pool(states, np.array([[1, 1, 0]]))
    np.testing.assert_allclose(pooled, [[1.0, 0.0]])


def test_invalid_layer_is_named(tmp_path):
    with pytest.raises(ValueError, match="--layer=6"):
        explore_embeddings.main(["--output-dir", str(tmp_path), "--layer", "6"])
