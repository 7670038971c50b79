"""`find_max_lr`'s arguments: the run, the validation data and the score."""

import math

from clr_optimizers._validation._numbers import _finite_float
from clr_optimizers._validation._numbers import check_choice
from clr_optimizers._validation._numbers import check_count
from clr_optimizers._validation._numbers import is_real

SCORE_MODES = ("auto", "min", "max")
# Scores that are better when higher, by the end of their name (`mode`
# "auto"), as Keras's callbacks guess.
HIGHER_IS_BETTER = ("acc", "accuracy", "auc", "precision", "recall", "r2")


def check_run_epochs(epochs):
    """The epochs of the run `find_max_lr` prepares: required, an int >= 1."""
    if epochs is None:
        raise ValueError(
            "`find_max_lr` chooses the peak for a run of a given length: "
            "pass `epochs`, the epochs you will `fit` for (an integer >= 1)."
            " Received: epochs=None"
        )
    return check_count(epochs, "epochs", 1)


def check_budget(value):
    """A finite number > 0: the search's updates over the run's."""
    value = _finite_float(value, "budget")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            "`budget` must be a finite number > 0 (all the search may "
            "spend, as a multiple of the run's updates). "
            f"Received: budget={value!r}"
        )
    return value


def check_validation_choice(validation_data, validation_split):
    """`validation_split` in [0, 1); exactly one way to validate.

    Returns:
        `validation_split` as a Python float.
    """
    if (
        not is_real(validation_split)
        or not 0 <= validation_split < 1
        or isinstance(validation_split, bool)
    ):
        raise ValueError(
            "`validation_split` must be a number in [0, 1). "
            f"Received: validation_split={validation_split!r}"
        )
    if validation_data is None and validation_split == 0:
        raise ValueError(
            "`find_max_lr` scores its trials on held-out data: pass "
            "`validation_data` or a `validation_split` > 0. "
            "Received: validation_data=None, validation_split=0.0"
        )
    if validation_data is not None and validation_split > 0:
        raise ValueError(
            "Pass `validation_data` or `validation_split`, not both. "
            f"Received: validation_split={validation_split!r} with "
            "validation_data"
        )
    return float(validation_split)


def check_monitor(monitor, mode):
    """The monitored value's name, and whether higher is better.

    Args:
        monitor: A key of the validation logs, `"val_<name>"`.
        mode: `"min"`, `"max"`, or `"auto"`: `"max"` for names that end
            in one of `HIGHER_IS_BETTER`, `"min"` otherwise.

    Returns:
        `(monitor, mode)`, mode `"min"` or `"max"`.
    """
    if not isinstance(monitor, str) or not monitor.startswith("val_"):
        raise ValueError(
            "`monitor` must name a validation value, `'val_loss'` or "
            f"`'val_<metric>'`. Received: monitor={monitor!r}"
        )
    mode = check_choice(mode, "mode", SCORE_MODES)
    if mode == "auto":
        higher = monitor.lower().endswith(HIGHER_IS_BETTER)
        mode = "max" if higher else "min"
    return monitor, mode


def check_monitored(monitor, logs):
    """The logs' `monitor` value; an error naming the logs' keys if absent."""
    if monitor not in logs:
        raise ValueError(
            f"`monitor` must be one of the validation logs "
            f"{', '.join(repr(k) for k in sorted(logs))}. "
            f"Received: monitor={monitor!r}"
        )
    return logs[monitor]
