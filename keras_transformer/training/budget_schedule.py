"""A callback that fits a warm-up/decay schedule to a wall-clock budget."""

import collections
import time

import keras

from keras_transformer.layers import checks


class FitScheduleToBudget(keras.callbacks.Callback):
    """Ends a `WarmupLinearDecay` at the last step a time budget allows.

    A time-bounded run does not know its number of steps in advance: it
    depends on the CPU, the model and the load. This callback times the
    steps (after `skip_steps` that include tracing and compilation),
    estimates the total as

        steps done + remaining seconds / recent seconds per step,

    and moves the schedule's decay end there with `schedule.fit_to`. The
    estimate is refreshed every `refit_every` steps, on the seconds per step
    of the last `window` steps, so the decay ends near the step at which the
    budget stops training even when the machine speeds up or slows down. The
    warm-up is set once, from the first estimate, and kept: a later
    estimate never puts the run back into warm-up. The total never grows
    past the schedule's initial `total_steps` (the steps `fit` was asked
    for), so a budget that is not binding leaves the schedule as planned.

    The learning rate of every step is recorded in `learning_rates`, e.g.
    to plot the curve with `plot_learning_rates`.

    Args:
        schedule: A `WarmupLinearDecay` (anything with `fit_to`,
            `total_steps`, `warmup_fraction` and a `__call__(step)`).
        budget: The `TimeBudget` callback that stops the run (its `minutes`
            and, when it has them, `elapsed_seconds()` and
            `remaining_seconds()` are read).
        skip_steps: Steps of this `fit` call not timed (the first includes
            tracing).
        measure_steps: Timed steps before the first estimate.
        refit_every: Steps between estimates.
        window: Steps whose mean time gives the seconds per step.
        print_fn: Where the estimates are reported (default: `print`,
            flushed); `None`-like `lambda line: None` silences them.
    """

    def __init__(self, schedule, budget, skip_steps=2, measure_steps=8,
                 refit_every=25, window=50, print_fn=None):
        super().__init__()
        for name in ("fit_to", "total_steps", "warmup_fraction"):
            if not hasattr(schedule, name):
                raise checks.invalid_argument(
                    "schedule", "a schedule with `fit_to`, `total_steps` and "
                    "`warmup_fraction`, such as WarmupLinearDecay", schedule)
        if not hasattr(budget, "minutes"):
            raise checks.invalid_argument(
                "budget", "a TimeBudget callback (with `minutes`)", budget)
        self.schedule = schedule
        self.budget = budget
        self.skip_steps = checks.non_negative_int("skip_steps", skip_steps)
        self.measure_steps = checks.positive_int("measure_steps", measure_steps)
        self.refit_every = checks.positive_int("refit_every", refit_every)
        self.window = checks.positive_int("window", window)
        self.print_fn = print_fn or (lambda line: print(line, flush=True))
        self.planned_steps = int(schedule.total_steps)
        self.warmup_steps = None
        self.estimates = []  # (step, estimated total steps, seconds per step)
        self.learning_rates = []  # (optimizer step, learning rate used)

    def on_train_begin(self, logs=None):
        self._fit_start = time.perf_counter()
        self._batches = 0
        self._times = collections.deque(maxlen=self.window + 1)

    def _elapsed(self):
        elapsed = getattr(self.budget, "elapsed_seconds", None)
        if callable(elapsed):
            return float(elapsed())
        return time.perf_counter() - self._fit_start

    def _remaining(self):
        remaining = getattr(self.budget, "remaining_seconds", None)
        if callable(remaining):
            return max(0.0, float(remaining()))
        return max(0.0, 60.0 * self.budget.minutes - self._elapsed())

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())  # steps done
        self.learning_rates.append((step - 1, float(self.schedule(step - 1))))
        self._batches += 1
        if self._batches <= self.skip_steps:
            return
        self._times.append((time.perf_counter(), step))
        timed = self._batches - self.skip_steps - 1  # steps between timestamps
        if timed < self.measure_steps:
            return
        if self.warmup_steps is not None and (timed - self.measure_steps) % self.refit_every:
            return
        (first_time, first_step), (last_time, last_step) = self._times[0], self._times[-1]
        seconds_per_step = (last_time - first_time) / max(1, last_step - first_step)
        estimate = step + int(self._remaining() / seconds_per_step)
        total = max(step + 1, min(self.planned_steps, estimate))
        if self.warmup_steps is None:
            # A warm-up length given to the schedule wins over its fraction.
            fixed = getattr(self.schedule, "_fixed_warmup", None)
            self.warmup_steps = (
                fixed if fixed is not None
                else int(round(self.schedule.warmup_fraction * total))
            )
            self.print_fn(
                f"[schedule] {seconds_per_step:.2f} s/step: the "
                f"{self.budget.minutes:g}-minute budget allows about {estimate} "
                f"steps; warm-up {self.warmup_steps} steps, linear decay to step "
                f"{total}"
            )
        self.schedule.fit_to(total, warmup_steps=self.warmup_steps)
        self.estimates.append((step, total, seconds_per_step))


def plot_learning_rates(learning_rates, path, title="learning rate"):
    """Writes a small PNG of `(step, learning rate)` pairs to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    if not learning_rates:
        raise checks.invalid_argument(
            "learning_rates", "a non-empty list of (step, rate) pairs", learning_rates)
    steps, rates = zip(*learning_rates)
    figure, axes = pyplot.subplots(figsize=(4.5, 2.6), dpi=100)
    axes.plot(steps, rates)
    axes.set_xlabel("step")
    axes.set_ylabel("learning rate")
    axes.set_title(title, fontsize=9)
    axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
