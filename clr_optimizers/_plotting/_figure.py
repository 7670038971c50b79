"""The matplotlib guard, and the panels of a rate (and momentum) figure."""

import math

INSTALL_HINT = "pip install 'clr_optimizers[plot]'"


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


def rate_panels(axes, momentum, what):
    """The figure and axes of a rate plot, with a momentum panel or not.

    Args:
        axes: None (a new figure), or the checked `ax` argument
            (`_validation.check_axes`): one Axes, or a pair.
        momentum: Whether there is a momentum to draw. On a single given
            Axes it goes on a twin y axis (`ax.twinx()`).
        what: What is drawn, for the error when matplotlib is missing.

    Returns:
        `(figure, rate_ax, momentum_ax)`; `momentum_ax` is None without
        momentum.
    """
    Figure = require_matplotlib(what)
    if axes is None:
        if momentum:
            figure = Figure(figsize=(8, 6.5), layout="constrained")
            rate_ax, momentum_ax = figure.subplots(
                2, 1, sharex=True, height_ratios=(2, 1)
            )
            return figure, rate_ax, momentum_ax
        figure = Figure(figsize=(8, 4.5), layout="constrained")
        return figure, figure.subplots(), None
    rate_ax = axes[0]
    if not momentum:
        return rate_ax.figure, rate_ax, None
    momentum_ax = axes[1] if len(axes) == 2 else rate_ax.twinx()
    return rate_ax.figure, rate_ax, momentum_ax


def momentum_limits(ax, values, guides=()):
    """y limits around the momentum and its guides, with room for a legend
    (left to matplotlib when nothing is finite)."""
    finite = [float(v) for v in (*values, *guides) if math.isfinite(v)]
    if not finite:
        return
    low, high = min(finite), max(finite)
    span = high - low or max(abs(high), 1e-3) * 0.1
    ax.set_ylim(low - 0.15 * span, high + 0.6 * span)
