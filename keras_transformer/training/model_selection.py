"""Model selection during `fit`: score after each epoch, keep the best, stop.

`EpochEvaluation` runs a task metric (entity F1, exact match, accuracy) on
a validation set after each epoch, keeps the best weights, stops when the
metric stops improving, and puts the best weights back at the end, so the
model that leaves `fit` is the one to score on the test split, once.

`slim_save` writes a `.keras` model without optimizer state: the file to
deploy (AdamW's two moments triple the size of a fine-tuned model).
"""

import math
import os

import keras

from keras_transformer.layers import checks

MODES = ("max", "min")


def slim_save(model, path):
    """Saves `model` as a `.keras` file without its optimizer or compile state.

    The optimizer's moments (twice the weights, for Adam) are what a run
    resumes from, not what a deployment needs. The model keeps its
    optimizer: training may go on after the call.

    Args:
        model: A `keras.Model`.
        path: The file to write, ending in ".keras".

    Returns:
        `path`.

    Example:

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    >>> path = slim_save(model, getfixture("tmp_path") / "model.keras")
    >>> restored = keras.saving.load_model(path)
    >>> restored.compiled, model.compiled
    (False, True)
    """
    if not isinstance(model, keras.Model):
        raise checks.invalid_argument("model", "a `keras.Model`", model)
    if not os.fspath(path).endswith(".keras"):
        raise checks.invalid_argument("path", "a file name ending in '.keras'", path)
    optimizer = getattr(model, "optimizer", None)
    compiled = model.compiled
    model.optimizer = None
    model.compiled = False  # No compile config: nothing rebuilds an optimizer on load.
    try:
        model.save(path)
    finally:
        model.optimizer = optimizer
        model.compiled = compiled
    return path


class EpochEvaluation(keras.callbacks.Callback):
    """Scores the model after each epoch; keeps the best; stops early.

    After each epoch, `evaluate_fn(model)` returns metrics such as
    `{"f1": 0.81, "precision": 0.8, "recall": 0.82}`. They are printed,
    added to the epoch's `logs` as `val_<name>` (so `fit`'s `History` holds
    them), and recorded in `history`. When `monitor` improves on the best so
    far, the weights are copied in memory (and, with `checkpoint_path`,
    saved there by `slim_save`); after `patience` epochs without
    improvement, training stops. When training ends, the best weights are
    put back into the model.

    Args:
        evaluate_fn: `model -> dict[str, float]`, e.g. entity F1 on the
            validation split.
        monitor: The key of the metric that selects the model.
        mode: "max" (higher is better) or "min".
        patience: Epochs without improvement before stopping; `None` never
            stops early.
        checkpoint_path: A ".keras" file for the best model (no optimizer
            state), or `None`.
        print_fn: Where lines go (default: `print`).

    Attributes:
        history: One dict per epoch: `{"epoch": n, **metrics}`, `n` from 1.
        best: The best value of `monitor` (`None` before the first epoch).
        best_epoch: Its epoch, from 1.
        stopped_epoch: The epoch after which training stopped early, or
            `None`.

    Example:

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    >>> x, y = np.ones((8, 1)), 3 * np.ones((8, 1))
    >>> def evaluate(model):
    ...     return {"error": float(abs(model.predict(x[:1], verbose=0)[0, 0] - 3))}
    >>> selection = EpochEvaluation(evaluate, monitor="error", mode="min",
    ...                             print_fn=lambda line: None)
    >>> history = model.fit(x, y, epochs=3, verbose=0, callbacks=[selection])
    >>> len(selection.history), selection.best_epoch
    (3, 3)
    >>> history.history["val_error"][-1] == selection.best
    True
    """

    def __init__(self, evaluate_fn, monitor, mode="max", patience=2,
                 checkpoint_path=None, print_fn=None):
        super().__init__()
        if not callable(evaluate_fn):
            raise checks.invalid_argument(
                "evaluate_fn", "a function model -> dict of metrics", evaluate_fn)
        if not isinstance(monitor, str) or not monitor:
            raise checks.invalid_argument("monitor", "a metric name such as 'f1'", monitor)
        checks.one_of("mode", mode, MODES)
        if patience is not None:
            patience = checks.positive_int("patience", patience)
        if checkpoint_path is not None and not os.fspath(checkpoint_path).endswith(".keras"):
            raise checks.invalid_argument(
                "checkpoint_path", "None or a file name ending in '.keras'", checkpoint_path)
        self.evaluate_fn = evaluate_fn
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.checkpoint_path = checkpoint_path
        self.print_fn = print_fn or print
        self._reset()

    def _reset(self):
        self.history = []
        self.best = None
        self.best_epoch = None
        self.stopped_epoch = None
        self._best_weights = None
        self._wait = 0

    def _improves(self, value):
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        metrics = {name: float(value) for name, value in dict(self.evaluate_fn(self.model)).items()}
        if self.monitor not in metrics:
            raise ValueError(
                f"Received an invalid value for argument `monitor`, expected one of "
                f"the metrics that evaluate_fn returns, {sorted(metrics)}. Received: "
                f"monitor={self.monitor!r}"
            )
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in metrics.items()})
        self.history.append({"epoch": epoch + 1, **metrics})
        value = metrics[self.monitor]
        shown = ", ".join(f"{name} {value:.4f}" for name, value in metrics.items())
        if self._improves(value):
            self.best, self.best_epoch, self._wait = value, epoch + 1, 0
            self._best_weights = self.model.get_weights()
            if self.checkpoint_path is not None:
                slim_save(self.model, self.checkpoint_path)
            self.print_fn(f"[validation] epoch {epoch + 1}: {shown} (best so far)")
            return
        self._wait += 1
        self.print_fn(
            f"[validation] epoch {epoch + 1}: {shown} (best {self.monitor} "
            f"{self.best:.4f} at epoch {self.best_epoch})"
        )
        if self.patience is not None and self._wait >= self.patience:
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True
            self.print_fn(
                f"[validation] no better {self.monitor} for {self._wait} epoch(s): "
                "stopping."
            )

    def on_train_end(self, logs=None):
        if self._best_weights is None:
            return
        last_epoch = self.history[-1]["epoch"]
        if self.best_epoch != last_epoch:
            self.model.set_weights(self._best_weights)
            self.print_fn(
                f"[validation] restored the weights of epoch {self.best_epoch} "
                f"({self.monitor} {self.best:.4f})."
            )
        self._best_weights = None  # The model holds them; free the copy.
