"""Plain-text training progress for logs, where progress bars don't render."""

import time

import keras

from keras_transformer.layers import checks


class ProgressLog(keras.callbacks.Callback):
    """Prints a line every `every` steps: step, rate, elapsed time, metrics.

    Keras's progress bar needs a terminal; with `verbose=2` (what `fit`
    should use when writing to a file or CI log) Keras prints only once per
    epoch, which leaves minutes of silence on a CPU.

    Args:
        every: Steps between lines.
        print_fn: Where lines go (default `print`, flushed).
    """

    def __init__(self, every=50, print_fn=None):
        super().__init__()
        self.every = checks.positive_int("every", every)
        self.print_fn = print_fn or (lambda line: print(line, flush=True))

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._global_step = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._global_step += 1
        if (batch + 1) % self.every:
            return
        elapsed = time.perf_counter() - self._epoch_start
        total = self.params.get("steps")
        of_total = f"/{total}" if total else ""
        metrics = " - ".join(f"{k}: {float(v):.4f}" for k, v in (logs or {}).items())
        self.print_fn(
            f"epoch {self._epoch + 1} step {batch + 1}{of_total} - "
            f"{elapsed / (batch + 1):.2f} s/step - "
            f"{(time.perf_counter() - self._start) / 60:.1f} min elapsed - {metrics}"
        )
