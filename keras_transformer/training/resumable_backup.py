"""Exact resume of `model.fit` after a kill: the whole training state, backed up.

Keras's `BackupAndRestore` restores the epoch but not the batch within it,
so a killed run that never finishes its first epoch retrains its first
batches after every restart. `ResumableBackup` resumes at the batch after
the last backup, in the same epoch, and the resumed run takes the same
optimizer steps on the same batches as an uninterrupted one.

How:

- A backup holds every model variable (weights and dropout seed states),
  every optimizer variable (moments and `iterations`, which the learning
  rate schedule reads), the running sums of the epoch's metrics, and a
  JSON state: the global step, the epoch and the batch within it, the logs
  of finished epochs, and the state of tracked objects such as
  `TimeBudget` (elapsed training seconds).
- The data is one stream, `batches.repeat()`, cut into epochs of
  `steps_per_epoch` batches (default: one pass). A seeded
  `shuffle(reshuffle_each_iteration=True)` draws a new order for each pass
  from a seeded generator, so the stream is the same in every run. On
  restart, the batches already trained are skipped with `Dataset.skip`:
  they go through the input pipeline again, untrained (a resume after `p`
  finished passes costs `p` passes of tokenization, none in a run that
  never finishes its first epoch), and the stream then yields exactly the
  batches the uninterrupted run would have.
- `fit` runs the rest of an interrupted epoch as its own `model.fit` call
  of the remaining steps, then the following epochs, so epoch boundaries
  (validation, per-epoch logs) fall where they would have. The other
  callbacks see one training: their `on_train_begin` runs before the first
  call only, their `on_train_end` after the last only.
- A backup is written to a temporary folder, each file fsynced, then
  renamed into place; the previous backup is kept. On load, a backup whose
  SHA-256 does not match its state file is set aside (renamed `*.corrupt`)
  with a warning and the previous one is used; folders left half-written by
  a kill are removed. If backups exist but none is readable, `fit` raises
  rather than start again silently.
"""

import hashlib
import json
import os
import pathlib
import shutil

import keras
import numpy as np
from absl import logging

from keras_transformer.layers import checks

STATE_FILE = "state.json"
ARRAYS_FILE = "variables.npz"
_PREFIX = "backup-"
_TEMPORARY_PREFIX = ".partial-"
_GROUPS = ("model", "optimizer", "metrics")


class ResumableBackup(keras.callbacks.Callback):
    """Backs up the training state every `save_every` steps; resumes exactly.

    Use its `fit` in place of `model.fit`: it restores the newest backup in
    `directory` (if any), positions the data stream after the last batch
    trained, and calls `model.fit` with this callback added. After training
    ends (all epochs, or stopped early, e.g. by `TimeBudget`) a final backup
    marks the training complete, so starting the same command again after
    a kill during evaluation does not train again.

    Args:
        directory: Folder for the backups (made if missing), used by this
            run only.
        save_every: Optimizer steps between backups; a kill loses at most
            this many steps of work. Backups are also written at the end of
            each epoch and of training.
        track: Optional dict of name -> object with `backup_state()`
            (returning a JSON-serializable value) and
            `restore_state(state)`, saved with each backup, e.g.
            `{"time_budget": budget}`.
        step_log: Optional path of a file that gets one JSON line per step
            (`start`, `step`, `epoch`, `batch`, `loss`), appended across
            starts: a record of the batches each start trained on.
        writes: `False` to only read backups, never write, move or delete
            anything in `directory`: for the non-chief workers of a
            multi-worker run, which restore from the chief's backups.

    Example:

    >>> import tempfile
    >>> import tensorflow as tf
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> data = tf.data.Dataset.from_tensor_slices(
    ...     (np.ones((8, 2)), np.ones((8, 1)))).batch(2)
    >>> backup = ResumableBackup(tempfile.mkdtemp(), save_every=3)
    >>> history = backup.fit(model, data, epochs=2, verbose=0)
    >>> int(model.optimizer.iterations), len(history.history["loss"])
    (8, 2)
    """

    def __init__(self, directory, save_every=100, track=None, step_log=None, writes=True):
        super().__init__()
        self.directory = pathlib.Path(directory)
        self.writes = bool(writes)
        self.save_every = checks.positive_int("save_every", save_every)
        self.track = dict(track or {})
        for name, obj in self.track.items():
            if not (hasattr(obj, "backup_state") and hasattr(obj, "restore_state")):
                raise checks.invalid_argument(
                    "track", "a dict of objects with `backup_state()` and "
                    "`restore_state(state)`", f"{name}={obj!r}",
                )
        self.step_log = pathlib.Path(step_log) if step_log else None
        self._state = _fresh_state()
        self._pending_metrics = None
        self._sequence = 0

    # === The fit driver ===

    def fit(self, model, batches, epochs=1, steps_per_epoch=None, make_batches=None,
            callbacks=(), **fit_kwargs):
        """Trains like `model.fit(batches.repeat(), ...)`, resuming exactly.

        Args:
            model: A compiled, built Keras model.
            batches: A finite `tf.data.Dataset` of known cardinality, one
                pass over the training data, not iterated yet.
            epochs: As for `model.fit`.
            steps_per_epoch: Batches per epoch; default one pass. Epochs
                may span passes.
            make_batches: A function returning a new, identical `batches`.
                Needed only to resume in the middle of an epoch with more
                epochs to follow (the two `model.fit` calls each need a
                dataset with a fresh shuffle generator).
            callbacks: The other callbacks of `model.fit`.
            **fit_kwargs: Passed to `model.fit` (e.g. `validation_data`,
                `verbose`); not `x`, `initial_epoch` or `steps_per_epoch`.

        Returns:
            A `keras.callbacks.History` of every epoch of the run, those of
            earlier starts included.
        """
        batches_per_pass = int(batches.cardinality())
        if batches_per_pass <= 0:
            raise checks.invalid_argument(
                "batches", "a finite, non-empty dataset of known cardinality "
                "(e.g. from make_translation_batches)",
                f"a dataset of cardinality {batches_per_pass}",
            )
        steps_per_epoch = (batches_per_pass if steps_per_epoch is None
                           else checks.positive_int("steps_per_epoch", steps_per_epoch))
        self.restore(model)
        state = self._state
        self._check_same_run(steps_per_epoch=steps_per_epoch,
                             batches_per_pass=batches_per_pass)
        state.update(steps_per_epoch=steps_per_epoch, batches_per_pass=batches_per_pass)
        epoch, batch = state["epoch"], state["batch"]
        if state["completed"] or epoch >= epochs:
            print(f"[resume] training already complete at step {state['step']} "
                  f"({self.directory}); delete that folder to train again", flush=True)
            return self._history(model)
        phases = [(epoch, epochs, steps_per_epoch)]
        if batch:
            # The rest of the interrupted epoch, then the following epochs.
            phases = [(epoch, epoch + 1, steps_per_epoch - batch)]
            if epoch + 1 < epochs:
                if make_batches is None:
                    raise checks.invalid_argument(
                        "make_batches", "a function making the training batches "
                        "anew, to resume in the middle of an epoch", None,
                    )
                phases.append((epoch + 1, epochs, steps_per_epoch))
        # Each model.fit call needs a dataset whose shuffle generator has
        # drawn nothing yet.
        datasets = [batches] if len(phases) == 1 else [make_batches(), batches]
        for index, ((first, last, steps), dataset) in enumerate(zip(phases, datasets)):
            self._final_phase = index == len(phases) - 1
            others = list(callbacks)
            if len(phases) > 1:
                others = [_OneTraining(callback, begins=index == 0, ends=self._final_phase)
                          for callback in others]
            stream = _stream_from(dataset, state["step"])
            # First, so that the others see the restored epoch metrics.
            model.fit(stream, epochs=last, initial_epoch=first, steps_per_epoch=steps,
                      callbacks=[self] + others, **fit_kwargs)
            if model.stop_training:
                break
        return self._history(model)

    def summary(self):
        """Facts of the whole run, every start included, for a metrics file."""
        state = self._state
        return {
            "starts": state["starts"],
            "resumed_from_step": state["resumed_from_step"],
            "backups_written": state["backups_written"],
        }

    # === Callback ===

    def on_epoch_begin(self, epoch, logs=None):
        self._state["epoch"] = epoch

    def on_train_batch_end(self, batch, logs=None):
        state = self._state
        if self._pending_metrics is not None:
            # The epoch's metrics are sums (totals and counts), reset by
            # `fit` at the epoch's start and built only by its first step:
            # the restored sums of the earlier batches are added now.
            for variable, value in zip(_metric_variables(self.model), self._pending_metrics):
                variable.assign(variable + value)
            self._pending_metrics = None
            if logs is not None:
                # The callbacks after this one see the epoch's true means.
                logs.update(self.model.get_metrics_result())
        # `batch` counts from 0 in each `model.fit` call.
        done_in_epoch = self._batch_offset + batch + 1
        state["step"] += done_in_epoch - state["batch"]
        state["batch"] = done_in_epoch
        if self.step_log is not None:
            record = dict(start=state["starts"], step=state["step"], epoch=state["epoch"],
                          batch=state["batch"] - 1, loss=_float((logs or {}).get("loss")))
            with open(self.step_log, "a") as file:
                file.write(json.dumps(record) + "\n")
        if state["step"] % self.save_every == 0:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        state = self._state
        state["history"].append({name: _float(value) for name, value in (logs or {}).items()})
        state["history_epochs"].append(epoch)
        if state["batch"] >= self._epoch_steps():
            state["epoch"], state["batch"] = epoch + 1, 0
        self._batch_offset = 0
        if not (self.model.stop_training or self._final_phase_last_epoch(epoch)):
            self.save()

    def on_train_end(self, logs=None):
        # A first `model.fit` call that ends normally has just saved at
        # its epoch's end.
        if self.model.stop_training or self._final_phase:
            self._state["completed"] = True
            self.save()

    def _epoch_steps(self):
        return self._state["steps_per_epoch"]

    def _final_phase_last_epoch(self, epoch):
        # on_train_end saves right after; one backup suffices.
        return self._final_phase and epoch + 1 == self.params.get("epochs")

    # === Saving ===

    def save(self):
        """Writes a backup of the current state, atomically."""
        state = self._state
        state["backups_written"] += 1
        groups = _variable_groups(self.model)
        # Read on every worker, writing or not: under a multi-worker strategy
        # reading a metric variable is a collective all-reduce all must join.
        arrays = {f"{group}/{index:05d}": np.asarray(keras.ops.convert_to_numpy(variable))
                  for group, variables in groups.items()
                  for index, variable in enumerate(variables)}
        if not self.writes:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, obj in self.track.items():
            state["tracked"][name] = obj.backup_state()
        self._sequence = max(self._sequence, _newest_sequence(self.directory)) + 1
        final = self.directory / f"{_PREFIX}{self._sequence:08d}"
        temporary = self.directory / f"{_TEMPORARY_PREFIX}{final.name}-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir()
        with open(temporary / ARRAYS_FILE, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        manifest = dict(
            state,
            sha256=_sha256(temporary / ARRAYS_FILE),
            variables={group: [[v.path, list(v.shape)] for v in variables]
                       for group, variables in groups.items()},
        )
        with open(temporary / STATE_FILE, "w") as file:
            file.write(json.dumps(manifest, indent=1))
            file.flush()
            os.fsync(file.fileno())
        _fsync_directory(temporary)
        os.replace(temporary, final)
        _fsync_directory(self.directory)
        # Keep this backup and the previous one.
        for old in _backups(self.directory)[2:]:
            shutil.rmtree(old, ignore_errors=True)

    # === Restoring ===

    def restore(self, model):
        """Loads the newest readable backup into `model` and this callback.

        Returns:
            The global step restored, or `None` when there is no backup
            (the state then starts at step 0).
        """
        self.set_model(model)
        self._state = _fresh_state()
        self._pending_metrics = None
        self._batch_offset = 0
        self._final_phase = True
        if self.directory.exists() and self.writes:
            for partial in self.directory.glob(f"{_TEMPORARY_PREFIX}*"):
                logging.info("Removing %s, a backup left half-written.", partial)
                shutil.rmtree(partial, ignore_errors=True)
        candidates = _backups(self.directory) if self.directory.exists() else []
        for candidate in candidates:
            try:
                manifest, arrays = _read_backup(candidate)
                self._load_into(model, manifest, arrays)
            except (OSError, ValueError, KeyError) as error:
                logging.warning("Backup %s is unreadable (%s); trying the previous one.",
                                candidate, error)
                print(f"[resume] WARNING: backup {candidate} is corrupt ({error}); "
                      "using the previous one", flush=True)
                if self.writes:
                    os.replace(candidate, candidate.with_name(candidate.name + ".corrupt"))
                continue
            state = self._state
            state["starts"] += 1
            state["resumed_from_step"] = state["step"]
            self._sequence = int(candidate.name[len(_PREFIX):])
            print(f"[resume] restored {candidate}: step {state['step']}, epoch "
                  f"{state['epoch'] + 1}, batch {state['batch']} of the epoch done",
                  flush=True)
            return state["step"]
        if candidates:
            raise RuntimeError(
                f"Every backup in {self.directory} is corrupt (see the warnings "
                "above): refusing to start training again from scratch "
                "silently. Delete the folder to start afresh."
            )
        return None

    def _check_same_run(self, **settings):
        for name, value in settings.items():
            saved = self._state.get(name)
            if saved is not None and saved != value:
                raise ValueError(
                    f"The backup in {self.directory} was made with {name}={saved}; "
                    f"this run has {name}={value}. Resume with the same settings, "
                    "or delete the folder to start afresh."
                )

    def _load_into(self, model, manifest, arrays):
        optimizer = model.optimizer
        if optimizer is not None and not optimizer.built:
            with model.distribute_strategy.scope():
                optimizer.build(model.trainable_variables)
        groups = _variable_groups(model, with_metrics=False)
        values = {}
        for group, variables in groups.items():
            saved = manifest["variables"][group]
            shapes = [list(variable.shape) for variable in variables]
            if [shape for _, shape in saved] != shapes:
                raise ValueError(
                    f"its {group} variables ({len(saved)}) do not match the "
                    f"model's ({len(variables)}): a backup of another model?"
                )
            values[group] = [arrays[f"{group}/{i:05d}"] for i in range(len(variables))]
        for group, variables in groups.items():
            for variable, value in zip(variables, values[group]):
                variable.assign(value)
        state = {key: manifest[key] for key in _fresh_state()}
        metric_values = [arrays[f"metrics/{i:05d}"]
                         for i in range(len(manifest["variables"]["metrics"]))]
        self._pending_metrics = metric_values if state["batch"] and metric_values else None
        self._batch_offset = state["batch"]
        for name, obj in self.track.items():
            if name in state["tracked"]:
                obj.restore_state(state["tracked"][name])
        self._state = state

    def _history(self, model):
        history = keras.callbacks.History()
        history.set_model(model)
        history.epoch = list(self._state["history_epochs"])
        for logs in self._state["history"]:
            for name, value in logs.items():
                history.history.setdefault(name, []).append(value)
        return history


class _OneTraining(keras.callbacks.Callback):
    """Shows `callback` one training across the two `model.fit` calls of a
    resume: its `on_train_begin` runs in the first only, its `on_train_end`
    in the last only; every other hook is passed on."""

    def __init__(self, callback, begins, ends):
        super().__init__()
        self.callback = callback
        self.begins = begins
        self.ends = ends

    def set_model(self, model):
        super().set_model(model)
        self.callback.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.callback.set_params(params)

    def on_train_begin(self, logs=None):
        if self.begins:
            self.callback.on_train_begin(logs)

    def on_train_end(self, logs=None):
        if self.ends:
            self.callback.on_train_end(logs)


def _pass_on(hook):
    def method(self, *args, **kwargs):
        return getattr(self.callback, hook)(*args, **kwargs)

    method.__name__ = hook
    return method


for _hook in ("on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
              "on_train_batch_end", "on_test_begin", "on_test_end",
              "on_test_batch_begin", "on_test_batch_end", "on_predict_begin",
              "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"):
    setattr(_OneTraining, _hook, _pass_on(_hook))


def _fresh_state():
    return dict(step=0, epoch=0, batch=0, steps_per_epoch=None, batches_per_pass=None,
                history=[], history_epochs=[], completed=False, starts=1,
                resumed_from_step=None, backups_written=0, tracked={})


def _stream_from(batches, step):
    """`batches.repeat()` from global batch `step` on (see the module doc)."""
    # One iterator for the whole stream: the passes draw their shuffle
    # orders in sequence, as in an uninterrupted run. (Iterators made and
    # dropped to draw orders faster race with the pipeline's SentencePiece
    # resource, which a dropped iterator deletes.)
    stream = batches.repeat()
    return stream.skip(step) if step else stream


def _variable_groups(model, with_metrics=True):
    groups = {"model": list(model.variables),
              "optimizer": list(model.optimizer.variables) if model.optimizer else []}
    if with_metrics:
        groups["metrics"] = _metric_variables(model)
    return groups


def _metric_variables(model):
    return [variable for metric in model.metrics for variable in metric.variables]


def _backups(directory):
    """Backup folders, newest first."""
    return sorted((path for path in directory.glob(f"{_PREFIX}*")
                   if path.is_dir() and path.name[len(_PREFIX):].isdigit()),
                  reverse=True)


def _newest_sequence(directory):
    names = [path.name for path in directory.glob(f"{_PREFIX}*")]
    numbers = [int(name[len(_PREFIX):].split(".")[0]) for name in names
               if name[len(_PREFIX):].split(".")[0].isdigit()]
    return max(numbers, default=0)


def _read_backup(folder):
    manifest = json.loads((folder / STATE_FILE).read_text())
    digest = _sha256(folder / ARRAYS_FILE)
    if digest != manifest["sha256"]:
        raise ValueError(f"{ARRAYS_FILE} has SHA-256 {digest[:12]}..., its state "
                         f"file records {manifest['sha256'][:12]}...")
    with np.load(folder / ARRAYS_FILE) as arrays:
        return manifest, {name: arrays[name] for name in arrays.files}


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_directory(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _float(value):
    return None if value is None else float(value)
