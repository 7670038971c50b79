"""The callbacks' arguments: `CycleSnapshots`."""

import keras

from clr_optimizers._validation._numbers import check_count


def check_directory(value, name="directory"):
    """A directory's path: a str or an `os.PathLike`, as a str (not empty)."""
    path = value
    if hasattr(type(value), "__fspath__"):
        path = type(value).__fspath__(value)
    if not isinstance(path, str):
        raise TypeError(
            f"`{name}` must be a str or an os.PathLike (a directory's "
            f"path). Received: {name}={value!r}"
        )
    if not path:
        raise ValueError(
            f"`{name}` must be a directory's path, not empty. "
            f"Received: {name}={value!r}"
        )
    return path


def check_optional_count(value, name, minimum=1):
    """None, or an integer (not a bool) >= `minimum`, as a Python int."""
    return check_count(value, name, minimum, optional=True)


def check_cycle_callback(cycle, name="cycle"):
    """None, or a callback that drives a cycle: one with `step_size` and
    `clr_iterations` (`CyclicLR`), or one with `total_steps` (one cycle)."""
    if cycle is None:
        return None
    if not isinstance(cycle, keras.callbacks.Callback) or not (
        (hasattr(cycle, "step_size") and hasattr(cycle, "clr_iterations"))
        or hasattr(cycle, "total_steps")
    ):
        raise TypeError(
            f"`{name}` must be None or the callback that drives the cycle "
            "(such as a `clr_optimizers.CyclicLR`): a "
            "keras.callbacks.Callback with `step_size` and `clr_iterations`, "
            f"or with `total_steps`. Received: {name}={cycle!r}"
        )
    return cycle


def check_snapshot_cycle(model, optimizer, cycle, owner):
    """At the start of `fit`: the cycle that `owner` follows is the `clr`
    cycle of `optimizer` (the model's, or the one inside a
    `LossScaleOptimizer`), or `cycle`, a callback of the same fit."""
    if cycle is None:
        if getattr(optimizer, "_clr_config", None) is None:
            raise ValueError(
                f"`{owner}` saves the model when a cycle ends, but optimizer "
                f"'{optimizer.name}' has no cycle: compile the model with an "
                "optimizer of clr_optimizers given a `clr` dict, or pass the "
                f"callback that drives the cycle, `{owner}(directory, "
                "cycle=cyclic_lr)` with `callbacks=[cyclic_lr, ...]`. "
                f"Received: optimizer={type(optimizer).__name__} without "
                "`clr`, cycle=None"
            )
    elif getattr(cycle, "model", None) is not model:
        raise ValueError(
            f"`{owner}` follows the cycle of a callback that is not in this "
            "`fit`: pass both callbacks to the same `fit`, "
            "`callbacks=[cycle_callback, snapshots]`. "
            f"Received: cycle={cycle!r}"
        )
    return cycle
