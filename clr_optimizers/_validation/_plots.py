"""The plots' arguments: `plot_schedule`'s two styles, `plot_history`."""

from collections.abc import Mapping

import keras

from clr_optimizers._validation._clr import AUTO
from clr_optimizers._validation._clr import ONE_CYCLE
from clr_optimizers._validation._numbers import check_rate


def check_schedule_style(clr, learning_rate, classic):
    """One way of giving `plot_schedule` a schedule, returning the base rate.

    Either a `clr` dict with `learning_rate` (the base rate), or the keywords
    of a cyclical policy (`mode`, `base_lr`, `max_lr`, `step_size`,
    `gamma`), never both.

    Args:
        clr: The `clr` argument, None or a dict (checked later).
        learning_rate: The `learning_rate` argument.
        classic: Dict of the policy keywords given (not None).

    Returns:
        `learning_rate` as a Python float, or None without `clr`.
    """
    if clr is None:
        if learning_rate is not None:
            raise ValueError(
                "`learning_rate` is the base rate of a `clr` dict: give it "
                "with `clr`, or give the base rate as `base_lr`. Received: "
                f"learning_rate={learning_rate!r}, clr=None"
            )
        return None
    if classic:
        given = ", ".join(f"{key}={value!r}" for key, value in classic.items())
        raise ValueError(
            "Give the schedule as a `clr` dict with `learning_rate`, or as "
            "`mode`, `base_lr`, `max_lr`, `step_size` and `gamma`, not both: "
            f"`clr` holds the whole policy. Received: clr={clr!r}, {given}"
        )
    if learning_rate is None:
        raise ValueError(
            "`learning_rate` (the base rate, the optimizer's learning rate) "
            f"must be given with `clr`. Received: learning_rate=None, "
            f"clr={clr!r}"
        )
    return check_rate(learning_rate, "learning_rate")


def check_updates_per_epoch(value):
    """None, or the updates of one epoch: a finite number > 0."""
    if value is None:
        return None
    value = check_rate(value, "updates_per_epoch")
    if value == 0:
        raise ValueError(
            "`updates_per_epoch` must be a finite number > 0. "
            f"Received: updates_per_epoch={value!r}"
        )
    return value


def check_plot_length(config, iterations):
    """That a plot of a `clr` dict whose 1cycle spans `"auto"` has the
    number of updates it spans, `iterations`."""
    if config["total_steps"] == AUTO and iterations is None:
        raise ValueError(
            "`iterations` must be given with clr['total_steps']='auto': the "
            "1cycle spans the updates drawn, as it spans every update of a "
            "fit. Received: iterations=None"
        )


def check_comparable(config):
    """That `compare=True` has a formula to draw: not for 1cycle."""
    if config["mode"] == ONE_CYCLE:
        raise ValueError(
            "`compare=True` draws `reference_learning_rate`, the formula of "
            "the cyclical policies; mode '1cycle' has none. Received: "
            "compare=True, clr['mode']='1cycle'"
        )


def check_axes(ax, panels):
    """None, a matplotlib `Axes`, or with two panels a pair of them.

    Returns:
        None, or a tuple of one or two axes.
    """
    if ax is None:
        return None

    def is_axes(value):
        return hasattr(value, "plot") and hasattr(value, "figure")

    if is_axes(ax):
        return (ax,)
    pair = None
    if isinstance(ax, (tuple, list)) or hasattr(ax, "flat"):
        pair = tuple(getattr(ax, "flat", ax))  # a NumPy array of axes too
    if panels == 2 and pair and len(pair) == 2 and all(map(is_axes, pair)):
        return pair
    allowed = (
        "a matplotlib Axes, or a pair of them (the rate's and the momentum's)"
        if panels == 2
        else "a matplotlib Axes (there is no momentum to draw)"
    )
    raise TypeError(f"`ax` must be None or {allowed}. Received: ax={ax!r}")


RATE_LOG_KEYS = ("learning_rate", "lr")
"""The keys of a logged rate: `FitSchedule`'s and Keras's, `CyclicLR`'s."""


MOMENTUM_LOG_KEYS = ("momentum", "beta_1")
"""The keys of a logged momentum term."""


def check_history(history):
    """A fit's logs holding the rate: a `keras.callbacks.History` or a dict
    of lists (such as `FitSchedule().update_history`).

    Returns:
        `(logs, rate_key, momentum_key)`: the dict of lists (a History's
        `history`), the key of the rate and that of the momentum term (None
        when it is not logged).
    """
    if isinstance(history, keras.callbacks.History):
        logs = history.history
    elif isinstance(history, Mapping):
        logs = history
    else:
        raise TypeError(
            "`history` must be a `keras.callbacks.History` (what `fit` "
            "returns) or a dict of lists such as "
            "`clr_optimizers.FitSchedule().update_history`. Received: "
            f"history={history!r} of type {type(history).__name__}"
        )
    rate_key = next((key for key in RATE_LOG_KEYS if key in logs), None)
    if rate_key is None:
        raise ValueError(
            "`history` holds no logged learning rate (no 'learning_rate' "
            "key): add `clr_optimizers.FitSchedule()` to the callbacks of "
            "`fit`, which logs the rate (and momentum) of every update in "
            "its `update_history` and of every epoch in the History, or use "
            "the `OneCycle` or `CyclicLR` callbacks. Received: history with "
            f"the keys {sorted(map(str, logs))!r}"
        )
    momentum_key = next((key for key in MOMENTUM_LOG_KEYS if key in logs), None)
    columns = [rate_key, momentum_key, "iterations"]
    columns = [key for key in columns if key is not None and key in logs]
    for key in columns:
        values = logs[key]
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
            raise TypeError(
                f"`history[{key!r}]` must be a list of numbers. Received: "
                f"history[{key!r}]={values!r}"
            )
        for value in values:
            try:
                float(value)
            except (TypeError, ValueError):
                raise TypeError(
                    f"`history[{key!r}]` must be a list of numbers. "
                    f"Received: {value!r} in history[{key!r}]"
                ) from None
    lengths = {key: len(logs[key]) for key in columns}
    if len(set(lengths.values())) != 1 or not lengths[rate_key]:
        raise ValueError(
            f"`history`'s lists {', '.join(map(repr, columns))} must hold "
            "one value per update (or epoch) each, at least one. Received: "
            f"lengths {lengths!r}"
        )
    return logs, rate_key, momentum_key
