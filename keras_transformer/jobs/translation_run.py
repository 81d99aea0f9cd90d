"""What the translation job says and writes about its data and its run.

Kept apart from `train_translation` so that the job reads as the run's
steps: the loud direction line, the split summary, the record beside the
tokenizer, the steps and tokens trained, the hypotheses file.
"""

import os

import keras

from keras_transformer.data import datasets

HYPOTHESES_FILENAME = "hypotheses.txt"

_DIRECTION_REASONS = {
    datasets.DIRECTION_FROM_ARGUMENTS: "as --source-language/--target-language say",
    datasets.DIRECTION_FROM_DATASET: "the dataset's own direction (its TFDS supervised keys)",
    datasets.DIRECTION_FROM_ALPHABET: "chosen by alphabetical order: a folder does not say "
                                      "which way to translate",
}


def data_summary(dataset, splits):
    """Lines that say what the run trains and evaluates on, direction first."""
    info = splits.info
    lines = [direction_banner(info)]
    for kind in ("train", "validation", "test"):
        lines.append(f"[data] {kind}: {splits.sizes[kind]} pairs "
                     f"({splits.sources[kind]})")
    lines += [f"[data] NOTE: {note}" for note in splits.notes]
    if info.num_skipped:
        lines.append(f"[data] skipped {info.num_skipped} training pairs with an "
                     "empty side (see the warning above)")
    return lines


def direction_banner(info):
    """One loud line: the direction the model learns and why."""
    line = (f"[data] ===== DIRECTION: {info.source_language} -> "
            f"{info.target_language} ({_DIRECTION_REASONS[info.direction_from]})")
    if info.direction_from != datasets.DIRECTION_FROM_ARGUMENTS:
        line += (f"; --source-language {info.target_language} trains "
                 f"{info.target_language} -> {info.source_language}")
    return line + " ====="


def data_record(dataset, train_split, splits):
    """A JSON-able description of the data, kept beside the tokenizer."""
    info = splits.info
    record = {
        "dataset": dataset,
        "train_split": train_split,
        "direction": info.direction,
        "splits": dict(splits.sources),
        "sizes": dict(splits.sizes),
    }
    if info.folder is not None:
        record["folder"] = os.path.abspath(info.folder)
    return record


def tokens_trained(history):
    """The target tokens trained on: the sum of the epochs' `tokens` metric
    (`TokenCount`), which a resumed run's history holds for every start."""
    return int(sum(history.history.get("tokens", [])))


class TrainingTally(keras.callbacks.Callback):
    """Counts the steps that `fit` runs in this process, and says when an
    epoch stops early: Keras's progress bar shows the epoch's full length
    even when the time budget stops it.

    Add it after any callback that restores a backup, so that
    `initial_step` sees the restored step count.
    """

    def __init__(self, print_fn=print):
        super().__init__()
        self.print_fn = print_fn
        self.initial_step = 0
        self.steps = 0
        self.epoch_steps = []

    def on_train_begin(self, logs=None):
        self.initial_step = int(self.model.optimizer.iterations.numpy())
        self.steps = 0
        self.epoch_steps = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start_steps = self.steps

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        ran = self.steps - self._epoch_start_steps
        self.epoch_steps.append(ran)
        planned = self.params.get("steps")
        if planned and ran < planned:
            self.print_fn(f"[train] epoch {epoch + 1} stopped early: {ran} of its "
                          f"{planned} steps ran")

    def summary(self):
        """The tally as metrics.json entries."""
        return {
            "steps_trained": self.initial_step + self.steps,
            "steps_this_run": self.steps,
            "epoch_steps_this_run": list(self.epoch_steps),
        }


def write_hypotheses(path, hypotheses):
    """Writes one hypothesis per line, line i for the i-th evaluated pair.

    A line break inside a hypothesis would shift every later line, so it
    is written as a space; returns how many hypotheses had one.
    """
    changed = 0
    lines = []
    for hypothesis in hypotheses:
        flat = " ".join(hypothesis.splitlines())
        changed += flat != hypothesis
        lines.append(flat)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    return changed
