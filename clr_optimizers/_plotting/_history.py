"""`plot_history`: the rate and momentum logged during a fit."""

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from clr_optimizers._plotting._figure import momentum_limits
from clr_optimizers._plotting._figure import rate_panels
from clr_optimizers._validation import check_axes
from clr_optimizers._validation import check_history

UPDATES_LABEL = "optimizer iterations (after the update)"
EPOCHS_LABEL = "epoch (the value logged at its end)"

# Few points are drawn with markers too.
MARKERS_UP_TO = 60


def plot_history(
    history: keras.callbacks.History | Mapping[str, Any],
    ax: Any = None,
    path: Any = None,
) -> Any:
    """Draws the learning rate and momentum logged during a fit.

    Takes what `fit` returns, a `keras.callbacks.History`, whose epoch logs
    hold the rate of each epoch's last update (`"learning_rate"`), or a dict
    of lists such as `clr_optimizers.FitSchedule().update_history`, which
    holds every update (`"iterations"`, `"learning_rate"`). The momentum
    term, when logged (`"momentum"`, or `"beta_1"` of the Adam family and
    Lion), is drawn in a second panel below the rate. A dict without
    `"iterations"` is taken as per-epoch logs (`history.history`); a
    `CyclicLR` callback's `history`, whose rate is `"lr"`, is drawn too.

    The x axis is the optimizer's `iterations` after each update for a dict
    with `"iterations"`, else the epochs, counted from 1 (a History's own
    epoch numbers, plus 1). The lines carry the gids `"rate"` and
    `"momentum"`.

    Args:
        history: A `keras.callbacks.History`, or a dict of lists.
        ax: A matplotlib `Axes` to draw on; with a logged momentum, a pair
            `(rate_ax, momentum_ax)`, or one Axes whose twin y axis
            (`ax.twinx()`) gets the momentum. Defaults to `None`, which makes
            a new figure (with two panels for the momentum).
        path: Where to save the figure (a file name whose suffix gives the
            format, such as `"rates.png"`). Defaults to None: not saved.

    Returns:
        The matplotlib `Figure` (the figure of `ax` when `ax` is given),
        made without `pyplot`.

    Raises:
        ImportError: If matplotlib is not installed.
        TypeError: If `history` is neither a History nor a dict of lists of
            numbers, or `ax` is not an Axes (or a pair).
        ValueError: If no learning rate was logged (add
            `clr_optimizers.FitSchedule()` to the callbacks of `fit`), or the
            lists differ in length.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import clr_optimizers as co
        >>> opt = co.SGD(
        ...     learning_rate=0.01,
        ...     clr={"mode": "1cycle", "max_lr": 0.1, "total_steps": "auto",
        ...          "base_momentum": 0.85, "max_momentum": 0.95},
        ... )
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=opt, loss="mse")
        >>> x, y = np.random.rand(32, 4), np.random.rand(32, 1)
        >>> logged = co.FitSchedule()
        >>> history = model.fit(
        ...     x, y, batch_size=8, epochs=3, verbose=0, callbacks=[logged]
        ... )
        >>> fig = plot_history(logged.update_history)  # every update
        >>> rate_ax, momentum_ax = fig.axes
        >>> rate_ax.lines[0].get_xdata().tolist()
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        >>> fig = plot_history(history)  # each epoch's last update
        >>> fig.axes[0].lines[0].get_xdata().tolist()
        [1, 2, 3]
    """
    logs, rate_key, momentum_key = check_history(history)
    axes = check_axes(ax, 2 if momentum_key else 1)
    figure, rate_ax, momentum_ax = rate_panels(
        axes, momentum_key is not None, "`plot_history`"
    )
    rates = _numbers(logs[rate_key])
    per_update = "iterations" in logs
    if per_update:
        x = np.asarray(logs["iterations"])
    elif isinstance(history, keras.callbacks.History) and len(
        history.epoch
    ) == len(rates):
        x = np.asarray(history.epoch) + 1
    else:
        x = np.arange(1, len(rates) + 1)
    marker = "o" if len(rates) <= MARKERS_UP_TO else None
    rate_ax.plot(
        x,
        rates,
        color="C0",
        linewidth=1.6,
        marker=marker,
        markersize=3,
        gid="rate",
        label=f"{rate_key!r} logged "
        + ("per update" if per_update else "per epoch"),
    )
    rate_ax.set_ylabel("learning rate")
    finite = rates[np.isfinite(rates)]
    top = float(finite.max()) if finite.size else 0.0
    rate_ax.set_ylim(0, top * 1.2 if top > 0 else 1.0)
    rate_ax.grid(alpha=0.3)
    rate_ax.legend(loc="upper right", fontsize=8.5, framealpha=0.9)
    rate_ax.set_title(
        "Learning rate"
        + (f" and {momentum_key}" if momentum_key else "")
        + " logged during the fit, "
        + ("per update" if per_update else "per epoch"),
        fontsize=11,
    )
    x_label = UPDATES_LABEL if per_update else EPOCHS_LABEL
    twin = axes is not None and len(axes) == 1
    if momentum_ax is not None:
        momenta = _numbers(logs[momentum_key])
        momentum_ax.plot(
            x,
            momenta,
            color="C2",
            linewidth=1.6,
            marker=marker,
            markersize=3,
            gid="momentum",
            label=f"{momentum_key!r} logged",
        )
        momentum_limits(momentum_ax, momenta)
        momentum_ax.set_ylabel(momentum_key)
        momentum_ax.grid(alpha=0.3)
        momentum_ax.legend(
            loc="lower right" if twin else "upper right",
            fontsize=8.5,
            framealpha=0.9,
        )
        if not twin:
            momentum_ax.set_xlabel(x_label)
    if momentum_ax is None or axes is not None:
        rate_ax.set_xlabel(x_label)
    if path is not None:
        figure.savefig(path)
    return figure


def _numbers(values):
    """A list of logged numbers (Python, NumPy or backend scalars) as a
    float64 array."""
    return np.asarray([float(value) for value in values], dtype=np.float64)
