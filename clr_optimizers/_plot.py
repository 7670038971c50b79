"""Drawing a cyclical learning rate schedule with matplotlib.

matplotlib is an optional dependency (`pip install 'clr_optimizers[plot]'`)
and is imported only when a schedule is drawn.
"""


import numpy as np

from clr_optimizers._config import check_decay
from clr_optimizers._config import check_gamma
from clr_optimizers._config import check_rate
from clr_optimizers._config import check_step_size
from clr_optimizers._policy import check_mode
from clr_optimizers._policy import reference_learning_rate

INSTALL_HINT = "pip install 'clr_optimizers[plot]'"

X_LABEL = "iteration n (updates)"
Y_LABEL = "learning rate (applied by update n)"


def require_matplotlib():
    """Imports matplotlib, or raises an ImportError that says how to get it.

    Returns:
        The `matplotlib.figure.Figure` class.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "Drawing a schedule needs matplotlib, an optional dependency of "
            f"clr_optimizers. Install it with: {INSTALL_HINT}"
        ) from error
    return Figure


def check_iterations(value, name="iterations"):
    """A whole number in [1, 10**7] (6000 or 6000.0), as a Python int."""
    return check_step_size(value, name, limit=10**7,
                           what="the number of updates drawn")


def applied_rates(mode, base_lr, max_lr, step_size, gamma=1.0, iterations=None,
                  decay=0.0):
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
    """
    import keras

    from clr_optimizers._optimizers import SGD

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
    mode="triangular",
    base_lr=0.001,
    max_lr=0.006,
    step_size=2000,
    gamma=1.0,
    iterations=None,
    decay=0.0,
    compare=False,
    ax=None,
):
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

    Example:

    >>> fig = clr_optimizers.plot_schedule(
    ...     mode="triangular2", base_lr=0.001, max_lr=0.006, step_size=2000,
    ...     compare=True,
    ... )
    >>> fig.savefig("triangular2.png")
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
    Figure = require_matplotlib()

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
    ax.plot(n, rates, color="C0", linewidth=1.8, gid="rate",
            label="rate applied by clr_optimizers.SGD (current_lr)")
    if compare:
        reference = reference_learning_rate(
            n, base, max_lr, step_size, mode, gamma
        )
        scale = np.maximum(np.abs(reference), np.finfo(np.float64).tiny)
        difference = float(np.max(np.abs(rates - reference) / scale))
        ax.plot(n, reference, color="C1", linewidth=1.2,
                linestyle=(0, (4, 3)), gid="reference",
                label="reference_learning_rate, float64 "
                f"(max. relative difference {difference:.1e})")
    ax.axhline(max_lr, color="0.45", linewidth=0.9, linestyle=":",
               gid="max_lr", label=f"max_lr = {max_lr:g}")
    if decay:
        ax.plot(n, base, color="0.45", linewidth=0.9, linestyle="--",
                gid="base_lr",
                label=f"base rate = {base_lr:g} / (1 + {decay:g} n)")
    else:
        ax.axhline(base_lr, color="0.45", linewidth=0.9, linestyle="--",
                   gid="base_lr", label=f"base_lr = {base_lr:g}")

    settings = [f"base_lr={base_lr:g}", f"max_lr={max_lr:g}",
                f"step_size={step_size}"]
    if mode == "exp_range":
        settings.append(f"gamma={gamma:g}")
    if decay:
        settings.append(f"decay={decay:g}")
    ax.set_title(f"Cyclical learning rate, mode={mode!r}\n"
                 + ", ".join(settings), fontsize=11)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.set_xlim(0, iterations)
    top = max(max_lr, base_lr, float(np.max(rates)))
    ax.set_ylim(0, top * 1.45 if top > 0 else 1.0)
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8.5, framealpha=0.9)
    return fig
