"""`plot_max_lr_search`: `find_max_lr`'s trials and the peak it chose."""

from clr_optimizers._plotting._figure import require_matplotlib

_RUNG_STYLE = {
    1: {"marker": "o", "color": "C0", "label": "short trials"},
    2: {"marker": "s", "color": "C1", "label": "longer trials"},
}


def plot_max_lr_search(result, path=None):
    """Draws a `FindMaxLRResult`: see `FindMaxLRResult.plot`.

    Each trial's validation score against its peak rate (log axis), one
    marker per rung, diverged trials as crosses at the bottom; a line at the
    chosen `max_lr`.
    """
    Figure = require_matplotlib("`FindMaxLRResult.plot()`")
    figure = Figure(figsize=(7, 3.6), layout="constrained")
    ax = figure.subplots()
    finite = [t.score for t in result.trials if not t.diverged]
    bottom = min(finite) if finite else 0.0
    for rung, style in _RUNG_STYLE.items():
        trials = [t for t in result.trials if t.rung == rung]
        good = [t for t in trials if not t.diverged]
        bad = [t for t in trials if t.diverged]
        if good:
            ax.plot(
                [t.rate for t in good],
                [t.score for t in good],
                ls="-" if rung == 1 else "none",
                lw=1,
                ms=7,
                marker=style["marker"],
                color=style["color"],
                label=f"{style['label']} ({good[0].updates} updates)",
            )
        if bad:
            ax.plot(
                [t.rate for t in bad],
                [bottom] * len(bad),
                ls="none",
                marker="x",
                color=style["color"],
                label=f"{style['label']}, diverged",
            )
    ax.axvline(
        result.max_lr,
        color="C3",
        lw=2,
        label=f"max_lr = {result.max_lr:.3g}",
    )
    if result.trials:
        ax.axvline(
            max(t.rate for t in result.trials),
            color="0.6",
            ls="--",
            lw=1,
            label="highest candidate, from the range test",
        )
    ax.set_xscale("log")
    ax.set_xlabel("peak learning rate of the trial's 1cycle")
    ax.set_ylabel(result.monitor)
    ax.set_title(
        f"find_max_lr: {len(result.trials)} trials, {result.cost} updates "
        f"for a run of {result.run_updates}"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    if path is not None:
        figure.savefig(path)
    return figure
