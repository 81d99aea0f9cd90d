"""What the fine-tuning examples share: model selection, slim saving, curves.

`EpochEvaluation` and `save_slim` stand in for the package's model selection
until it lands in `keras_transformer.training`; `LearningRateLog` and
`plot_curves` draw the learning-rate and validation curves of a run.
"""

import math

import keras


class EpochEvaluation(keras.callbacks.Callback):
    """Scores the model after every epoch, keeps the best, stops early.

    `evaluate_fn(model)` returns a dict of scores; each is logged as
    `val_<name>` (so it lands in `History`). The weights of the epoch with
    the best `monitor` are kept in memory and restored when training ends,
    and training stops after `patience` epochs without improvement.

    Args:
        evaluate_fn: `model -> {name: float}`.
        monitor: The name of the score that selects the epoch.
        mode: `"max"` or `"min"`.
        patience: Epochs without improvement before stopping.
        print_fn: Called with one line per epoch (`None`: silent).
    """

    def __init__(self, evaluate_fn, monitor, mode="max", patience=2, print_fn=None):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(
                "Received an invalid value for argument `mode`, expected "
                f"'max' or 'min'. Received: mode={mode!r}"
            )
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(
                "Received an invalid value for argument `patience`, expected "
                f"a positive integer. Received: patience={patience!r}"
            )
        self.evaluate_fn = evaluate_fn
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.print_fn = print_fn
        self.best = None
        self.best_epoch = None
        self.stopped_epoch = None
        self._best_weights = None
        self._wait = 0

    def _better(self, value):
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        scores = self.evaluate_fn(self.model)
        if self.monitor not in scores:
            raise ValueError(
                f"`evaluate_fn` returned no {self.monitor!r} (the `monitor`). "
                f"Received: {sorted(scores)}"
            )
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in scores.items()})
        value = scores[self.monitor]
        improved = self._better(value)
        if improved:
            self.best, self.best_epoch, self._wait = value, epoch, 0
            self._best_weights = [w.numpy() for w in self.model.weights]
        else:
            self._wait += 1
        if self.print_fn:
            shown = ", ".join(f"val_{k} {v:.4g}" for k, v in scores.items())
            self.print_fn(f"[epoch {epoch + 1}] {shown}"
                          f"{' (best so far)' if improved else ''}")
        if self._wait >= self.patience:
            self.model.stop_training = True
            self.stopped_epoch = epoch

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            for variable, value in zip(self.model.weights, self._best_weights):
                variable.assign(value)
            if self.print_fn:
                self.print_fn(f"[selection] restored epoch {self.best_epoch + 1} "
                              f"({self.monitor} {self.best:.4g})")


def save_slim(model, path):
    """Saves `model` as a `.keras` file without its optimizer state."""
    slim = model.__class__.from_config(model.get_config())
    slim.set_weights(model.get_weights())
    slim.save(path)


class LearningRateLog(keras.callbacks.Callback):
    """Records the optimizer's learning rate at every training step."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(
            self.model.optimizer.learning_rate)))


def plot_curves(curves, chosen_epoch, path, title):
    """Plots the learning rate per step and the per-epoch curves to a PNG.

    Args:
        curves: `{"learning_rate": [per step], name: [per epoch], ...}`.
        chosen_epoch: The selected epoch (1-based), marked on the epoch plot.
        path: The PNG to write.
        title: The figure's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rate_axes, epoch_axes) = plt.subplots(1, 2, figsize=(10, 3.8))
    rates = curves["learning_rate"]
    rate_axes.plot(range(1, len(rates) + 1), rates)
    rate_axes.set_xlabel("training step")
    rate_axes.set_ylabel("learning rate")
    rate_axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    rate_axes.set_title("warm-up and linear decay")
    loss_axes = epoch_axes.twinx()
    for name, values in curves.items():
        if name == "learning_rate" or not values:
            continue
        axes = loss_axes if name == "loss" else epoch_axes
        style = "--" if name == "loss" else "-o"
        axes.plot(range(1, len(values) + 1), values, style, label=name)
    loss_axes.set_ylabel("training loss")
    epoch_axes.set_xlabel("epoch")
    epoch_axes.set_ylabel("validation score")
    if chosen_epoch:
        epoch_axes.axvline(chosen_epoch, color="grey", linestyle=":",
                           label=f"chosen epoch {chosen_epoch}")
    lines, labels = [], []
    for axes in (epoch_axes, loss_axes):
        handles = axes.get_legend_handles_labels()
        lines += handles[0]
        labels += handles[1]
    epoch_axes.legend(lines, labels, loc="lower right", fontsize="small")
    num_epochs = max((len(v) for k, v in curves.items() if k != "learning_rate"),
                     default=1)
    epoch_axes.set_xticks(range(1, num_epochs + 1, max(1, math.ceil(num_epochs / 10))))
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
