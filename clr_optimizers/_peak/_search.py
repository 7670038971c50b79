"""`find_max_lr`: choose the peak of a 1cycle for a given run."""

import math
import random
import warnings
from typing import Any

import keras
import numpy as np

from clr_optimizers._callbacks._attachment import driven_optimizer
from clr_optimizers._peak import _plan
from clr_optimizers._peak._data import Validation
from clr_optimizers._peak._data import batches_per_epoch
from clr_optimizers._peak._data import split_validation
from clr_optimizers._peak._result import FindMaxLRResult
from clr_optimizers._peak._trials import TrialRunner
from clr_optimizers._peak._trials import one_cycle_defaults
from clr_optimizers._range_test._data import batch_source
from clr_optimizers._range_test._data import shuffle_seed
from clr_optimizers._range_test._loop import lr_range_test
from clr_optimizers._validation import check_budget
from clr_optimizers._validation import check_compiled_model
from clr_optimizers._validation import check_count
from clr_optimizers._validation import check_monitor
from clr_optimizers._validation import check_monitored
from clr_optimizers._validation import check_run_epochs
from clr_optimizers._validation import check_training_data
from clr_optimizers._validation import check_validation_choice
from clr_optimizers._validation import check_validation_input
from clr_optimizers._validation import check_validation_steps
from clr_optimizers._validation import check_verbose


def find_max_lr(
    model: Any,
    x: Any = None,
    y: Any = None,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    steps_per_epoch: int | None = None,
    validation_data: Any = None,
    validation_split: float = 0.0,
    validation_steps: int | None = None,
    sample_weight: Any = None,
    monitor: str = "val_loss",
    mode: str = "auto",
    budget: float = 2.0,
    seed: int | None = None,
    verbose: int = 1,
) -> FindMaxLRResult:
    """Chooses the peak rate of a 1cycle run by short validated trials.

    Called like `fit`, for the run it prepares: `epochs` epochs of the
    data, then `model.fit(..., callbacks=[result.one_cycle()])`. With `U`
    the run's updates, the search spends at most `budget * U` updates:

    1. A learning rate range test (`lr_range_test`, exponential from 1e-7
       to 10, a tenth of the budget, 30 to 200 steps) finds `top`: the
       rate of the lowest smoothed training loss, or, when the loss did
       not fall by a tenth in the sweep (a plateau), the last rate before
       it rose above its start.
    2. Six candidate peaks, `top * 10 ** (-k / 2)` for `k = 0 ... 5`,
       each train a 1cycle of `L1` updates from the model's current
       weights, on the same batches, and are scored on the validation
       data (`monitor`).
    3. The best two train a 1cycle of `L2 = 3 * L1` updates, scored again
       (successive halving: Jamieson & Talwalkar,
       https://arxiv.org/abs/1502.07943). `L1` spends what the budget
       leaves: `(budget * U - range test) / 12`.
    4. The best of those, `r`, is scaled to the run's length: a shorter
       run's best peak is higher, roughly as `length ** -0.3` (Bjorck et
       al., https://arxiv.org/abs/2409.19913), so
       `max_lr = r * (L2 / U) ** 0.3`.

    The trials use `OneCycle`'s policy at its defaults (its momentum cycle
    too), the policy `result.one_cycle()` trains with. Afterwards the
    model's variables, the optimizer's and the metrics' are as they were,
    as are the compiled train and test functions and NumPy's and Python's
    global random generators (and PyTorch's, on that backend): a `fit`
    after the search trains as one without it.

    Reproducible: with `seed=None` the batch order is drawn from NumPy's
    global generator, which `keras.utils.set_random_seed` seeds.

    Args:
        model: A compiled `keras.Model`, with an optimizer that `OneCycle`
            can drive (any Keras optimizer built with a float learning
            rate, or one of this package's without a `clr` or `decay`).
        x: Training data, as for `fit`: arrays (or a list or dict of
            them), a `tf.data.Dataset`, a `keras.utils.PyDataset` or
            another iterable of batches `(x, y)` or `(x, y,
            sample_weight)`.
        y: Targets, for array data.
        epochs: The epochs of the run the peak is for, an integer >= 1;
            required.
        batch_size: Samples per batch for array data (defaults to 32);
            None for a dataset.
        steps_per_epoch: Batches of an epoch; required for data of
            unknown length.
        validation_data: `(x_val, y_val)` or `(x_val, y_val,
            sample_weight)` arrays, or a dataset of such batches.
        validation_split: With array data and no `validation_data`, the
            fraction of the samples held out, the last ones, as `fit`
            takes them.
        validation_steps: With a dataset as `validation_data`, the number
            of its batches to score (all of them for None).
        sample_weight: Per-sample weights, for array data.
        monitor: The validation value that scores a trial: `"val_loss"`
            or `"val_<metric>"` of a compiled metric. Defaults to
            `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"` (`"max"` for names ending in
            accuracy, acc, auc, precision, recall or r2). Defaults to
            `"auto"`.
        budget: All the search may spend, as a multiple of the run's
            updates. Defaults to `2.0`.
        seed: Seed of the batch order, or None to draw one from NumPy's
            global generator.
        verbose: 0 (silent), 1 or 2 (a `keras.utils.Progbar` over the
            updates spent). Defaults to `1`.

    Returns:
        A `FindMaxLRResult`: `max_lr`, `base_lr`, `trials`, `cost`,
        `plot()` and `one_cycle()`.

    Raises:
        ValueError: For a model that is not compiled, an optimizer
            `OneCycle` cannot drive, no `epochs`, no validation data, data
            of unknown length without `steps_per_epoch`, a budget too small
            for the run, or a `monitor` missing from the validation logs.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import clr_optimizers as co
        >>> keras.utils.set_random_seed(0)
        >>> x = np.random.rand(512, 4).astype("float32")
        >>> y = x @ np.array([[1.0], [-2.0], [3.0], [0.5]], "float32")
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
        >>> result = co.find_max_lr(
        ...     model, x, y, epochs=20, batch_size=32, validation_split=0.25,
        ...     verbose=0,
        ... )
        >>> result.cost <= 2 * result.run_updates  # 20 epochs of 12 batches
        True
        >>> _ = model.fit(x, y, epochs=20, verbose=0,
        ...               callbacks=[result.one_cycle()])
    """
    check_compiled_model(model)
    optimizer = driven_optimizer(model, "find_max_lr")
    epochs = check_run_epochs(epochs)
    steps_per_epoch = check_count(
        steps_per_epoch, "steps_per_epoch", 1, optional=True
    )
    check_training_data(x)
    validation_split = check_validation_choice(
        validation_data, validation_split
    )
    monitor, mode = check_monitor(monitor, mode)
    budget = check_budget(budget)
    check_verbose(verbose)
    if validation_split:
        (x, y, sample_weight), validation_data = split_validation(
            x, y, sample_weight, validation_split
        )
    kind = check_validation_input(validation_data)
    validation_steps = check_validation_steps(
        validation_steps, validation_data, kind
    )
    accumulation = int(optimizer.gradient_accumulation_steps or 1)
    per_epoch = batches_per_epoch(x, y, batch_size, steps_per_epoch)
    run_updates = epochs * per_epoch // accumulation
    budget_updates = int(budget * run_updates)
    sweep = _plan.sweep_steps(budget_updates)
    lengths = _plan.trial_lengths(budget_updates, sweep + 1, run_updates)
    with _NoTrace(model):
        seed = shuffle_seed(seed)
        # Checks the data before anything trains.
        batch_source(x, y, sample_weight, batch_size, True, seed)
        return _search(
            model,
            optimizer,
            data=(x, y, sample_weight, batch_size),
            validate=Validation(
                model, validation_data, batch_size, validation_steps
            ),
            monitor=(monitor, mode),
            plan=(run_updates, sweep, lengths, accumulation),
            seed=seed,
            verbose=verbose,
        )


def _search(model, optimizer, data, validate, monitor, plan, seed, verbose):
    """The range test, then the two rungs of trials (see `find_max_lr`)."""
    x, y, sample_weight, batch_size = data
    run_updates, sweep, (first, second), accumulation = plan
    monitor, mode = monitor
    maximize = mode == "max"
    planned = sweep + 1 + _plan.CANDIDATES * first + _plan.KEPT * second
    progress = _Progress(planned, verbose, monitor)
    with warnings.catch_warnings():
        # A loss still falling at 10 only places the candidates high;
        # the trials judge them.
        warnings.simplefilter("ignore", UserWarning)
        range_test = _range_test(model, data, sweep, seed)
    cost = len(range_test.learning_rates) + 1
    progress.add(cost)

    def batches():
        return batch_source(x, y, sample_weight, batch_size, True, seed)

    trials = []
    runner = TrialRunner(
        model, optimizer, batches, accumulation, validate, monitor
    )
    with runner:
        check_monitored(monitor, validate())
        for rate in _plan.candidate_rates(_top_rate(range_test)):
            trials.append(progress.show(runner.run(rate, first, 1)))
        order = _plan.ranked([t.score for t in trials], maximize)
        kept = [trials[i] for i in order[: _plan.KEPT]]
        kept = [t for t in kept if not t.diverged]
        for trial in kept:
            trials.append(progress.show(runner.run(trial.rate, second, 2)))
    best = _best(trials, maximize, range_test)
    _warn_at_an_edge(best, [t.rate for t in trials if t.rung == 1])
    length = first if best.rung == 1 else second
    progress.done()
    return FindMaxLRResult(
        best_trial_rate=best.rate,
        horizon_factor=_plan.horizon_factor(length, run_updates),
        div_factor=one_cycle_defaults()["div_factor"],
        trials=trials,
        cost=cost + sum(t.updates for t in trials),
        run_updates=run_updates,
        range_test=range_test,
        monitor=monitor,
        mode=mode,
    )


def _range_test(model, data, steps, seed):
    """The exponential range test that places the candidates."""
    x, y, sample_weight, batch_size = data
    return lr_range_test(
        model,
        x,
        y,
        sample_weight=sample_weight,
        batch_size=batch_size,
        min_lr=_plan.SWEEP_MIN_LR,
        max_lr=_plan.SWEEP_MAX_LR,
        steps=steps,
        sweep="exponential",
        seed=seed,
        verbose=0,
    )


def _top_rate(range_test):
    """The highest candidate (`candidate_top`); an error if there is none."""
    rate = _plan.candidate_top(
        range_test.learning_rates, range_test.losses, range_test.raw_losses
    )
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(
            "The range test found no finite loss to place the candidates "
            "by: check the data and the model's loss. "
            f"Received: losses={range_test.raw_losses[:5]!r}..."
        )
    return rate


def _best(trials, maximize, range_test):
    """The best trial of the last rung that has a finite score."""
    for rung in (2, 1):
        scored = [t for t in trials if t.rung == rung and not t.diverged]
        if scored:
            order = _plan.ranked([t.score for t in scored], maximize)
            return scored[order[0]]
    raise ValueError(
        "Every trial of `find_max_lr` diverged, down to "
        f"{min(t.rate for t in trials):.3g} (the highest candidate was "
        f"{max(t.rate for t in trials):.3g}): check the data and the "
        "model, or choose the rate by hand."
    )


def _warn_at_an_edge(best, candidates):
    """Warns when the best peak is the highest or the lowest candidate."""
    if best.rate not in (max(candidates), min(candidates)):
        return
    side = "highest" if best.rate == max(candidates) else "lowest"
    beyond = "higher" if side == "highest" else "lower"
    warnings.warn(
        f"`find_max_lr`'s best peak, {best.rate:.3g}, is its {side} "
        f"candidate: the best peak may be {beyond} still. Check the trials "
        "(`result.plot()`), and the data and model if the trials diverged.",
        stacklevel=3,
    )


class _NoTrace:
    """Puts back the model's compiled functions, its `fit` attributes and
    the global random generators after the search."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        model = self.model
        self.functions = (
            model.train_function,
            model.test_function,
            getattr(model, "stop_training", False),
            getattr(model, "history", None),
        )
        self.metric_variables = {id(v) for v in model.metrics_variables}
        self.numpy_state = np.random.get_state()
        self.python_state = random.getstate()
        self.torch_state = _torch_rng_state()

    def __exit__(self, *exc_info):
        model = self.model
        (
            model.train_function,
            model.test_function,
            model.stop_training,
            model.history,
        ) = self.functions
        # Metrics the search built start as a first `fit` builds them.
        for metric in model.metrics:
            if any(
                id(v) not in self.metric_variables for v in metric.variables
            ):
                metric.reset_state()
        np.random.set_state(self.numpy_state)
        random.setstate(self.python_state)
        if self.torch_state is not None:
            import torch

            torch.random.set_rng_state(self.torch_state)


def _torch_rng_state():
    if keras.backend.backend() != "torch":
        return None
    import torch

    return torch.random.get_rng_state()


class _Progress:
    """Keras's progress bar over the updates the search spends."""

    def __init__(self, planned, verbose, monitor):
        self.done_updates = 0
        self.planned = planned
        self.monitor = monitor
        self.bar = None
        if verbose:
            self.bar = keras.utils.Progbar(
                planned,
                verbose=verbose,
                unit_name="update",
                stateful_metrics=["lr", monitor],
            )

    def add(self, updates, values=None):
        """Counts `updates` more as spent."""
        self.done_updates = min(self.done_updates + updates, self.planned)
        if self.bar is not None:
            self.bar.update(self.done_updates, values=values)

    def show(self, trial):
        """Counts a trial's updates and shows its rate and score."""
        self.add(
            trial.updates, [("lr", trial.rate), (self.monitor, trial.score)]
        )
        return trial

    def done(self):
        """Ends the bar where the search ended."""
        if self.bar is not None:
            self.bar.update(self.done_updates, finalize=True)
