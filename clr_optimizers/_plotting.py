"""All of the package's drawing, with matplotlib.

- `plot_schedule`: the rate a cyclical optimizer applies, update by update
  (the rates come from `applied_rates`).
- `plot_range_test`: a range test's curves and suggestions, behind
  `LRRangeTestResult.plot()`.

matplotlib is an optional dependency (`pip install 'clr_optimizers[plot]'`):
it is imported only when something is drawn, by `require_matplotlib`. The
figures are made without `pyplot`, so nothing is shown until one is saved
or displayed in a notebook.
"""

import math
from typing import Any

import keras
import numpy as np

from clr_optimizers._optimizers import SGD
from clr_optimizers._policy._reference import reference_learning_rate
from clr_optimizers._range_test._rules import DEFAULT_RULE
from clr_optimizers._validation import check_decay
from clr_optimizers._validation import check_gamma
from clr_optimizers._validation import check_iterations
from clr_optimizers._validation import check_mode
from clr_optimizers._validation import check_rate
from clr_optimizers._validation import check_step_size

INSTALL_HINT = "pip install 'clr_optimizers[plot]'"

X_LABEL = "iteration n (updates)"
Y_LABEL = "learning rate (applied by update n)"


def require_matplotlib(what="Drawing a figure"):
    """Imports matplotlib, or raises an ImportError that says how to get it.

    Args:
        what: What needs matplotlib, the subject of the error message.

    Returns:
        The `matplotlib.figure.Figure` class.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            f"{what} needs matplotlib, an optional dependency of "
            f"clr_optimizers. Install it with: {INSTALL_HINT} "
            "(or: pip install matplotlib)"
        ) from error
    return Figure


def applied_rates(
    mode, base_lr, max_lr, step_size, gamma=1.0, iterations=None, decay=0.0
):
    """The rates a `clr_optimizers.SGD` applies, read from `current_lr`.

    Builds `clr_optimizers.SGD(learning_rate=base_lr, clr=..., decay=decay)`
    on a one-element dummy variable, applies `iterations` zero gradients and
    reads `optimizer.current_lr` after each update.

    Args:
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`.
        base_lr: The optimizer's learning rate, the bottom of the cycle.
        max_lr: The peak of the cycle.
        step_size: Half the period of the cycle, in updates.
        gamma: The `"exp_range"` amplitude factor per update. Defaults to
            `1.0`.
        iterations: Number of updates to apply. Defaults to
            `6 * step_size` (three cycles).
        decay: Time-based decay of the base rate. Defaults to `0.0`.

    Returns:
        A float64 NumPy array of length `iterations`; element `n` is the rate
        applied by update `n` (counting from 0).

    Examples:
        >>> from clr_optimizers._plotting import applied_rates
        >>> rates = applied_rates("triangular", 0.001, 0.006, 2, iterations=5)
        >>> [round(float(rate), 6) for rate in rates]  # one cycle
        [0.001, 0.0035, 0.006, 0.0035, 0.001]
    """
    iterations = 6 * step_size if iterations is None else iterations
    clr = {"mode": mode, "step_size": step_size, "max_lr": max_lr}
    if mode == "exp_range":
        clr["clr_gamma"] = gamma
    optimizer = SGD(learning_rate=base_lr, clr=clr, decay=decay)
    variable = keras.Variable(
        np.zeros((1,), keras.backend.floatx()), name="clr_plot_dummy"
    )
    optimizer.build([variable])
    gradient = keras.ops.zeros((1,), dtype=variable.dtype)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        @tf.function
        def run(count):
            rates = tf.TensorArray(optimizer.current_lr.dtype, size=count)
            for i in tf.range(count):
                optimizer.apply([gradient], [variable])
                rates = rates.write(i, optimizer.current_lr)
            return rates.stack()

        return np.asarray(run(tf.constant(iterations)), dtype=np.float64)
    rates = np.empty(iterations, dtype=np.float64)
    for i in range(iterations):
        optimizer.apply([gradient], [variable])
        rates[i] = float(keras.ops.convert_to_numpy(optimizer.current_lr))
    return rates


def plot_schedule(
    mode: str = "triangular",
    base_lr: float = 0.001,
    max_lr: float = 0.006,
    step_size: int = 2000,
    gamma: float = 1.0,
    iterations: int | None = None,
    decay: float = 0.0,
    compare: bool = False,
    ax: Any = None,
) -> Any:
    """Draws the learning rate a cyclical optimizer applies, update by update.

    The drawn rate is not computed from a formula here: a
    `clr_optimizers.SGD` with these settings is stepped on a dummy variable
    and its `current_lr` is read after every update. With `compare=True` the
    float64 formula, `reference_learning_rate`, is drawn over it (with
    `decay`, its base rate is `base_lr / (1 + decay * n)`), and its legend
    entry gives the largest relative difference between the two.

    Thin dotted lines mark `max_lr` and the base rate (with `decay`, the
    decayed base rate, which falls while `max_lr` stays).

    The lines carry gids, so they can be found in the returned figure:
    `"rate"`, `"reference"` (with `compare=True`), `"max_lr"`, `"base_lr"`.

    Args:
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`.
            Defaults to `"triangular"`.
        base_lr: The optimizer's learning rate, the bottom of the cycle; a
            finite number >= 0. Defaults to `0.001`.
        max_lr: The peak of the cycle; a finite number >= 0. Defaults to
            `0.006`.
        step_size: Half the period of the cycle, in updates; a whole number
            > 0. Defaults to `2000`.
        gamma: The `"exp_range"` amplitude factor per update, in (0, 1].
            Defaults to `1.0`.
        iterations: Number of updates drawn. Defaults to `6 * step_size`
            (three cycles).
        decay: Time-based decay of the base rate,
            `base = base_lr / (1 + decay * iterations)`; a finite number >= 0.
            Defaults to `0.0`.
        compare: Whether to draw `reference_learning_rate` over the applied
            rate. Defaults to `False`.
        ax: A matplotlib `Axes` to draw on. Defaults to `None`, which makes a
            new figure with one axes.

    Returns:
        The matplotlib `Figure` (the figure of `ax` when `ax` is given). It
        is made without `pyplot`, so nothing is shown until it is saved
        (`fig.savefig("clr.png")`) or displayed in a notebook.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError, TypeError: If an argument is out of range or of the wrong
            type; the message names it and echoes the received value.

    Examples:
        >>> import clr_optimizers
        >>> fig = clr_optimizers.plot_schedule(
        ...     mode="triangular2", base_lr=0.001, max_lr=0.006, step_size=20,
        ...     compare=True,
        ... )
        >>> [line.get_gid() for line in fig.axes[0].lines]
        ['rate', 'reference', 'max_lr', 'base_lr']

        Save it with `fig.savefig("triangular2.png")`.
    """
    mode = check_mode(mode)
    base_lr = check_rate(base_lr, "base_lr")
    max_lr = check_rate(max_lr, "max_lr")
    step_size = check_step_size(step_size)
    gamma = check_gamma(gamma, mode, "gamma")
    iterations = check_iterations(
        6 * step_size if iterations is None else iterations
    )
    decay = check_decay(decay)
    Figure = require_matplotlib("Drawing a schedule")

    rates = applied_rates(
        mode, base_lr, max_lr, step_size, gamma, iterations, decay
    )
    n = np.arange(iterations)
    base = base_lr / (1.0 + decay * n.astype(np.float64))

    if ax is None:
        fig = Figure(figsize=(8, 4.5), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    ax.plot(
        n,
        rates,
        color="C0",
        linewidth=1.8,
        gid="rate",
        label="rate applied by clr_optimizers.SGD (current_lr)",
    )
    if compare:
        _draw_reference(ax, n, rates, base, max_lr, step_size, mode, gamma)
    _draw_bounds(ax, n, base, base_lr, max_lr, decay)
    settings = [
        f"base_lr={base_lr:g}",
        f"max_lr={max_lr:g}",
        f"step_size={step_size}",
    ]
    if mode == "exp_range":
        settings.append(f"gamma={gamma:g}")
    if decay:
        settings.append(f"decay={decay:g}")
    ax.set_title(
        f"Cyclical learning rate, mode={mode!r}\n" + ", ".join(settings),
        fontsize=11,
    )
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.set_xlim(0, iterations)
    top = max(max_lr, base_lr, float(np.max(rates)))
    ax.set_ylim(0, top * 1.45 if top > 0 else 1.0)
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8.5, framealpha=0.9)
    return fig


def _draw_reference(ax, n, rates, base, max_lr, step_size, mode, gamma):
    """The float64 formula over the applied rates, with their difference."""
    reference = reference_learning_rate(n, base, max_lr, step_size, mode, gamma)
    scale = np.maximum(np.abs(reference), np.finfo(np.float64).tiny)
    difference = float(np.max(np.abs(rates - reference) / scale))
    ax.plot(
        n,
        reference,
        color="C1",
        linewidth=1.2,
        linestyle=(0, (4, 3)),
        gid="reference",
        label="reference_learning_rate, float64 "
        f"(max. relative difference {difference:.1e})",
    )


def _draw_bounds(ax, n, base, base_lr, max_lr, decay):
    """Guides at `max_lr` and at the (decayed) base rate."""
    ax.axhline(
        max_lr,
        color="0.45",
        linewidth=0.9,
        linestyle=":",
        gid="max_lr",
        label=f"max_lr = {max_lr:g}",
    )
    if decay:
        ax.plot(
            n,
            base,
            color="0.45",
            linewidth=0.9,
            linestyle="--",
            gid="base_lr",
            label=f"base rate = {base_lr:g} / (1 + {decay:g} n)",
        )
    else:
        ax.axhline(
            base_lr,
            color="0.45",
            linewidth=0.9,
            linestyle="--",
            gid="base_lr",
            label=f"base_lr = {base_lr:g}",
        )


def plot_range_test(result, path=None):
    """Draws an `LRRangeTestResult`: see `LRRangeTestResult.plot`.

    One row for the loss, and one for the accuracy when there is one, both
    against the learning rate (on a log axis for an exponential sweep).
    """
    Figure = require_matplotlib("`LRRangeTestResult.plot()`")
    rows = 2 if result.accuracies is not None else 1
    figure = Figure(figsize=(7, 3.2 * rows), layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    curves = [("loss", result.raw_losses, result.losses)]
    if result.accuracies is not None:
        curves.append(
            (result.accuracy_name, result.raw_accuracies, result.accuracies)
        )
    for ax, (name, raw, smoothed) in zip(axes, curves):
        ax.plot(result.learning_rates, raw, color="0.75", lw=1, label=name)
        ax.plot(
            result.learning_rates,
            smoothed,
            color="C0",
            lw=2,
            label=f"{name}, smoothed",
        )
        _mark_suggestions(ax, result.suggestions)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    _clip_to_descent(axes[0], result)
    if result.sweep == "exponential":
        axes[-1].set_xscale("log")
    axes[-1].set_xlabel("learning rate")
    axes[0].set_title("Learning rate range test")
    if path is not None:
        figure.savefig(path)
    return figure


def _mark_suggestions(ax, suggestions):
    """A vertical line at each rule's finite rates, the default's thicker."""
    for color, (rule, (base, top)) in enumerate(suggestions.items(), start=1):
        default = " (default)" if rule == DEFAULT_RULE else ""
        for rate, label, style in ((base, "base", ":"), (top, "max", "--")):
            if math.isfinite(rate):
                ax.axvline(
                    rate,
                    color=f"C{color}",
                    ls=style,
                    lw=2 if default else 1,
                    label=f"{rule}{default} {label} = {rate:.3g}",
                )


def _clip_to_descent(ax, result):
    """Limits the loss axis to the descent, clipping the later blow-up."""
    best = result._best_index
    if best is None:
        return
    head = np.concatenate(
        [result.losses[: best + 1], result.raw_losses[: best + 1]]
    )
    head = head[np.isfinite(head)]
    low = np.nanmin(
        np.where(np.isfinite(result.raw_losses), result.raw_losses, np.inf)
    )
    top = head.max()
    if math.isfinite(low) and top > low:
        margin = 0.05 * (top - low)
        ax.set_ylim(low - margin, top + margin)
