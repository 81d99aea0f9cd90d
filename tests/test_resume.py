"""Exact resume of the translation job after SIGKILL (`ResumableBackup`).

The end-to-end tests run the real job (`python -m examples.train_translation`)
in a subprocess, kill it with SIGKILL in the middle of an epoch once a backup
exists, start it again with the same command, and read the per-step log the
job writes with `--step-log` (step, epoch, batch within the epoch, running
loss of the epoch).

The final weights are compared for exact equality with an uninterrupted
run's: the job has no dropout by default, data order comes from seeded
shuffles, and TensorFlow's CPU kernels give the same float results for the
same inputs on the same machine, so nothing excuses a difference.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import warnings
import zipfile

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_transformer.training import ResumableBackup
from keras_transformer.training import TimeBudget

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
BATCHES_PER_EPOCH = 12  # train[:400] at 64 ids and 2,048 tokens per batch
BACKUP_EVERY = 5


@pytest.fixture
def tfds_dir(tmp_path_factory):
    """The TFDS folder the other end-to-end tests of the session use too."""
    return tmp_path_factory.getbasetemp() / "tfds"


def job_command(tmp_path, name, tfds_dir, epochs=2, extra=()):
    return [
        sys.executable, "-m", "examples.train_translation",
        "--preset", "cpu_tiny", "--train-split", "train[:400]",
        "--vocabulary-size", "400", "--max-length", "64", "--epochs", str(epochs),
        "--eval-sentences", "1", "--beam-width", "1", "--num-samples", "0",
        "--mixed-precision", "off", "--backup-every", str(BACKUP_EVERY),
        "--data-dir", str(tfds_dir), "--output-dir", str(tmp_path / name),
        "--step-log", str(tmp_path / f"{name}.jsonl"), *extra,
    ]


def run_job(command, log):
    with open(log, "a") as out:
        subprocess.run(command, cwd=REPOSITORY, stdout=out, stderr=subprocess.STDOUT,
                       check=True, timeout=600, env=_environment())


def run_and_kill(command, log, step_log, kill_after_step):
    """Starts the job and SIGKILLs it once `kill_after_step` steps are logged."""
    with open(log, "a") as out:
        process = subprocess.Popen(command, cwd=REPOSITORY, stdout=out,
                                   stderr=subprocess.STDOUT, env=_environment())
        try:
            deadline = time.monotonic() + 600
            while max((r["step"] for r in read_steps(step_log)), default=0) < kill_after_step:
                assert process.poll() is None, f"the job ended before step {kill_after_step}"
                assert time.monotonic() < deadline, "the job took too long"
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL


def _environment():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")


def read_steps(step_log):
    if not step_log.exists():
        return []
    lines = step_log.read_text().splitlines()
    # A line cut by the kill is not a record.
    return [json.loads(line) for line in lines if line.endswith("}")]


def model_weights(run_dir):
    """Every weight array of the saved `model.keras`, by its HDF5 path."""
    arrays = {}
    with zipfile.ZipFile(run_dir / "model.keras") as archive:
        with archive.open("model.weights.h5") as file, h5py.File(file) as weights:
            weights.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                               if isinstance(item, h5py.Dataset) else None)
    return arrays


def check_resumed_run(tmp_path, name, killed_at, steps, reference=None, backups_lost=0):
    """The kill/restart log of run `name` against the uninterrupted sequence.

    `backups_lost`: newest backups unusable at the restart (corrupted).
    """
    records = read_steps(tmp_path / f"{name}.jsonl")
    first = [r for r in records if r["start"] == 1]
    second = [r for r in records if r["start"] == 2]
    assert {r["start"] for r in records} == {1, 2}
    # The first start got past the kill point; the second resumed at the
    # batch after a backup at most BACKUP_EVERY steps (per backup lost)
    # before the last step the first start logged (a backup is also
    # written at each epoch end).
    assert [r["step"] for r in first] == list(range(1, len(first) + 1))
    assert len(first) >= killed_at
    resumed_from = second[0]["step"] - 1
    assert len(first) - BACKUP_EVERY * (1 + backups_lost) <= resumed_from <= len(first)
    assert resumed_from % BACKUP_EVERY == 0 or resumed_from % BATCHES_PER_EPOCH == 0
    # Nothing repeated or skipped: the second start goes on to the end.
    assert [r["step"] for r in second] == list(range(resumed_from + 1, steps + 1))
    # Each step trained on the batch it would have had without the kill:
    # the epoch and batch, and the epoch's running loss, are those of the
    # same step in the first start (for the replayed steps) or in the
    # uninterrupted reference run.
    expected = {r["step"]: r for r in (reference or first)}
    for record in second:
        if record["step"] in expected:
            want = expected[record["step"]]
            assert (record["epoch"], record["batch"], record["loss"]) == (
                want["epoch"], want["batch"], want["loss"]), record["step"]
    for record in first + second:
        epoch, batch = divmod(record["step"] - 1, BATCHES_PER_EPOCH)
        assert (record["epoch"], record["batch"]) == (epoch, batch)
    metrics = json.loads((tmp_path / name / "metrics.json").read_text())
    assert metrics["steps"] == steps
    assert metrics["starts"] == 2
    assert metrics["resumed_from_step"] == resumed_from
    assert metrics["epochs_completed"] == steps // BATCHES_PER_EPOCH
    return resumed_from, metrics


def test_a_killed_job_resumes_at_the_batch_after_its_last_backup(tmp_path, tfds_dir):
    # Killed in its second epoch, once the backup at step 15 exists: the
    # restart draws the first epoch's shuffle order without reading it and
    # skips the second epoch's seen batches.
    command = job_command(tmp_path, "run", tfds_dir)
    run_and_kill(command, tmp_path / "run.out", tmp_path / "run.jsonl",
                 kill_after_step=BATCHES_PER_EPOCH + 6)
    run_job(command, tmp_path / "run.out")
    output = (tmp_path / "run.out").read_text()
    assert "[resume] restored" in output
    resumed_from, metrics = check_resumed_run(
        tmp_path, "run", killed_at=BATCHES_PER_EPOCH + 6, steps=2 * BATCHES_PER_EPOCH)
    assert resumed_from > BATCHES_PER_EPOCH
    # The budget went on from the backup's elapsed training time.
    assert 0 < metrics["fit_seconds_all_starts"]


@pytest.mark.slow
def test_resumed_weights_equal_an_uninterrupted_runs_even_after_a_corrupt_backup(
        tmp_path, tfds_dir):
    run_job(job_command(tmp_path, "reference", tfds_dir), tmp_path / "reference.out")
    reference = read_steps(tmp_path / "reference.jsonl")
    assert [r["step"] for r in reference] == list(range(1, 2 * BATCHES_PER_EPOCH + 1))

    command = job_command(tmp_path, "run", tfds_dir)
    run_and_kill(command, tmp_path / "run.out", tmp_path / "run.jsonl",
                 kill_after_step=BATCHES_PER_EPOCH + 8)
    # Spoil the newest backup as a torn write would: the restart must set
    # it aside, say so, and resume from the previous one.
    backups = sorted((tmp_path / "run" / "backup").glob("backup-*"))
    newest = backups[-1]
    newest_step = json.loads((newest / "state.json").read_text())["step"]
    arrays = newest / "variables.npz"
    arrays.write_bytes(arrays.read_bytes()[: arrays.stat().st_size // 2])
    run_job(command, tmp_path / "run.out")
    output = (tmp_path / "run.out").read_text()
    assert f"backup {newest} is corrupt" in output
    assert (newest.parent / (newest.name + ".corrupt")).is_dir()
    resumed_from, _ = check_resumed_run(
        tmp_path, "run", killed_at=BATCHES_PER_EPOCH + 8,
        steps=2 * BATCHES_PER_EPOCH, reference=reference, backups_lost=1)
    assert resumed_from < newest_step
    expected, got = model_weights(tmp_path / "reference"), model_weights(tmp_path / "run")
    assert sorted(got) == sorted(expected)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    # A third start after the run finished trains nothing more.
    run_job(command, tmp_path / "run.out")
    assert "training already complete at step 24" in (tmp_path / "run.out").read_text()
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"] == 24


@pytest.mark.slow
def test_steps_per_epoch_that_spans_passes_resumes_exactly(tmp_path, tfds_dir):
    # 10-step epochs over 12-batch passes: epochs straddle passes. Killed
    # after step 27 (epoch 3, third pass), resumed from the backup at step
    # 25: the rest of epoch 3, then epoch 4 (from 6 batches into the third
    # pass).
    extra = ("--steps-per-epoch", "10")
    run_job(job_command(tmp_path, "reference", tfds_dir, epochs=4, extra=extra),
            tmp_path / "reference.out")
    reference = read_steps(tmp_path / "reference.jsonl")
    assert [(r["epoch"], r["batch"]) for r in reference] == [
        divmod(step, 10) for step in range(40)]
    command = job_command(tmp_path, "run", tfds_dir, epochs=4, extra=extra)
    run_and_kill(command, tmp_path / "run.out", tmp_path / "run.jsonl", kill_after_step=27)
    run_job(command, tmp_path / "run.out")
    records = read_steps(tmp_path / "run.jsonl")
    second = [r for r in records if r["start"] == 2]
    # After the backup at step 25 (at 30 if the kill came late).
    assert second[0]["step"] - 1 in (25, 30)
    assert [r["step"] for r in second] == list(range(second[0]["step"], 41))
    by_step = {r["step"]: r for r in reference}
    for record in second:
        want = by_step[record["step"]]
        assert (record["epoch"], record["batch"], record["loss"]) == (
            want["epoch"], want["batch"], want["loss"])
    expected, got = model_weights(tmp_path / "reference"), model_weights(tmp_path / "run")
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


# === In-process tests of the backup files ===


def small_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"])
    return model


def small_batches():
    """8 batches a pass, reshuffled each pass from a fixed seed."""
    x = np.arange(48, dtype="float32").reshape(16, 3) / 48
    return tf.data.Dataset.from_tensor_slices((x, x[:, :2])).shuffle(16, seed=0).batch(2)


def small_run(directory, epochs=1, callbacks=()):
    model = small_model()
    backup = ResumableBackup(directory, save_every=3)
    history = backup.fit(model, small_batches(), epochs=epochs, make_batches=small_batches,
                         callbacks=callbacks, verbose=0)
    return model, backup, history


def test_a_corrupt_newest_backup_falls_back_to_the_previous_with_a_warning(tmp_path):
    model, _, _ = small_run(tmp_path / "backup")  # 8 steps: backups at 6 and the end
    newest, previous = sorted((tmp_path / "backup").glob("backup-*"), reverse=True)
    previous_state = json.loads((previous / "state.json").read_text())
    assert previous_state["step"] == 6
    corrupt = bytearray((newest / "variables.npz").read_bytes())
    corrupt[-100] ^= 0xFF
    (newest / "variables.npz").write_bytes(bytes(corrupt))
    # A folder left by a kill during a save is ignored and removed.
    (tmp_path / "backup" / ".partial-backup-00000099-1").mkdir()

    restored = ResumableBackup(tmp_path / "backup")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step = restored.restore(model)
    assert step == 6
    assert int(model.optimizer.iterations) == 6
    assert restored.summary()["starts"] == 2
    assert (tmp_path / "backup" / (newest.name + ".corrupt")).is_dir()
    assert not list((tmp_path / "backup").glob(".partial-*"))
    with np.load(previous / "variables.npz") as arrays:
        for index, variable in enumerate(model.variables):
            np.testing.assert_array_equal(variable.numpy(), arrays[f"model/{index:05d}"])


def test_a_reader_that_does_not_write_leaves_the_backups_alone(tmp_path):
    # A non-chief worker restores from the chief's folder, changing nothing.
    model, _, _ = small_run(tmp_path / "backup")
    newest, previous = sorted((tmp_path / "backup").glob("backup-*"), reverse=True)
    (newest / "state.json").write_text("{")
    before = sorted(path.name for path in (tmp_path / "backup").iterdir())
    reader = ResumableBackup(tmp_path / "backup", writes=False)
    assert reader.restore(model) == 6
    reader.save()
    assert sorted(path.name for path in (tmp_path / "backup").iterdir()) == before


def test_when_every_backup_is_corrupt_restore_refuses_to_start_afresh(tmp_path):
    model, _, _ = small_run(tmp_path / "backup")
    for folder in (tmp_path / "backup").glob("backup-*"):
        (folder / "state.json").write_text("{")
    with pytest.raises(RuntimeError, match="refusing to start training again"):
        ResumableBackup(tmp_path / "backup").restore(model)


def test_a_resumed_small_fit_equals_an_uninterrupted_one(tmp_path):
    # Stopped (like a kill) after step 5 of 8 per epoch, 2 epochs.
    class StopAfter(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations) == 5:
                raise KeyboardInterrupt

    reference, _, reference_history = small_run(tmp_path / "reference", epochs=2)
    with pytest.raises(KeyboardInterrupt):
        small_run(tmp_path / "run", epochs=2, callbacks=[StopAfter()])
    class Hooks(keras.callbacks.Callback):
        calls = []

        def on_train_begin(self, logs=None):
            self.calls.append("begin")

        def on_epoch_end(self, epoch, logs=None):
            self.calls.append(epoch)

        def on_train_batch_end(self, batch, logs=None):
            self.calls.append("step")

        def on_train_end(self, logs=None):
            self.calls.append("end")

    resumed, backup, history = small_run(tmp_path / "run", epochs=2, callbacks=[Hooks()])
    assert backup.summary()["resumed_from_step"] == 3
    # The two model.fit calls (the rest of epoch 0, then epoch 1) look like
    # one training to the other callbacks.
    assert Hooks.calls == ["begin"] + ["step"] * 5 + [0] + ["step"] * 8 + [1, "end"]
    assert int(resumed.optimizer.iterations) == 16
    # The epoch means include the batches of the first start: the epoch's
    # metric sums are part of the backup.
    assert history.history == reference_history.history
    assert history.epoch == [0, 1]
    for got, want in zip(resumed.variables, reference.variables):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_time_budget_resumes_with_the_time_that_remained():
    budget = TimeBudget(minutes=1)
    budget.restore_state({"elapsed_seconds": 45.0, "stopped_at": None})
    assert budget.elapsed_seconds() == 45.0
    assert budget.remaining_seconds() == 15.0
    budget.on_train_begin()
    time.sleep(0.05)
    assert 45.05 <= budget.backup_state()["elapsed_seconds"] < 50
    budget.on_train_end()
    assert budget.remaining_seconds() < 15.0 - 0.05


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="save_every"):
        ResumableBackup(tmp_path, save_every=0)
    with pytest.raises(ValueError, match="track"):
        ResumableBackup(tmp_path, track={"budget": 5})
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    unknown = tf.data.Dataset.range(4).filter(lambda x: x > 0)
    with pytest.raises(ValueError, match="known cardinality"):
        ResumableBackup(tmp_path).fit(model, unknown)
