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
