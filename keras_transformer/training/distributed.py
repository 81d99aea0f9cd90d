"""Multi-worker training: which worker is the chief, and where each one writes.

Under `tf.distribute.MultiWorkerMirroredStrategy` every worker runs the same
program, so every worker would write the same files. The `tf.distribute`
guide prescribes that every worker still performs each save (a save may run
collective ops that all workers must join), the chief into the real path and
the others into a temporary directory that they delete afterwards.
`worker_output_dir` gives each worker that path; `remove_worker_output_dirs`
deletes the temporary ones (it also runs at exit).

The worker's role comes from, in order: the `strategy` argument, the
strategy that `get_strategy` created last in this process, the strategy
whose scope is active, and finally the `TF_CONFIG` environment variable. So
callbacks can call `is_chief()` and `worker_output_dir(path)` with no
arguments.

Example (one process, no cluster: this process is the chief):

>>> is_chief()
True
>>> str(worker_output_dir("artifacts/run"))
'artifacts/run'
"""

import atexit
import hashlib
import pathlib
import shutil
import tempfile

import tensorflow as tf

_created_strategy = None
_temporary_root = None


def remember_strategy(strategy):
    """Records `strategy` as the one whose cluster this process belongs to."""
    global _created_strategy
    _created_strategy = strategy
    return strategy


def _cluster_resolver(strategy):
    if strategy is None:
        strategy = _created_strategy
    if strategy is None and tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        # No multi-worker strategy yet: TF_CONFIG says what it will be.
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    return resolver


def worker_role(strategy=None):
    """Returns `(task_type, task_id)` of this process; `(None, None)` alone."""
    resolver = _cluster_resolver(strategy)
    task_type = resolver.task_type
    if not task_type:
        return None, None
    return task_type, int(resolver.task_id or 0)


def is_chief(strategy=None):
    """Whether this process writes the run's files.

    The chief is the "chief" task when the cluster has one, else worker 0;
    a process outside any cluster is its own chief.

    Args:
        strategy: The `tf.distribute.Strategy` to ask; by default the one
            `get_strategy` made, else the active one, else `TF_CONFIG`.
    """
    resolver = _cluster_resolver(strategy)
    task_type = resolver.task_type
    if not task_type:
        return True
    if task_type == "chief":
        return True
    jobs = resolver.cluster_spec().as_dict()
    return task_type == "worker" and int(resolver.task_id or 0) == 0 and "chief" not in jobs


def worker_output_dir(path, strategy=None):
    """Returns where this worker writes the file or directory `path`.

    The chief gets `path` itself (unchanged, not created). Every other worker
    gets a path of its own under a temporary directory private to this
    process, mirroring `path` (its parent directory is created); the same
    `path` always maps to the same place, and `remove_worker_output_dirs`
    deletes them all.

    Args:
        path: The file or directory the chief writes.
        strategy: As for `is_chief`.
    """
    path = pathlib.Path(path)
    if is_chief(strategy):
        return path
    global _temporary_root
    if _temporary_root is None:
        task_type, task_id = worker_role(strategy)
        _temporary_root = pathlib.Path(
            tempfile.mkdtemp(prefix=f"keras_transformer-{task_type}{task_id}-")
        )
        atexit.register(remove_worker_output_dirs)
    mirrored = _temporary_root / path.resolve().relative_to(path.resolve().anchor)
    mirrored.parent.mkdir(parents=True, exist_ok=True)
    return mirrored


def remove_worker_output_dirs():
    """Deletes the directories `worker_output_dir` made (none on the chief)."""
    global _temporary_root
    if _temporary_root is not None:
        shutil.rmtree(_temporary_root, ignore_errors=True)
        _temporary_root = None


def prepare_multi_worker_fit(model):
    """Lets `model.fit` and `model.evaluate` run across several workers.

    Works around two failures of Keras 3 (3.15) on TensorFlow under
    `tf.distribute.MultiWorkerMirroredStrategy` with two or more workers,
    both in `keras/src/backend/tensorflow/trainer.py`:

    1. keras-team/keras#20585. Before the first step, `_maybe_symbolic_build`
       takes one batch of the distributed dataset, a structure of
       `PerReplica` values, and `strategy.reduce("MEAN", ...)`s the whole
       structure. Across workers the reduce runs collective ops, which take
       one tensor, not a structure, so every worker fails with "Attempt to
       convert a value ({...: PerReplica...}) ... to a Tensor" (a reduce
       could not work anyway: the workers' slices of a global batch may
       differ in shape). The build only needs shapes and dtypes: this model
       builds from this worker's own slice instead.
    2. Then every step fails in `reduce_per_replica`: the step's outputs
       (the metric values, scalars) go through `strategy.reduce("MEAN", v,
       axis=0)`, which needs a batch axis ("Invalid reduction dimension 0
       for input with 0 dimensions"). This model's train and test steps
       return each scalar as a 1-element vector, which that reduce averages
       over the workers back into a scalar.

    Training itself is untouched (plain `model.fit`, the strategy's own
    gradient all-reduce); only this model object is changed. A no-op unless
    the model was created under a strategy with more than one worker (a
    `MultiWorkerMirroredStrategy` alone in its cluster has neither bug).

    Args:
        model: A Keras model created and compiled under the strategy's
            scope. Call again after re-compiling.

    Returns:
        `model`.
    """
    strategy = model.distribute_strategy
    if not _spans_workers(strategy):
        return model
    # The trainer's own hook, bound to this model: called with a plain
    # `data_batch`, it builds from it in the strategy's scope, no reduce.
    build_from_batch = model._maybe_symbolic_build
    train_step = model.train_step
    test_step = model.test_step

    def local_value(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def build_from_local_batch(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, distributed_iterator in iterator:
                data_batch = next(distributed_iterator)
                break
        build_from_batch(data_batch=tf.nest.map_structure(local_value, data_batch))

    def as_vector(value):
        if tf.is_tensor(value) and value.shape.rank == 0:
            return tf.reshape(value, [1])
        return value

    model._maybe_symbolic_build = build_from_local_batch
    model.train_step = lambda data: tf.nest.map_structure(as_vector, train_step(data))
    model.test_step = lambda data: tf.nest.map_structure(as_vector, test_step(data))
    return model


def _spans_workers(strategy):
    """Whether `strategy` has replicas in other processes."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.num_replicas_in_sync > len(strategy.extended.worker_devices)
    )


def split_across_replicas(dataset, strategy):
    """Returns `dataset` ready for `model.fit` under `strategy`, same batches.

    `tf.distribute` treats each batch as a global batch: every worker builds
    the same pipeline (same seed) and each replica takes its slice of every
    batch. Two settings keep the training of one process on the same
    batches:

    - Sharding by data (DATA). The default policy (AUTO) first tries to
      give each worker its own input files, which changes which pairs meet
      in a batch (and fails with fewer files than workers).
    - Equal slices: each batch gets all-zero rows (pure padding) until its
      size is a multiple of the replica count. Keras logs a replica's loss
      weighted by its number of rows, which only gives the global batch's
      loss when the slices are equal; a padding row adds nothing to the
      masked loss, its token count or the metrics. (A batch thus holds up
      to replicas - 1 rows of padding beyond its token budget.)

    Does nothing with one replica.

    Args:
        dataset: Batches whose every tensor has the batch axis first and
            0 as padding, e.g. from `make_translation_batches`.
        strategy: The `tf.distribute.Strategy` that `fit` will run under.
    """
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )

    def pad_rows(*element):
        rows = tf.shape(tf.nest.flatten(element)[0])[0]
        missing = -rows % replicas

        def pad(tensor):
            paddings = [[0, missing]] + [[0, 0]] * (len(tensor.shape) - 1)
            return tf.pad(tensor, paddings)

        return tf.nest.map_structure(pad, element)

    return dataset.map(pad_rows).with_options(options)


def check_same_on_all_workers(name, content, strategy=None):
    """Raises unless every worker passed the same `content` (str or bytes).

    For state each worker derives on its own, such as a tokenizer trained
    from the same texts with the same seed, which must come out identical
    for the workers to train one model. Compares 28-bit digests through
    the strategy's collective ops; a no-op with a single worker.

    Args:
        name: What is compared, for the error message.
        content: This worker's copy, e.g. the tokenizer's saved file.
        strategy: The multi-worker strategy; by default as for `is_chief`.
    """
    if strategy is None:
        strategy = _created_strategy or tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync == 1:
        return
    if isinstance(content, str):
        content = content.encode()
    digest = int(hashlib.sha256(content).hexdigest()[:7], 16)
    local = strategy.run(lambda: tf.constant([digest], tf.int64))
    digests = [int(d) for d in strategy.gather(local, axis=0).numpy()]
    if len(set(digests)) > 1:
        task_type, task_id = worker_role(strategy)
        raise RuntimeError(
            f"The workers' {name} differ (digests by replica: "
            f"{', '.join(f'{d:07x}' for d in digests)}; this worker, {task_type} "
            f"{task_id}: {digest:07x}). Each worker must derive it identically."
        )
