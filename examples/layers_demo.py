"""Train a small encoder-decoder built from keras_transformer layers.

The task is sequence reversal on random token ids with random lengths
(padding id 0): the decoder must attend across the encoder output through
the padding mask, and learn positions, so it exercises every layer. It runs
in about a minute on 2 CPU cores, then checks the `.keras` round trip.

    python -m examples.layers_demo --epochs 8

This is the package's main job until the translation model lands.
"""

import argparse
import os
import sys
import time

import keras
import numpy as np

from keras_transformer.layers import TokenAndPositionEmbedding
from keras_transformer.layers import TransformerDecoderBlock
from keras_transformer.layers import TransformerEncoderBlock

PAD, START = 0, 1


def make_reversal_data(num_examples, max_length, vocabulary_size, seed):
    """Returns `((source, target_in), target_out)` for reversing sequences."""
    rng = np.random.default_rng(seed)
    source = np.zeros((num_examples, max_length), "int32")
    target_out = np.zeros((num_examples, max_length), "int32")
    for row in range(num_examples):
        length = rng.integers(max_length // 2, max_length + 1)
        tokens = rng.integers(2, vocabulary_size, size=length)
        source[row, :length] = tokens
        target_out[row, :length] = tokens[::-1]
    # Teacher forcing: the decoder sees the target shifted right by one.
    target_in = np.concatenate(
        [np.full((num_examples, 1), START, "int32"), target_out[:, :-1]], axis=1
    )
    target_in[target_out == PAD] = PAD
    return (source, target_in), target_out


def build_model(vocabulary_size, max_length, hidden_dim, num_heads, num_layers):
    source = keras.Input((None,), dtype="int32", name="encoder_token_ids")
    target = keras.Input((None,), dtype="int32", name="decoder_token_ids")
    x = TokenAndPositionEmbedding(
        vocabulary_size, max_length, hidden_dim, mask_zero=True
    )(source)
    for _ in range(num_layers):
        x = TransformerEncoderBlock(num_heads, 4 * hidden_dim)(x)
    y = TokenAndPositionEmbedding(
        vocabulary_size, max_length, hidden_dim, mask_zero=True
    )(target)
    for _ in range(num_layers):
        y = TransformerDecoderBlock(num_heads, 4 * hidden_dim)(y, x)
    logits = keras.layers.Dense(vocabulary_size, name="logits")(y)
    return keras.Model([source, target], logits)


def masked_accuracy(y_true, logits):
    """Token accuracy over real (non-padding) target positions."""
    real = y_true != PAD
    return float(np.mean(np.argmax(logits, -1)[real] == y_true[real]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--num-examples", type=int, default=4096)
    parser.add_argument("--max-length", type=int, default=12)
    parser.add_argument("--vocabulary-size", type=int, default=20)
    parser.add_argument("--hidden-dim", type=int, default=64)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--output-dir", default="artifacts/layers_demo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    train_x, train_y = make_reversal_data(
        args.num_examples, args.max_length, args.vocabulary_size, args.seed
    )
    test_x, test_y = make_reversal_data(
        512, args.max_length, args.vocabulary_size, args.seed + 1
    )
    model = build_model(
        args.vocabulary_size,
        args.max_length,
        args.hidden_dim,
        args.num_heads,
        args.num_layers,
    )
    print(
        f"Reversal task: {args.num_examples} training sequences of length "
        f"{args.max_length // 2}..{args.max_length}; model with "
        f"{model.count_params():,} parameters."
    )
    # Padding positions get zero weight in the loss.
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=["accuracy"],
    )
    started = time.perf_counter()
    model.fit(
        train_x,
        train_y,
        sample_weight=(train_y != PAD).astype("float32"),
        batch_size=64,
        epochs=args.epochs,
        verbose=2,
    )
    print(f"Trained in {time.perf_counter() - started:.1f} s")

    accuracy = masked_accuracy(test_y, model.predict(test_x, verbose=0))
    print(f"Held-out token accuracy (real positions only): {accuracy:.3f}")

    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, "reversal.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    same = np.array_equal(
        reloaded.predict(test_x, verbose=0), model.predict(test_x, verbose=0)
    )
    print(f"Saved {path}; reloaded model gives identical logits: {same}")
    if not same:
        raise RuntimeError("The reloaded model's logits differ from the original's.")
    return {"accuracy": accuracy, "path": path}


if __name__ == "__main__":
    main(sys.argv[1:])
