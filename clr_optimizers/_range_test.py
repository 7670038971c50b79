"""The learning rate range test (Smith 2015, section 3.3)."""

import math
import numbers
import warnings

import keras
import numpy as np
from keras import ops

from clr_optimizers._callback import override_learning_rate
from clr_optimizers._callback import rate_owner
from clr_optimizers._config import check_rate
from clr_optimizers import _suggest

SWEEPS = ("linear", "exponential")

# The suggestion rules (clr_optimizers/_suggest.py) and the default one.
RULES = _suggest.RULES
DEFAULT_RULE = _suggest.DEFAULT_RULE


class LRRangeTestResult:
    """What `lr_range_test` measured, with the bounds it suggests.

    Attributes:
        learning_rates: float64 NumPy array, the rate of each step (as the
            optimizer applied it, in its float dtype).
        losses: float64 NumPy array, the smoothed training loss after each
            step: a moving average `avg = beta * avg + (1 - beta) * loss`
            started at 0 and bias-corrected, `avg / (1 - beta**k)` after `k`
            steps, so the first values are not pulled towards 0.
        raw_losses: float64 NumPy array, the loss of each step before
            smoothing: the training loss of the next batch, computed with the
            weights just updated at `learning_rates[i]`.
        accuracies: float64 NumPy array, the smoothed accuracy (the same
            average), or None when the model tracks no accuracy metric.
        raw_accuracies: float64 NumPy array, the accuracy before smoothing,
            or None.
        accuracy_name: The name of the accuracy metric in the logs, or None.
        min_loss_lr: The rate at which the smoothed loss is lowest.
        suggestions: dict of each rule's `(base_lr, max_lr)` pair, for the
            rules `"minimum"`, `"valley"`, `"steepest"` and `"accuracy"`
            (see below); a pair of NaN where a rule finds nothing (the
            `"accuracy"` rule without an accuracy metric).
        suggested_max_lr: `max_lr` of the default rule, `DEFAULT_RULE`
            (`"minimum"`).
        suggested_base_lr: `base_lr` of the default rule.
        validation: True when the losses and accuracies are those of the
            fixed held-out batch given as `validation_data`.
        diverged: True when the test stopped early because the smoothed loss
            rose above `divergence_factor` times its lowest value, or was
            not finite.
        sweep: `"linear"` or `"exponential"`.

    The rules (each a closed-form function in `clr_optimizers._suggest`;
    the curves are first cut at the first non-finite loss, then the first
    tenth of the points and the last five are skipped):

    - `"minimum"` (fastai; the default): `max_lr` is a tenth of the rate
      at the smoothed loss' minimum. The loss is lowest just before
      training diverges, so the minimum itself overestimates the largest
      stable rate.
    - `"valley"` (fastai's default): the middle of the longest falling
      stretch of the smoothed loss.
    - `"steepest"` (Lightning, torch-lr-finder, fastai's `steep`): the
      steepest fall of the smoothed loss against log rate.
    - `"accuracy"` (Smith 2017, section 3.3): `base_lr` where the smoothed
      accuracy has made a tenth of its rise, `max_lr` where it has made
      nine tenths (where it stops rising).

    The first three give one rate, `max_lr`, and `base_lr` is a quarter of
    it (the paper: a third or a quarter). The default rule, `"minimum"`, is
    the one that measured best in the rule comparison of `python -m
    clr_optimizers benchmark` on 5 seeds (README, "The suggestion rules").
    Look at `plot()`, which marks every rule's rates, to judge them.
    """

    RULES = RULES
    DEFAULT_RULE = DEFAULT_RULE

    def __init__(
        self,
        learning_rates,
        losses,
        raw_losses,
        accuracies,
        raw_accuracies,
        accuracy_name,
        diverged,
        sweep,
        validation=False,
    ):
        self.learning_rates = np.asarray(learning_rates, dtype=np.float64)
        self.losses = np.asarray(losses, dtype=np.float64)
        self.raw_losses = np.asarray(raw_losses, dtype=np.float64)
        self.accuracies = _optional_array(accuracies)
        self.raw_accuracies = _optional_array(raw_accuracies)
        self.accuracy_name = accuracy_name
        self.diverged = bool(diverged)
        self.sweep = sweep
        finite = np.isfinite(self.losses)
        if finite.any():
            best = int(np.argmin(np.where(finite, self.losses, np.inf)))
            self.min_loss_lr = float(self.learning_rates[best])
        else:
            best = None
            self.min_loss_lr = float("nan")
        self.validation = bool(validation)
        self.suggestions = _suggest.suggest_all(
            self.learning_rates, self.losses, self.accuracies
        )
        self.suggested_base_lr, self.suggested_max_lr = self.suggestions[
            DEFAULT_RULE
        ]
        self._best_index = best

    def suggest(self, rule=DEFAULT_RULE):
        """The `(base_lr, max_lr)` pair of `rule`, one of `RULES`.

        An unknown rule raises a ValueError that names the rules.
        """
        return self.suggestions[_suggest.check_rule(rule)]

    def __repr__(self):
        return (
            f"LRRangeTestResult(steps={len(self.learning_rates)}, "
            f"min_loss_lr={self.min_loss_lr:.4g}, "
            f"suggested_base_lr={self.suggested_base_lr:.4g}, "
            f"suggested_max_lr={self.suggested_max_lr:.4g}, "
            f"diverged={self.diverged})"
        )

    def plot(self, path=None):
        """Draws the loss (and accuracy) against the learning rate.

        Args:
            path: None, or a file path to save the figure to (the format
                follows the extension, e.g. `.png`, `.pdf`).

        Returns:
            The `matplotlib.figure.Figure`.

        Example:

        >>> result = clr_optimizers.lr_range_test(model, x, y, ...)
        >>> result.plot("range_test.png")
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as error:
            raise ImportError(
                "`LRRangeTestResult.plot()` needs matplotlib: "
                "`pip install matplotlib`."
            ) from error
        rows = 2 if self.accuracies is not None else 1
        figure = Figure(figsize=(7, 3.2 * rows), layout="constrained")
        axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
        curves = [("loss", self.raw_losses, self.losses)]
        if self.accuracies is not None:
            curves.append(
                (self.accuracy_name, self.raw_accuracies, self.accuracies)
            )
        for ax, (name, raw, smoothed) in zip(axes, curves):
            ax.plot(self.learning_rates, raw, color="0.75", lw=1, label=name)
            ax.plot(
                self.learning_rates, smoothed, color="C0", lw=2,
                label=f"{name}, smoothed",
            )
            for color, (rule, (base, top)) in enumerate(
                self.suggestions.items(), start=1
            ):
                default = " (default)" if rule == DEFAULT_RULE else ""
                for rate, label, style in (
                    (base, "base", ":"), (top, "max", "--"),
                ):
                    if math.isfinite(rate):
                        ax.axvline(
                            rate, color=f"C{color}", ls=style,
                            lw=2 if default else 1,
                            label=f"{rule}{default} {label} = {rate:.3g}",
                        )
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            ax.legend(fontsize="x-small")
        if self._best_index is not None:
            # Show the whole descent; clip the blow-up after the minimum.
            head = np.concatenate(
                [
                    self.losses[: self._best_index + 1],
                    self.raw_losses[: self._best_index + 1],
                ]
            )
            head = head[np.isfinite(head)]
            low = np.nanmin(
                np.where(np.isfinite(self.raw_losses), self.raw_losses, np.inf)
            )
            top = head.max()
            if math.isfinite(low) and top > low:
                margin = 0.05 * (top - low)
                axes[0].set_ylim(low - margin, top + margin)
        if self.sweep == "exponential":
            axes[-1].set_xscale("log")
        axes[-1].set_xlabel("learning rate")
        axes[0].set_title("Learning rate range test")
        if path is not None:
            figure.savefig(path)
        return figure


def _optional_array(values):
    if values is None:
        return None
    return np.asarray(values, dtype=np.float64)


def _check_int(value, name, minimum):
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def _is_array_data(x):
    leaves = keras.tree.flatten(x)
    return bool(leaves) and all(
        hasattr(leaf, "shape") and len(leaf.shape) >= 1 for leaf in leaves
    )


def _array_batches(x, y, sample_weight, batch_size, shuffle, seed):
    """Endless batches of arrays, reshuffled at every pass."""
    data = keras.tree.map_structure(
        lambda a: None if a is None else np.asarray(ops.convert_to_numpy(a)),
        (x, y, sample_weight),
    )
    leaves = [a for a in keras.tree.flatten(data) if a is not None]
    sizes = {int(a.shape[0]) if a.ndim else 0 for a in leaves}
    if len(sizes) != 1:
        raise ValueError(
            "`x`, `y` and `sample_weight` must have the same number of "
            f"samples. Received: sizes {sorted(sizes)}"
        )
    (size,) = sizes
    if size == 0:
        raise ValueError("`x` must hold at least one sample. Received: 0")
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(size) if shuffle else np.arange(size)
        for start in range(0, size, batch_size):
            index = order[start : start + batch_size]
            yield keras.tree.map_structure(
                lambda a: None if a is None else a[index], data
            )


def _native(batch):
    """A batch for this backend: JAX and PyTorch take NumPy arrays where a
    `tf.data.Dataset` yields TensorFlow tensors."""
    if keras.backend.backend() == "tensorflow":
        return batch
    return keras.tree.map_structure(
        lambda t: t if t is None else np.asarray(t), batch
    )


def _dataset_batches(dataset):
    """Batches of an iterable, restarted when exhausted if it can be."""
    while True:
        iterator = iter(dataset)
        empty = True
        for element in iterator:
            empty = False
            if isinstance(element, tuple):
                yield _native(keras.utils.unpack_x_y_sample_weight(element))
            else:
                yield _native((element, None, None))
        if empty or iterator is dataset:
            raise ValueError(
                "The data ran out before the range test finished: pass more "
                "data (or a `tf.data.Dataset`, which restarts) or fewer "
                f"`steps`. Received: x={dataset!r}"
            )


def _snapshot(variables):
    return [(v, np.array(ops.convert_to_numpy(v))) for v in variables]


def _restore(snapshot):
    for variable, value in snapshot:
        variable.assign(value)


def lr_range_test(
    model,
    x,
    y=None,
    *,
    min_lr,
    max_lr,
    steps=100,
    batch_size=None,
    sample_weight=None,
    sweep="linear",
    beta=0.98,
    divergence_factor=4.0,
    shuffle=True,
    seed=None,
    verbose=1,
    validation_data=None,
):
    """The learning rate range test, to choose `base_lr` and `max_lr`.

    Section 3.3 of Smith, "Cyclical Learning Rates for Training Neural
    Networks" (https://arxiv.org/abs/1506.01186): train for a few steps while
    the learning rate rises from `min_lr` to `max_lr`, and watch the loss
    (and accuracy) fall, flatten and blow up. The test stops early once the
    smoothed loss exceeds `divergence_factor` times its lowest value (or is
    not finite). Afterwards the model's variables (weights, non-trainable
    state, random seeds), the optimizer's variables (iterations, slots,
    learning rate) and the metrics are restored to what they were, so
    training can start from the same point with the chosen bounds.

    The model must be compiled: the test trains with the model's optimizer
    and loss, one `train_on_batch` per step, and sets the optimizer's
    learning rate to the swept value (any Keras optimizer, plain or of
    clr_optimizers, cycle or schedule included: they are bypassed during the
    test). Test with the optimizer you will train with. Requires the
    TensorFlow backend.

    The rates: `min_lr + (max_lr - min_lr) * i / (steps - 1)` for
    `sweep="linear"` (as in the paper), or
    `min_lr * (max_lr / min_lr)**(i / (steps - 1))` for
    `sweep="exponential"` (use about 10 steps or more per factor 10).
    See `LRRangeTestResult` for what is recorded and for the rule behind
    `suggested_base_lr` and `suggested_max_lr`.

    Args:
        model: A compiled `keras.Model`.
        x: Input data: a NumPy array or tensor (or a list or dict of them),
            or a `tf.data.Dataset` or other iterable of batches
            `(x, y)` or `(x, y, sample_weight)` (restarted when exhausted).
        y: Targets, like `x`, for array data. Defaults to None.
        min_lr: The first rate; a finite number >= 0 (> 0 for
            `sweep="exponential"`).
        max_lr: The last rate; a finite number > `min_lr`.
        steps: The number of rates (and training steps), an integer >= 2.
            Defaults to `100`.
        batch_size: Samples per step for array data (defaults to 32); must
            be None for a dataset, which is batched already.
        sample_weight: Optional per-sample weights for array data.
        sweep: `"linear"` or `"exponential"`. Defaults to `"linear"`.
        beta: Smoothing factor of the loss' moving average, in [0, 1); 0
            disables smoothing. Defaults to `0.98`.
        divergence_factor: Stop once the smoothed loss exceeds this many
            times its lowest value; a number > 1, or None to run all
            `steps` (a non-finite loss stops the test regardless). The ratio
            test applies while the lowest loss is > 0. Defaults to `4.0`.
        shuffle: Whether to shuffle array data (at every pass).
            Defaults to True.
        seed: Seed of the shuffling. Defaults to None.
        verbose: 0 (silent) or 1 (a `keras.utils.Progbar`). Defaults to `1`.
        validation_data: None, or a fixed held-out batch `(x_val, y_val)` or
            `(x_val, y_val, sample_weight)`: each step's loss and accuracy
            are then those of this batch (`test_on_batch`), evaluated with
            the weights just updated, as in the paper's figures (validation
            accuracy), instead of the next training batch's. Defaults to
            None.

    Returns:
        An `LRRangeTestResult`.

    Example:

    >>> model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
    >>> result = clr_optimizers.lr_range_test(
    ...     model, x, y, min_lr=1e-4, max_lr=1.0, steps=100, batch_size=64
    ... )
    >>> result.suggested_base_lr, result.suggested_max_lr
    >>> result.plot("range_test.png")
    >>> clr = clr_optimizers.CyclicLR(
    ...     base_lr=result.suggested_base_lr,
    ...     max_lr=result.suggested_max_lr,
    ...     step_size=2000,
    ... )
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model. Received: model={model!r}"
        )
    if not getattr(model, "compiled", False) or model.optimizer is None:
        raise ValueError(
            "`model` must be compiled with an optimizer and a loss: call "
            "`model.compile(optimizer=..., loss=...)` first. "
            f"Received: model={model.name!r}, which is not compiled"
        )
    optimizer = rate_owner(model.optimizer, "lr_range_test")
    min_lr = check_rate(min_lr, "min_lr")
    max_lr = check_rate(max_lr, "max_lr")
    if min_lr >= max_lr:
        raise ValueError(
            "`min_lr` must be smaller than `max_lr`. "
            f"Received: min_lr={min_lr!r}, max_lr={max_lr!r}"
        )
    steps = _check_int(steps, "steps", 2)
    if sweep not in SWEEPS:
        raise ValueError(
            f"`sweep` must be one of {', '.join(repr(s) for s in SWEEPS)}. "
            f"Received: sweep={sweep!r}"
        )
    if sweep == "exponential" and min_lr == 0:
        raise ValueError(
            "`min_lr` must be > 0 for sweep='exponential'. "
            f"Received: min_lr={min_lr!r}"
        )
    if (
        not isinstance(beta, numbers.Real)
        or isinstance(beta, bool)
        or not 0 <= beta < 1
    ):
        raise ValueError(f"`beta` must be in [0, 1). Received: beta={beta!r}")
    if divergence_factor is not None and (
        not isinstance(divergence_factor, numbers.Real)
        or isinstance(divergence_factor, bool)
        or not divergence_factor > 1
        or not math.isfinite(divergence_factor)
    ):
        raise ValueError(
            "`divergence_factor` must be a finite number > 1, or None. "
            f"Received: divergence_factor={divergence_factor!r}"
        )
    if verbose not in (0, 1, 2):
        raise ValueError(
            f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}"
        )
    if x is None:
        raise ValueError("`x` must hold the training data. Received: x=None")
    if validation_data is not None and (
        not isinstance(validation_data, (tuple, list))
        or len(validation_data) not in (2, 3)
    ):
        raise ValueError(
            "`validation_data` must be None or a tuple `(x_val, y_val)` or "
            "`(x_val, y_val, sample_weight)`. Received: "
            f"validation_data={validation_data!r}"
        )
    if _is_array_data(x):
        if batch_size is None:
            batch_size = 32
        batch_size = _check_int(batch_size, "batch_size", 1)
        batches = _array_batches(x, y, sample_weight, batch_size, shuffle, seed)
    else:
        for name, value in (
            ("y", y),
            ("sample_weight", sample_weight),
            ("batch_size", batch_size),
        ):
            if value is not None:
                raise ValueError(
                    f"`{name}` must be None when `x` is a dataset or an "
                    f"iterable of batches. Received: {name}={value!r}"
                )
        batches = _dataset_batches(x)

    fraction = np.arange(steps, dtype=np.float64) / (steps - 1)
    if sweep == "linear":
        rates = min_lr + (max_lr - min_lr) * fraction
    else:
        rates = min_lr * (max_lr / min_lr) ** fraction
    # The rate is a schedule of the optimizer's own `iterations`, which every
    # backend's trainer carries (JAX's compiled step reads any other
    # variable as a constant): step i applies rates[i], the extra last step
    # (it measures the last loss) 0.
    rate_table = keras.Variable(
        np.append(rates, 0.0), name="range_test_rates",
        dtype=keras.backend.floatx(), trainable=False,
    )
    # The rates as the optimizer applies them, in its float dtype.
    applied = np.asarray(rates, dtype=keras.backend.floatx()).astype(
        np.float64
    )

    # Build everything the first step would create, then snapshot it all.
    first = next(batches)
    if not model.built:
        model(first[0])
    if not optimizer.built or not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    state = _snapshot(
        list(model.variables)
        + list(model.optimizer.variables)
        + list(model.metrics_variables)
    )

    raw_losses, losses, raw_acc, acc = [], [], [], []
    accuracy_name = None
    diverged = False
    progbar = None
    if verbose:
        progbar = keras.utils.Progbar(
            steps, verbose=verbose, stateful_metrics=["lr", "loss"]
        )

    first_iteration = int(ops.convert_to_numpy(optimizer.iterations))

    def rate():
        iterations = optimizer.iterations
        index = ops.clip(
            iterations - ops.cast(first_iteration, iterations.dtype), 0, steps
        )
        return ops.take(rate_table, index)

    remove_override = override_learning_rate(optimizer, rate, lr_range_test)
    loss_avg = acc_avg = 0.0
    best = math.inf
    try:
        model.make_train_function(force=True)
        batch = first
        # Step i applies rates[i]; the loss after it is the loss of the
        # forward pass of step i + 1, so one more step measures the last.
        # With validation_data, the held-out batch is evaluated before step
        # i + 1, with the weights step i left.
        for i in range(steps + 1):
            # Per-batch metrics: Keras before 3.12 does not reset them in
            # train_on_batch and test_on_batch.
            if validation_data is not None and i > 0:
                model.reset_metrics()
                held_out = model.test_on_batch(
                    *validation_data, return_dict=True
                )
            if i < steps or validation_data is None:
                model.reset_metrics()
                logs = model.train_on_batch(*batch, return_dict=True)
            if i < steps:
                batch = next(batches)
            if validation_data is not None and i > 0:
                logs = held_out
            if i == 0:
                if accuracy_name is None:
                    accuracy_name = _accuracy_key(logs)
                continue
            k = i  # Number of losses seen, with this one.
            raw = float(logs["loss"])
            raw_losses.append(raw)
            loss_avg = beta * loss_avg + (1 - beta) * raw
            smoothed = loss_avg / (1 - beta**k)
            losses.append(smoothed)
            if accuracy_name is not None:
                value = float(logs[accuracy_name])
                raw_acc.append(value)
                acc_avg = beta * acc_avg + (1 - beta) * value
                acc.append(acc_avg / (1 - beta**k))
            if progbar is not None:
                progbar.update(
                    k, values=[("lr", applied[k - 1]), ("loss", smoothed)]
                )
            if not math.isfinite(smoothed) or (
                divergence_factor is not None
                and best > 0
                and smoothed > divergence_factor * best
            ):
                diverged = True
                break
            best = min(best, smoothed)
    finally:
        remove_override()
        _restore(state)
        # The traced train function reads the test's rate: retrace.
        model.train_function = None
    if progbar is not None and len(losses) < steps:
        progbar.update(
            len(losses),
            values=[("lr", applied[len(losses) - 1]), ("loss", losses[-1])],
            finalize=True,
        )

    count = len(losses)
    result = LRRangeTestResult(
        learning_rates=applied[:count],
        losses=losses,
        raw_losses=raw_losses,
        accuracies=acc if accuracy_name is not None else None,
        raw_accuracies=raw_acc if accuracy_name is not None else None,
        accuracy_name=accuracy_name,
        diverged=diverged,
        sweep=sweep,
        validation=validation_data is not None,
    )
    _warn_if_inconclusive(result)
    return result


def _accuracy_key(logs):
    for key in ("accuracy", "acc"):
        if key in logs:
            return key
    for key in logs:
        if key.endswith("accuracy"):
            return key
    return None


def _warn_if_inconclusive(result):
    best = result._best_index
    if best is None:
        warnings.warn(
            "The range test recorded no finite loss: lower `min_lr`.",
            stacklevel=3,
        )
    elif best == 0:
        warnings.warn(
            "The smoothed loss was lowest at the first rate "
            f"({result.learning_rates[0]:.4g}): the suggestion is unreliable."
            " Rerun with a lower `min_lr` (or more `steps`).",
            stacklevel=3,
        )
    elif not result.diverged and best == len(result.losses) - 1:
        warnings.warn(
            "The smoothed loss was still falling at the last rate "
            f"({result.learning_rates[-1]:.4g}): the suggestion is a lower "
            "bound. Rerun with a higher `max_lr`.",
            stacklevel=3,
        )
