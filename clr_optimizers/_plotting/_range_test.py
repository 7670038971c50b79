"""`plot_range_test`: a range test's curves and suggestions."""

import math

import numpy as np

from clr_optimizers._plotting._figure import require_matplotlib
from clr_optimizers._range_test._rules import DEFAULT_RULE


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
