"""`plot_schedule`: the rate (and momentum) an optimizer's schedule applies."""

import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np

from clr_optimizers._plotting._figure import momentum_limits
from clr_optimizers._plotting._figure import rate_panels
from clr_optimizers._plotting._figure import require_matplotlib
from clr_optimizers._plotting._values import applied_values
from clr_optimizers._plotting._values import default_iterations
from clr_optimizers._plotting._values import planned_lengths
from clr_optimizers._plotting._values import schedule_optimizer
from clr_optimizers._policy._reference import reference_learning_rate
from clr_optimizers._validation import ONE_CYCLE
from clr_optimizers._validation import check_axes
from clr_optimizers._validation import check_comparable
from clr_optimizers._validation import check_decay
from clr_optimizers._validation import check_gamma
from clr_optimizers._validation import check_iterations
from clr_optimizers._validation import check_mode
from clr_optimizers._validation import check_plot_length
from clr_optimizers._validation import check_rate
from clr_optimizers._validation import check_schedule_style
from clr_optimizers._validation import check_step_size
from clr_optimizers._validation import check_updates_per_epoch
from clr_optimizers._validation import function_name
from clr_optimizers._validation import validate_clr

X_LABEL = "iteration n (updates)"
Y_LABEL = "learning rate (applied by update n)"
MOMENTUM_LABEL = "momentum (update n)"


def plot_schedule(
    mode: str | None = None,
    base_lr: float | None = None,
    max_lr: float | None = None,
    step_size: int | None = None,
    gamma: float | None = None,
    iterations: int | None = None,
    decay: float = 0.0,
    compare: bool = False,
    ax: Any = None,
    *,
    clr: Mapping[str, Any] | None = None,
    learning_rate: float | None = None,
    updates_per_epoch: float | None = None,
) -> Any:
    """Draws the learning rate (and momentum) an optimizer applies, by update.

    The schedule is given in one of two ways:

    - a cyclical policy by its keywords, `mode`, `base_lr`, `max_lr`,
      `step_size` and `gamma` (the defaults fill those left out);
    - any `clr` dict of the optimizers (see `CyclicalLearningRateMixin`),
      with `learning_rate`, the optimizer's learning rate (the base rate):
      1cycle, an asymmetric cycle (`"step_size_down"`), a custom
      `"scale_fn"`, a warm-up (`"warmup_steps"`, `"warmup_start_lr"`), the
      cycled momentum (`"base_momentum"`, `"max_momentum"`), and lengths that
      a fit plans: in epochs (`{"epochs": x}`, with `updates_per_epoch`) or
      1cycle's `total_steps="auto"` (all of the `iterations` drawn).

    The values drawn are not computed from a formula here: a
    `clr_optimizers.SGD` is built with these settings and its own schedule
    is evaluated at each update (in float64, on the host), as the logging
    callbacks evaluate it: the values an optimizer stepped with these
    settings applies and stores in `current_lr` (and `current_momentum`).
    With the momentum keys, the momentum is drawn in a second panel below
    the rate.

    With `compare=True` the float64 formula, `reference_learning_rate`, is
    drawn over the rate (with `decay`, its base rate is
    `base_lr / (1 + decay * n)`; after a warm-up of `b` updates, it is drawn
    at position `n - b`), and its legend entry gives the largest relative
    difference between the two.

    Thin lines mark `max_lr`, the base rate (with `decay`, the decayed base
    rate, which falls while `max_lr` stays), 1cycle's final rate, the end of
    a warm-up, and the momentum's bounds.

    The lines carry gids, so they can be found in the returned figure:
    `"rate"`, `"reference"` (with `compare=True`), `"max_lr"`, `"base_lr"`,
    `"final_lr"` (1cycle), `"warmup_end"` (a warm-up), and in the momentum
    panel `"momentum"`, `"base_momentum"`, `"max_momentum"`.

    Args:
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`, without
            `clr`. Defaults to None: `"triangular"`.
        base_lr: The bottom of the cycle, a finite number >= 0, without
            `clr`. Defaults to None: `0.001`.
        max_lr: The peak of the cycle, a finite number >= 0, without `clr`.
            Defaults to None: `0.006`.
        step_size: Half the period of the cycle, in updates (a whole number
            > 0), without `clr`. Defaults to None: `2000`.
        gamma: The `"exp_range"` amplitude factor per update, in (0, 1],
            without `clr`. Defaults to None: `1.0`.
        iterations: Number of updates drawn, a whole number in [1, 10**7].
            Defaults to None: 1cycle's `total_steps`, or the warm-up and
            three cycles. Required with `total_steps="auto"`, which spans
            them.
        decay: Time-based decay of the base rate,
            `base = base_lr / (1 + decay * iterations)`; a finite number >= 0.
            Defaults to `0.0`.
        compare: Whether to draw `reference_learning_rate` over the applied
            rate; not for 1cycle. Defaults to `False`.
        ax: A matplotlib `Axes` to draw on; with the momentum keys, a pair
            `(rate_ax, momentum_ax)`, or one Axes whose twin y axis
            (`ax.twinx()`) gets the momentum. Defaults to `None`, which makes
            a new figure (with two panels for the momentum).
        clr: A `clr` dict of the optimizers, in place of `mode`, `base_lr`,
            `max_lr`, `step_size` and `gamma`. Defaults to None.
        learning_rate: The base rate of `clr` (the optimizer's learning
            rate), a finite number >= 0; required with `clr`, and only with
            it. Defaults to None.
        updates_per_epoch: The updates of one epoch, a number > 0, for the
            `clr` lengths given in epochs. Defaults to None.

    Returns:
        The matplotlib `Figure` (the figure of `ax` when `ax` is given). It
        is made without `pyplot`, so nothing is shown until it is saved
        (`fig.savefig("clr.png")`) or displayed in a notebook.

    Raises:
        ImportError: If matplotlib is not installed.
        ValueError, TypeError: If an argument is out of range or of the wrong
            type, the two ways of giving the schedule are mixed, or the
            `clr` dict is invalid (the optimizers' own errors); the message
            names the argument and echoes the received value.

    Examples:
        >>> import clr_optimizers
        >>> fig = clr_optimizers.plot_schedule(
        ...     mode="triangular2", base_lr=0.001, max_lr=0.006, step_size=20,
        ...     compare=True,
        ... )
        >>> [line.get_gid() for line in fig.axes[0].lines]
        ['rate', 'reference', 'max_lr', 'base_lr']

        1cycle with the cycled momentum, drawn below the rate:

        >>> fig = clr_optimizers.plot_schedule(
        ...     learning_rate=0.004,
        ...     clr={"mode": "1cycle", "max_lr": 0.1, "total_steps": 100,
        ...          "base_momentum": 0.85, "max_momentum": 0.95},
        ... )
        >>> rate_ax, momentum_ax = fig.axes
        >>> rate = rate_ax.lines[0].get_ydata()
        >>> round(float(rate[0]), 6), round(float(rate[29]), 6)
        (0.004, 0.1)
        >>> round(float(momentum_ax.lines[0].get_ydata()[29]), 6)
        0.85

        Save it with `fig.savefig("1cycle.png")`.
    """
    classic = {
        key: value
        for key, value in (
            ("mode", mode),
            ("base_lr", base_lr),
            ("max_lr", max_lr),
            ("step_size", step_size),
            ("gamma", gamma),
        )
        if value is not None
    }
    rate = check_schedule_style(clr, learning_rate, classic)
    is_classic = clr is None
    if is_classic:
        clr, rate = _classic_clr(mode, base_lr, max_lr, step_size, gamma)
    config = validate_clr(clr)
    if iterations is not None:
        iterations = check_iterations(iterations)
    decay = check_decay(decay)
    updates_per_epoch = check_updates_per_epoch(updates_per_epoch)
    check_plot_length(config, iterations)
    if compare:
        check_comparable(config)
    momentum = config["base_momentum"] is not None
    axes = check_axes(ax, 2 if momentum else 1)
    require_matplotlib("Drawing a schedule")

    optimizer = schedule_optimizer(
        rate, clr, decay, iterations, updates_per_epoch
    )
    if iterations is None:
        iterations = check_iterations(default_iterations(optimizer))
    rates, momenta = applied_values(optimizer, iterations)
    figure, rate_ax, momentum_ax = rate_panels(
        axes, momentum, "Drawing a schedule"
    )
    lengths = planned_lengths(optimizer)
    n = np.arange(iterations)
    base = rate / (1.0 + decay * n.astype(np.float64))

    rate_ax.plot(
        n,
        rates,
        color="C0",
        linewidth=1.8,
        gid="rate",
        label="rate applied by clr_optimizers.SGD (current_lr)",
    )
    if compare:
        _draw_reference(rate_ax, n, rates, base, config, lengths)
    _draw_bounds(rate_ax, n, base, rate, config, decay, is_classic)
    warmup = lengths["warmup_steps"] or 0
    if warmup:
        _mark_warmup(rate_ax, momentum_ax, warmup)
    rate_ax.set_title(
        _title(clr, config, rate, decay, updates_per_epoch, is_classic),
        fontsize=11,
    )
    rate_ax.set_ylabel(Y_LABEL)
    rate_ax.set_xlim(0, iterations)
    top = max(config["max_lr"], rate, float(np.max(rates)))
    rate_ax.set_ylim(0, top * 1.45 if top > 0 else 1.0)
    rate_ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    rate_ax.grid(alpha=0.3)
    rate_ax.legend(loc="upper right", fontsize=8.5, framealpha=0.9)
    twin = axes is not None and len(axes) == 1
    if momentum_ax is not None:
        _draw_momentum(momentum_ax, n, momenta, config, twin)
        if not twin:
            momentum_ax.set_xlabel(X_LABEL)
    if momentum_ax is None or axes is not None:
        rate_ax.set_xlabel(X_LABEL)
    return figure


def _classic_clr(mode, base_lr, max_lr, step_size, gamma):
    """The `clr` dict and base rate of the keywords, each checked."""
    mode = check_mode("triangular" if mode is None else mode)
    base_lr = check_rate(0.001 if base_lr is None else base_lr, "base_lr")
    max_lr = check_rate(0.006 if max_lr is None else max_lr, "max_lr")
    step_size = check_step_size(2000 if step_size is None else step_size)
    gamma = check_gamma(1.0 if gamma is None else gamma, mode, "gamma")
    clr = {"mode": mode, "step_size": step_size, "max_lr": max_lr}
    if mode == "exp_range":
        clr["clr_gamma"] = gamma
    return clr, base_lr


def _title(clr, config, rate, decay, updates_per_epoch, classic):
    """The policy and its settings."""
    mode = config["mode"]
    if classic:
        settings = [
            f"base_lr={rate:g}",
            f"max_lr={config['max_lr']:g}",
            f"step_size={config['step_size']}",
        ]
        if mode == "exp_range":
            settings.append(f"gamma={config['clr_gamma']:g}")
        heading = f"Cyclical learning rate, mode={mode!r}"
    else:
        settings = [f"learning_rate={rate:g}"]
        for key, value in clr.items():
            if key == "mode":
                continue
            if callable(value):
                value = function_name(value)
            elif isinstance(value, float):
                value = f"{value:g}"
            else:
                value = repr(value)
            settings.append(f"{key}={value}")
        if updates_per_epoch is not None:
            settings.append(f"updates_per_epoch={updates_per_epoch:g}")
        policy = "a custom scale_fn" if mode is None else f"mode={mode!r}"
        heading = f"Learning rate of clr {policy}"
    if decay:
        settings.append(f"decay={decay:g}")
    return heading + "\n" + textwrap.fill(", ".join(settings), width=80)


def _draw_reference(ax, n, rates, base, config, lengths):
    """The float64 formula over the applied rates (after a warm-up, from its
    end), with their largest relative difference."""
    start = lengths["warmup_steps"] or 0
    cycle = n[start:]
    reference = reference_learning_rate(
        cycle - start,
        base[start:],
        config["max_lr"],
        lengths["step_size"],
        config["mode"] or "triangular",
        config["clr_gamma"],
        lengths["step_size_down"],
        config["scale_fn"],
        config["scale_mode"] or "cycle",
    )
    scale = np.maximum(np.abs(reference), np.finfo(np.float64).tiny)
    difference = float(np.max(np.abs(rates[start:] - reference) / scale))
    ax.plot(
        cycle,
        reference,
        color="C1",
        linewidth=1.2,
        linestyle=(0, (4, 3)),
        gid="reference",
        label="reference_learning_rate, float64 "
        f"(max. relative difference {difference:.1e})",
    )


def _draw_bounds(ax, n, base, rate, config, decay, classic):
    """Guides at `max_lr`, at the (decayed) base rate and at 1cycle's final
    rate."""
    max_lr = config["max_lr"]
    guide = {"color": "0.45", "linewidth": 0.9}
    ax.axhline(
        max_lr,
        linestyle=":",
        gid="max_lr",
        label=f"max_lr = {max_lr:g}",
        **guide,
    )
    name = "base_lr" if classic else "learning_rate"
    if decay:
        ax.plot(
            n,
            base,
            linestyle="--",
            gid="base_lr",
            label=f"base rate = {rate:g} / (1 + {decay:g} n)",
            **guide,
        )
    else:
        ax.axhline(
            rate,
            linestyle="--",
            gid="base_lr",
            label=f"{name} = {rate:g}"
            + ("" if classic else " (the base rate)"),
            **guide,
        )
    if config["mode"] == ONE_CYCLE and not decay:
        final = rate / config["final_div_factor"]
        ax.axhline(
            final,
            linestyle="-.",
            gid="final_lr",
            label=f"final rate = learning_rate / final_div_factor = {final:g}",
            **guide,
        )


def _mark_warmup(rate_ax, momentum_ax, warmup):
    """A vertical line at the warm-up's end, the cycle's first update."""
    rate_ax.axvline(
        warmup,
        color="C3",
        linewidth=0.9,
        linestyle=":",
        gid="warmup_end",
        label=f"end of the warm-up (update {warmup})",
    )
    if momentum_ax is not None and momentum_ax is not rate_ax:
        momentum_ax.axvline(warmup, color="C3", linewidth=0.9, linestyle=":")


def _draw_momentum(ax, n, momenta, config, twin):
    """The momentum panel: the applied momentum and its bounds."""
    low, high = config["base_momentum"], config["max_momentum"]
    ax.plot(
        n,
        momenta,
        color="C2",
        linewidth=1.6,
        gid="momentum",
        label="momentum applied by clr_optimizers.SGD (current_momentum)",
    )
    guide = {"color": "0.45", "linewidth": 0.9}
    ax.axhline(
        low,
        linestyle="--",
        gid="base_momentum",
        label=f"base_momentum = {low:g}",
        **guide,
    )
    ax.axhline(
        high,
        linestyle=":",
        gid="max_momentum",
        label=f"max_momentum = {high:g}",
        **guide,
    )
    momentum_limits(ax, momenta, (low, high))
    ax.set_ylabel(MOMENTUM_LABEL)
    ax.grid(alpha=0.3)
    ax.legend(
        loc="lower right" if twin else "upper right",
        fontsize=8.5,
        framealpha=0.9,
    )
