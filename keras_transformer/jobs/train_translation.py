"""Train an "Attention Is All You Need" translator with plain `model.fit`.

The package's main job. On the built-in corpus (King James Bible English ->
Reina-Valera 1909 Spanish, shipped as the TFDS dataset `bible_en_es`) it
trains a subword tokenizer and a small encoder-decoder, evaluates BLEU with
beam search on the held-out books, saves the model and tokenizer, and shows
sample translations:

    python -m examples.train_translation

Other data: `--dataset ted_hrlr_translate/pt_to_en` (or any TFDS translation
dataset; `--data-dir` for one prepared elsewhere), or `--dataset
folder:/path` for your own `{language}.{split}.txt` files. A killed run
resumes where it stopped when started again with the same `--output-dir`.
"""

import argparse
import json
import pathlib
import sys
import time

import keras

from keras_transformer.data import load_translation
from keras_transformer.data import load_translation_splits
from keras_transformer.data import prepare_tokenizer
from keras_transformer.data import make_translation_batches
from keras_transformer.evaluation import corpus_bleu
from keras_transformer.jobs import translation_run
from keras_transformer.evaluation import repetition_rate
from keras_transformer.models import SEQ2SEQ_PRESETS
from keras_transformer.models import Seq2SeqTransformer
from keras_transformer.training import PRECISIONS
from keras_transformer.training import STRATEGIES
from keras_transformer.training import MaskedAccuracy
from keras_transformer.training import MaskedSparseCrossentropy
from keras_transformer.training import ProgressLog
from keras_transformer.training import ResumableBackup
from keras_transformer.training import TimeBudget
from keras_transformer.training import WarmupLinearDecay
from keras_transformer.training.budget_schedule import FitScheduleToBudget
from keras_transformer.training.budget_schedule import plot_learning_rates
from keras_transformer.training.token_count import TokenCount
from keras_transformer.training import get_strategy
from keras_transformer.training import distributed
from keras_transformer.training import set_precision
from keras_transformer.translation import Translator


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default="bible_en_es",
                      help="the built-in corpus, a TFDS translation dataset, or a folder of "
                           "{language}.{split}.txt files (its path, or folder:PATH)")
    data.add_argument("--data-dir", default=None, help="TFDS data directory")
    data.add_argument("--source-language", default=None,
                      help="translate from this language (default: the dataset's "
                           "direction; for a folder, alphabetical order, stated loudly)")
    data.add_argument("--target-language", default=None,
                      help="translate into this language")
    data.add_argument("--vocabulary-size", type=int, default=8000)
    data.add_argument("--max-length", type=int, default=128,
                      help="most subword ids per sentence; longer pairs are dropped and counted")
    # Small batches: within the training budget, 2048-token batches reach a
    # lower validation loss than 4096-token ones for the same tokens seen.
    data.add_argument("--tokens-per-batch", type=int, default=2048)
    data.add_argument("--train-split", default="train",
                      help="missing validation and test splits are held out of it (logged)")
    model = parser.add_argument_group("model")
    model.add_argument("--preset", default="cpu_small", choices=sorted(SEQ2SEQ_PRESETS))
    model.add_argument("--norm-first", action=argparse.BooleanOptionalAction, default=True,
                       help="pre-norm blocks (--no-norm-first: the paper's post-norm)")
    # No dropout by default: a run within the budget sees each pair one to
    # three times (depending on the CPU), too few to overfit, and dropout
    # slows early learning.
    model.add_argument("--dropout", type=float, default=0.0,
                       help="residual and embedding dropout (the preset's: 0.1)")
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, default=10)
    training.add_argument("--steps-per-epoch", type=int, default=None)
    # 11 minutes: with set-up (about 2.5 minutes on a fresh machine) and the
    # beam-search evaluation (about 4), `make demo` stays under 20 minutes
    # on 2 AVX2 cores, the slowest CPU it was measured on.
    training.add_argument("--time-budget-minutes", type=float, default=11.0,
                          help="stop training (logged) once this much time is spent")
    # Linear warm-up to the peak, then linear decay to zero at the last step
    # the time budget allows (FitScheduleToBudget measures the step time),
    # or at the last of --epochs epochs when the budget does not bind.
    # 2e-3: at 200 steps (decay to zero) it reached a validation loss of
    # 5.96 against 6.11 for 1e-3.
    training.add_argument("--learning-rate", type=float, default=2e-3,
                          help="peak learning rate (Adam)")
    training.add_argument("--warmup-fraction", type=float, default=0.1,
                          help="warm-up, as a share of the steps the run will take")
    training.add_argument("--warmup-steps", type=int, default=None,
                          help="a fixed warm-up length instead of --warmup-fraction")
    training.add_argument("--label-smoothing", type=float, default=0.1)
    training.add_argument("--mixed-precision", choices=PRECISIONS, default="auto",
                          help="auto: bfloat16 where the hardware has bfloat16 units")
    training.add_argument("--jit-compile", action="store_true")
    training.add_argument("--strategy", choices=STRATEGIES, default="default")
    training.add_argument("--cluster-resolver", choices=("tf_config", "slurm"),
                          default="tf_config",
                          help="multi_worker_mirrored: the cluster from each worker's "
                               "TF_CONFIG, or from Slurm (one task per worker)")
    training.add_argument("--seed", type=int, default=0)
    training.add_argument("--backup-every", type=int, default=100,
                          help="optimizer steps between backups of the training state "
                               "(a killed run resumes exactly at the last one)")
    training.add_argument("--step-log", default=None,
                          help="append one JSON line per training step (step, epoch, "
                               "batch, loss) to this file")
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument("--beam-width", type=int, default=4)
    evaluation.add_argument("--eval-sentences", type=int, default=None,
                            help="score only the first N pairs (default: all)")
    evaluation.add_argument("--eval-split", default="test",
                            help="the split translated and scored; tune on 'validation'")
    # Beam search stays the default: at 200 steps greedy search looped on
    # 97% of the validation verses (2.9x the reference length), beam 2 on
    # 92% (1.3x). 32 sentences per batch, sorted by length: a batch decodes
    # until its longest hypothesis ends, so bigger batches waste steps.
    evaluation.add_argument("--decode-batch-size", type=int, default=32,
                            help="sentences per decoding batch (sorted by length)")
    evaluation.add_argument("--num-samples", type=int, default=5)
    parser.add_argument("--output-dir", default="artifacts/translation")
    return parser.parse_args(argv)


def texts_of(pairs, limit=None):
    """Returns the (sources, targets) of a pairs dataset as Python strings."""
    sources, targets = [], []
    for source, target in pairs.take(limit if limit else -1).as_numpy_iterator():
        sources.append(source.decode())
        targets.append(target.decode())
    return sources, targets


class DecodingProgress:
    """Prints decoding progress about every `every` seconds: count, rate, ETA."""

    def __init__(self, started, every=20.0):
        self.started = started
        self.every = every
        self._last = started

    def __call__(self, done, total):
        now = time.perf_counter()
        if now - self._last < self.every and done < total:
            return
        self._last = now
        rate = done / max(now - self.started, 1e-9)
        print(f"[eval] {done}/{total} sentences, {rate:.1f} sentences/s, "
              f"{(total - done) / rate:.0f} s left", flush=True)


def main(argv=None):
    args = parse_args(argv)
    # Before any TensorFlow use: a multi-worker strategy configures its
    # collective ops when the TensorFlow context starts.
    strategy = get_strategy(args.strategy, cluster_resolver=args.cluster_resolver)
    started = time.perf_counter()
    # Only the chief writes the run's files; other workers write theirs to
    # a private temporary folder, deleted at the end (tf.distribute's way).
    output_dir = distributed.worker_output_dir(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not distributed.is_chief():
        print(f"[multi-worker] {distributed.worker_role()}: files go to {output_dir} "
              f"(deleted at the end); the chief writes {args.output_dir}", flush=True)
    keras.utils.set_random_seed(args.seed)
    policy = set_precision(args.mixed_precision)

    # === Data ===
    languages = dict(source_language=args.source_language,
                     target_language=args.target_language, data_dir=args.data_dir)
    # Missing validation or test splits are held out of train (logged).
    splits = load_translation_splits(args.dataset, args.train_split, seed=args.seed,
                                     **languages)
    train_pairs, validation_pairs, test_pairs = splits.train, splits.validation, splits.test
    info = splits.info
    for line in translation_run.data_summary(args.dataset, splits):
        print(line, flush=True)

    # Reused only when trained on the same texts with the same settings:
    # another dataset in the same --output-dir is refused before anything
    # there is overwritten.
    tokenizer_dir = output_dir / "tokenizer"
    sources, targets = texts_of(train_pairs)
    tokenizer, reused = prepare_tokenizer(
        tokenizer_dir, sources + targets, vocabulary_size=args.vocabulary_size,
        seed=args.seed, argument="--output-dir",
        data=translation_run.data_record(args.dataset, args.train_split, splits),
    )
    print(f"[tokenizer] {'reusing' if reused else 'trained'} a "
          f"{tokenizer.vocabulary_size}-id joint BPE vocabulary in {tokenizer_dir} "
          f"({time.perf_counter() - started:.0f} s since start)")
    # Every worker trains the tokenizer (same texts, same seed); one that
    # came out different would make the workers train different models.
    distributed.check_same_on_all_workers(
        "tokenizers", (tokenizer_dir / "tokenizer.json").read_bytes())

    # Seeded again: building the TFDS data on a first run draws random
    # numbers, which would otherwise change the initial weights. (Not
    # later: it clears TensorFlow's kernel cache, which frees the
    # SentencePiece model of pipelines already traced.)
    keras.utils.set_random_seed(args.seed)

    def make_train_batches():  # a resumed run may need a second, identical copy
        return distributed.split_across_replicas(make_translation_batches(
            train_pairs, tokenizer, max_length=args.max_length,
            tokens_per_batch=args.tokens_per_batch, seed=args.seed,
            pad_to_bucket_boundary=args.jit_compile,
        ), strategy)

    train_batches = make_train_batches()
    validation_batches = distributed.split_across_replicas(make_translation_batches(
        validation_pairs, tokenizer, max_length=args.max_length,
        tokens_per_batch=args.tokens_per_batch, shuffle=False,
        pad_to_bucket_boundary=args.jit_compile,
    ), strategy)

    # === Model ===
    with strategy.scope():
        model = Seq2SeqTransformer.from_preset(
            args.preset,
            encoder_vocabulary_size=tokenizer.vocabulary_size,
            max_sequence_length=args.max_length,
            share_embeddings=True,
            norm_first=args.norm_first,
            dropout=args.dropout,
        )
        # Planned for the steps asked for; FitScheduleToBudget moves the end
        # of the decay to the last step the time budget allows.
        planned_steps = args.epochs * (
            args.steps_per_epoch or int(train_batches.cardinality()))
        schedule = WarmupLinearDecay(args.learning_rate, total_steps=planned_steps,
                                     warmup_fraction=args.warmup_fraction,
                                     warmup_steps=args.warmup_steps)
        model.compile(
            # The paper's Adam settings (section 5.3).
            optimizer=keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98,
                                            epsilon=1e-9),
            loss=MaskedSparseCrossentropy(label_smoothing=args.label_smoothing),
            metrics=[MaskedAccuracy(), TokenCount()],
            jit_compile=args.jit_compile,
        )
    distributed.prepare_multi_worker_fit(model)  # keras-team/keras#20585
    print(f"[model] {args.preset}: {model.count_params():,} parameters, "
          f"{policy}, strategy with {strategy.num_replicas_in_sync} replica(s)")

    # === Training ===
    budget = TimeBudget(args.time_budget_minutes)
    schedule_fitter = FitScheduleToBudget(schedule, budget)
    # Backs up weights, optimizer, data position and budget every
    # --backup-every steps; a restarted run resumes at the batch after the
    # last backup, with the budget that remained.
    # Every worker resumes from the chief's backups; only the chief writes.
    backup = ResumableBackup(pathlib.Path(args.output_dir) / "backup",
                             save_every=args.backup_every, writes=distributed.is_chief(),
                             track={"time_budget": budget},
                             step_log=args.step_log
                             and distributed.worker_output_dir(args.step_log))
    callbacks = [
        keras.callbacks.ModelCheckpoint(str(output_dir / "checkpoint.keras")),
        keras.callbacks.TensorBoard(str(output_dir / "logs")),
        budget,
        schedule_fitter,
    ]
    tally = translation_run.TrainingTally()  # after the backup callbacks
    callbacks.append(tally)
    interactive = sys.stdout.isatty()
    if not interactive:
        callbacks.append(ProgressLog(every=25))
    history = backup.fit(
        model,
        train_batches,
        make_batches=make_train_batches,
        validation_data=validation_batches,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles, with its own seed
        verbose=1 if interactive else 2,
    )
    model.save(output_dir / "model.keras")
    train_seconds = time.perf_counter() - started
    print(f"[train] saved {output_dir / 'model.keras'}")

    # === Evaluation ===
    if schedule_fitter.learning_rates:  # none when a finished run is restarted
        plot_learning_rates(schedule_fitter.learning_rates, output_dir / "lr.png",
                            title=f"learning rate, {len(schedule_fitter.learning_rates)} steps")
    translator = Translator(model, tokenizer, beam_width=args.beam_width,
                            batch_size=args.decode_batch_size, overlength="truncate")
    held_out = {"test": test_pairs, "validation": validation_pairs}  # maybe carved
    eval_pairs = held_out[args.eval_split] if args.eval_split in held_out else (
        load_translation(args.dataset, args.eval_split, **languages)[0])
    sources, references = texts_of(eval_pairs, args.eval_sentences)
    search = "greedy search" if args.beam_width == 1 else f"beam search (width {args.beam_width})"
    print(f"[eval] translating {len(sources)} {args.eval_split} pairs with {search}")
    decode_started = time.perf_counter()
    hypotheses = translator.translate(sources, progress=DecodingProgress(decode_started))
    decode_seconds = time.perf_counter() - decode_started
    bleu = corpus_bleu(hypotheses, references)
    repeats, reference_repeats = repetition_rate(hypotheses), repetition_rate(references)
    print(f"[eval] {search} on {len(sources)} {args.eval_split} pairs "
          f"in {decode_seconds:.0f} s ({len(sources) / decode_seconds:.1f} sentences/s)")
    print(f"[eval] {bleu}")
    print(f"[eval] translations repeating a 4-gram 3+ times: {100 * repeats:.1f}% "
          f"(references: {100 * reference_repeats:.1f}%)")
    for source, reference, hypothesis in list(zip(sources, references, hypotheses))[
        : args.num_samples
    ]:
        print(f"\n  source:    {source}\n  reference: {reference}\n  model:     {hypothesis}")

    # Line i translates the i-th evaluated pair, so others can score it.
    flattened = translation_run.write_hypotheses(
        output_dir / translation_run.HYPOTHESES_FILENAME, hypotheses)
    if flattened:
        print(f"[eval] WARNING: {flattened} hypotheses held line breaks, written as spaces")
    print(f"[train] {tally.initial_step + tally.steps} steps ({tally.steps} in this "
          f"start), {translation_run.tokens_trained(history):,} target tokens trained")

    metrics = {
        "dataset": args.dataset,
        "direction": f"{info.source_language}-{info.target_language}",
        "preset": args.preset,
        "precision": policy,
        "parameters": model.count_params(),
        "epochs_completed": len(history.history.get("loss", [])),
        "stopped_by_time_budget": budget.stopped_at is not None,
        "final_loss": history.history.get("loss", [None])[-1],
        "final_val_loss": history.history.get("val_loss", [None])[-1],
        "bleu": bleu.score,
        "bleu_signature": str(bleu),
        "eval_split": args.eval_split,
        "test_sentences": len(sources),
        "repetition_rate": repeats,
        "reference_repetition_rate": reference_repeats,
        "steps": int(model.optimizer.iterations.numpy()),
        **tally.summary(),  # steps trained, in all and in this start
        "target_tokens_trained": translation_run.tokens_trained(history),
        "data": translation_run.data_record(args.dataset, args.train_split, splits),
        "hypotheses_file": translation_run.HYPOTHESES_FILENAME,
        **backup.summary(),  # starts, resumed_from_step: every start counted
        "fit_seconds_all_starts": budget.elapsed_seconds(),
        "schedule": schedule.get_config(),
        "train_seconds": train_seconds,
        "decode_sentences_per_second": len(sources) / decode_seconds,
        "total_seconds": time.perf_counter() - started,
    }
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"\n[done] BLEU {bleu.score:.1f} in {metrics['total_seconds'] / 60:.1f} minutes; "
          f"model, tokenizer and metrics in {output_dir}/")
    distributed.remove_worker_output_dirs()
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
