"""Micro-batching: concurrent requests to one signature run as one batch."""

import collections
import queue
import threading

import numpy as np

_STOP = object()


class _Job:
    def __init__(self, arrays):
        self.arrays = arrays
        self.rows = len(next(iter(arrays.values())))
        self.done = threading.Event()
        self.outputs = None
        self.error = None


class MicroBatcher:
    """Runs the requests that wait for one signature together.

    A worker thread takes the first waiting request and every request that
    queued behind it, up to `max_batch_size` rows (and, with
    `max_wait_s > 0`, waits that long for more), runs them as one batch and
    hands each request its rows. At low load a request runs alone and
    waits for nothing; under load the model runs fewer, larger batches,
    which is where the throughput comes from. Decoding one row never
    depends on the others (padding is masked), so batching changes no
    answer beyond float rounding.

    Id inputs of different lengths are right-padded with `pad_id` to the
    longest. If a combined batch fails, its requests are retried one by one
    so that one bad request cannot fail the others.

    Args:
        run: `run(arrays) -> outputs`, dicts of arrays whose first axis is
            the batch.
        max_batch_size: Most rows per run.
        max_wait_s: How long to wait for more requests once one arrived.
        pad_id: Padding of 2-D id inputs.
        name: The worker thread's name.

    Example:

    >>> batcher = MicroBatcher(lambda arrays: {"y": arrays["x"] * 2}, max_batch_size=8)
    >>> batcher.submit({"x": np.array([1, 2])})["y"].tolist()
    [2, 4]
    >>> batcher.close()
    """

    def __init__(self, run, max_batch_size, max_wait_s=0.0, pad_id=0, name="batcher"):
        self._run = run
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.pad_id = pad_id
        self._queue = queue.Queue()
        self._carry = collections.deque()
        self.batches_run = 0
        self.rows_run = 0
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, arrays):
        """Runs `arrays` (as part of a batch); blocks; returns its outputs."""
        job = _Job(arrays)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.outputs

    def close(self):
        """Stops the worker after the requests already queued."""
        self._queue.put(_STOP)
        self._thread.join()
        # Requests that arrived after the stop get an answer, not a hang.
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not _STOP:
                job.error = RuntimeError("The server is shutting down.")
                job.done.set()

    # === Worker ===

    def _work(self):
        while True:
            first = self._carry.popleft() if self._carry else self._queue.get()
            if first is _STOP:
                return
            jobs, rows = [first], first.rows
            while rows < self.max_batch_size:
                try:
                    job = self._queue.get(timeout=self.max_wait_s) if self.max_wait_s \
                        else self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP or rows + job.rows > self.max_batch_size:
                    # Runs first next time round.
                    self._carry.append(job)
                    break
                jobs.append(job)
                rows += job.rows
            self._run_jobs(jobs)

    def _run_jobs(self, jobs):
        try:
            if len(jobs) == 1:
                jobs[0].outputs = self._run(jobs[0].arrays)
            else:
                outputs = self._run(self._merge([job.arrays for job in jobs]))
                start = 0
                for job in jobs:
                    job.outputs = {
                        name: value[start : start + job.rows]
                        for name, value in outputs.items()
                    }
                    start += job.rows
            self.batches_run += 1
            self.rows_run += sum(job.rows for job in jobs)
        except Exception as error:  # Reported to the waiting request(s).
            if len(jobs) == 1:
                jobs[0].error = error
            else:
                for job in jobs:
                    self._run_jobs([job])
                return
        for job in jobs:
            job.done.set()

    def _merge(self, arrays_list):
        merged = {}
        for name in arrays_list[0]:
            parts = [arrays[name] for arrays in arrays_list]
            if parts[0].ndim == 2:
                width = max(part.shape[1] for part in parts)
                parts = [
                    np.pad(part, ((0, 0), (0, width - part.shape[1])),
                           constant_values=self.pad_id)
                    for part in parts
                ]
            merged[name] = np.concatenate(parts, axis=0)
        return merged
