"""Training across processes with `MultiWorkerMirroredStrategy` and `model.fit`.

Each test starts two worker processes on this machine, on free loopback
ports, each with its own `TF_CONFIG`, and one single-process reference run
on the same global batches. Both workers must exit 0, every step's logged
loss must equal the reference's (float32 sums in another order: within
1e-5 relative), and only the chief may leave files behind.

The default-suite test trains the package's `Seq2SeqTransformer` with its
masked loss on hand-made batches (padding, and batch sizes that two replicas
cannot split evenly) with SGD, whose update scales with the gradient, so a
gradient summed or averaged wrongly across workers shows in the weights.
The slow test runs the translation job itself on two workers.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
RELATIVE_TOLERANCE = 1e-5

WORKER_SCRIPT = textwrap.dedent(
    """
    import json, pathlib, sys
    import tensorflow as tf
    from keras_transformer.training import distributed, get_strategy

    mode, out = sys.argv[1], pathlib.Path(sys.argv[2])
    # First, before any TensorFlow op.
    strategy = get_strategy("multi_worker_mirrored" if mode == "worker" else "default")

    import keras
    import numpy as np
    from keras_transformer.models import Seq2SeqTransformer
    from keras_transformer.training import MaskedSparseCrossentropy, MaskedAccuracy

    report = {"chief": distributed.is_chief(), "role": distributed.worker_role()}

    def batches():
        # Sizes 3, 5, 4, 1: odd ones cannot be split evenly over 2 replicas.
        # Rows are padded (0) at different lengths, so the replicas' slices
        # hold different numbers of real tokens.
        rng = np.random.default_rng(7)
        for size, source_length, target_length in [(3, 6, 5), (5, 4, 7), (4, 7, 3), (1, 5, 6)]:
            source = rng.integers(3, 30, (size, source_length)).astype("int32")
            target = rng.integers(3, 30, (size, target_length + 1)).astype("int32")
            for row in range(size):
                source[row, rng.integers(2, source_length + 1):] = 0
                target[row, rng.integers(2, target_length + 2):] = 0
            yield ({"encoder_token_ids": source, "decoder_token_ids": target[:, :-1]},
                   target[:, 1:])

    spec = ({"encoder_token_ids": tf.TensorSpec((None, None), tf.int32),
             "decoder_token_ids": tf.TensorSpec((None, None), tf.int32)},
            tf.TensorSpec((None, None), tf.int32))
    dataset = tf.data.Dataset.from_generator(batches, output_signature=spec)
    if mode == "worker":
        dataset = distributed.split_across_replicas(dataset, strategy)
    else:
        # The reference trains on the same global batches: padded with
        # empty rows to an even size, written out here independently.
        def pad(x, y):
            missing = tf.shape(y)[0] % 2
            x = {k: tf.pad(v, [[0, missing], [0, 0]]) for k, v in x.items()}
            return x, tf.pad(y, [[0, missing], [0, 0]])
        dataset = dataset.map(pad)

    def compiled_model():
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = Seq2SeqTransformer.from_preset(
                "cpu_tiny", encoder_vocabulary_size=30, share_embeddings=True)
            model.compile(keras.optimizers.SGD(0.5),
                          MaskedSparseCrossentropy(label_smoothing=0.1),
                          metrics=[MaskedAccuracy()])
        return model

    if mode == "worker":
        # keras-team/keras#20585, still there: plain fit fails on 2 workers.
        try:
            compiled_model().fit(dataset, epochs=1, verbose=0)
            report["upstream_bug"] = None
        except ValueError as error:
            report["upstream_bug"] = str(error)[:200]

    model = distributed.prepare_multi_worker_fit(compiled_model())
    step_losses = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: step_losses.append(logs["loss"]))
    history = model.fit(dataset, epochs=2, verbose=0, callbacks=[record])
    report.update(step_losses=step_losses, epoch_losses=history.history["loss"],
                  accuracy=history.history["masked_accuracy"])

    # Every worker saves; only the chief's copy lands in `out`.
    target = distributed.worker_output_dir(out / "model.keras")
    target.parent.mkdir(parents=True, exist_ok=True)
    model.save(target)
    report["saved_to"] = str(target)
    distributed.check_same_on_all_workers("settings", b"same on every worker")
    try:
        distributed.check_same_on_all_workers("task ids", str(report["role"]))
        report["mismatch_error"] = None
    except RuntimeError as error:
        report["mismatch_error"] = str(error)
    distributed.remove_worker_output_dirs()
    report["saved_left"] = pathlib.Path(report["saved_to"]).exists()
    print("REPORT " + json.dumps(report, default=lambda value: repr(value)), flush=True)
    """
)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def environment(**extra):
    environ = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    return dict(environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
                CUDA_VISIBLE_DEVICES="", **extra)


def start_workers(command, log_dir, count=2):
    """Starts `count` workers of `command`, each with its TF_CONFIG."""
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(count)]}
    processes = []
    for index in range(count):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        log = open(log_dir / f"worker{index}.log", "w")
        processes.append(subprocess.Popen(
            command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT,
            env=environment(TF_CONFIG=json.dumps(tf_config)),
        ))
    return processes


def wait_all(processes, log_dir, timeout):
    try:
        codes = [process.wait(timeout=timeout) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for index, code in enumerate(codes):
        log = (log_dir / f"worker{index}.log").read_text()
        assert code == 0, f"worker {index} exited with {code}:\n{log[-4000:]}"
    return [(log_dir / f"worker{i}.log").read_text() for i in range(len(processes))]


def report_of(log):
    lines = [line for line in log.splitlines() if line.startswith("REPORT ")]
    assert lines, log[-4000:]
    return json.loads(lines[-1][len("REPORT "):])


def test_two_workers_train_like_one_process_on_the_same_global_batches(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    out = tmp_path / "out"
    workers = start_workers([sys.executable, str(script), "worker", str(out)], tmp_path)
    # The reference runs meanwhile (2 cores: the three processes share them).
    reference = subprocess.run(
        [sys.executable, str(script), "single", str(tmp_path / "reference")],
        cwd=REPOSITORY, capture_output=True, text=True, env=environment(), timeout=300,
    )
    logs = wait_all(workers, tmp_path, timeout=300)
    assert reference.returncode == 0, reference.stdout[-3000:] + reference.stderr[-3000:]
    single = report_of(reference.stdout)
    chief, other = (report_of(log) for log in logs)

    assert chief["chief"] and chief["role"] == ["worker", 0]
    assert not other["chief"] and other["role"] == ["worker", 1]
    assert single["chief"] and single["role"] == [None, None]
    # Plain fit still fails upstream; remove the workaround once it passes.
    for report in (chief, other):
        assert "Attempt to convert a value" in report["upstream_bug"]
    # 4 steps per epoch, 2 epochs.
    assert len(single["step_losses"]) == 8
    for report in (chief, other):
        np.testing.assert_allclose(report["step_losses"], single["step_losses"],
                                   rtol=RELATIVE_TOLERANCE)
        np.testing.assert_allclose(report["epoch_losses"], single["epoch_losses"],
                                   rtol=RELATIVE_TOLERANCE)
        np.testing.assert_allclose(report["accuracy"], single["accuracy"],
                                   rtol=RELATIVE_TOLERANCE)
    # SGD moved the weights: later losses differ from the first.
    assert single["step_losses"][4] != pytest.approx(single["step_losses"][0], rel=1e-3)

    # Only the chief wrote, and the other worker's temporary copy is gone.
    assert sorted(p.name for p in out.iterdir()) == ["model.keras"]
    assert chief["saved_to"] == str(out / "model.keras") and chief["saved_left"]
    assert not other["saved_to"].startswith(str(out)) and not other["saved_left"]
    # Same content passes; different content fails on every worker.
    for report in (chief, other):
        assert "The workers' task ids differ" in report["mismatch_error"]


# === In-process checks of the helpers (no cluster) ===


def tf_config(monkeypatch, task_type, index, chief=False):
    cluster = {"worker": ["localhost:1", "localhost:2"]}
    if chief:
        cluster["chief"] = ["localhost:3"]
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": cluster, "task": {"type": task_type, "index": index}}))


def test_chief_and_worker_output_dirs_follow_tf_config(monkeypatch, tmp_path):
    from keras_transformer.training import distributed

    monkeypatch.setattr(distributed, "_created_strategy", None)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distributed.is_chief() and distributed.worker_role() == (None, None)
    assert distributed.worker_output_dir(tmp_path / "run") == tmp_path / "run"

    tf_config(monkeypatch, "worker", 0)
    assert distributed.is_chief()
    tf_config(monkeypatch, "worker", 0, chief=True)  # a "chief" task outranks worker 0
    assert not distributed.is_chief()
    tf_config(monkeypatch, "chief", 0, chief=True)
    assert distributed.is_chief()

    tf_config(monkeypatch, "worker", 1)
    assert not distributed.is_chief() and distributed.worker_role() == ("worker", 1)
    private = distributed.worker_output_dir(tmp_path / "run" / "model.keras")
    assert private.name == "model.keras" and tmp_path not in private.parents
    assert distributed.worker_output_dir(tmp_path / "run" / "model.keras") == private
    private.write_text("written by worker 1")
    distributed.remove_worker_output_dirs()
    assert not private.exists() and not (tmp_path / "run").exists()


def test_split_across_replicas_pads_batches_with_empty_rows():
    import tensorflow as tf

    from keras_transformer.training import distributed

    class ThreeReplicas:
        num_replicas_in_sync = 3

    x = {"encoder_token_ids": tf.constant([[4, 5, 0], [6, 0, 0]])}
    y = tf.constant([[7, 8], [9, 0]])
    batches = tf.data.Dataset.from_tensors((x, y)).repeat(2)
    split = distributed.split_across_replicas(batches, ThreeReplicas())
    assert split.cardinality() == 2
    assert (split.options().experimental_distribute.auto_shard_policy
            == tf.data.experimental.AutoShardPolicy.DATA)
    padded_x, padded_y = next(iter(split))
    np.testing.assert_array_equal(padded_x["encoder_token_ids"], [[4, 5, 0], [6, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(padded_y, [[7, 8], [9, 0], [0, 0]])

    class OneReplica:
        num_replicas_in_sync = 1

    assert distributed.split_across_replicas(batches, OneReplica()) is batches


def test_single_process_helpers_are_no_ops():
    import keras

    from keras_transformer.training import distributed

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    train_step = model.train_step
    assert distributed.prepare_multi_worker_fit(model) is model
    assert model.train_step == train_step  # not replaced
    distributed.check_same_on_all_workers("anything", b"one process")


# === The translation job on two workers ===


def job_command(tmp_path, name, *extra):
    return [
        sys.executable, "-m", "examples.train_translation",
        "--preset", "cpu_tiny", "--train-split", "train[:200]",
        "--vocabulary-size", "400", "--max-length", "64",
        # One step per epoch: each logged loss is that step's loss alone.
        "--epochs", "3", "--steps-per-epoch", "1",
        "--eval-sentences", "1", "--beam-width", "1", "--num-samples", "0",
        "--mixed-precision", "off", "--data-dir", str(tmp_path / "tfds"),
        "--output-dir", str(tmp_path / name), "--step-log", str(tmp_path / f"{name}.jsonl"),
        *extra,
    ]


def files_under(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                  if path.is_file() and "events.out.tfevents" not in path.name)


@pytest.mark.slow
def test_translation_job_on_two_workers_matches_one_process(tmp_path):
    # The reference first: it also builds the TFDS data the workers read.
    reference = subprocess.run(
        job_command(tmp_path, "single"), cwd=REPOSITORY, capture_output=True, text=True,
        env=environment(), timeout=900,
    )
    assert reference.returncode == 0, reference.stdout[-3000:] + reference.stderr[-3000:]
    workers = start_workers(
        job_command(tmp_path, "multi", "--strategy", "multi_worker_mirrored"), tmp_path)
    logs = wait_all(workers, tmp_path, timeout=1200)
    assert "strategy with 2 replica(s)" in logs[0]

    def losses(name):
        lines = (tmp_path / f"{name}.jsonl").read_text().splitlines()
        return [json.loads(line)["loss"] for line in lines]

    assert len(losses("single")) == 3
    np.testing.assert_allclose(losses("multi"), losses("single"), rtol=RELATIVE_TOLERANCE)
    # The chief wrote what one process writes; the other worker left nothing.
    assert files_under(tmp_path / "multi") == files_under(tmp_path / "single")
    assert "files go to" in logs[1] and "files go to" not in logs[0]
    private = logs[1].split("files go to ")[1].split(" (deleted")[0]
    assert not pathlib.Path(private).exists()
    # Every worker trained the same tokenizer as a lone process does.
    for name in ("tokenizer.model", "tokenizer.json"):
        assert ((tmp_path / "multi" / "tokenizer" / name).read_bytes()
                == (tmp_path / "single" / "tokenizer" / name).read_bytes())
