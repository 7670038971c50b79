"""Validation of the `clr` dict and of the scalar arguments around it."""

import difflib
import math
import numbers
from collections.abc import Mapping

from clr_optimizers._policy import check_mode

CLR_KEYS = ("mode", "step_size", "max_lr", "clr_gamma")
CLR_KEY_ALIASES = {"gamma": "clr_gamma"}


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_rate(value, name):
    """A finite, non-negative real number, returned as a Python float."""
    if not _is_real(value):
        raise TypeError(
            f"`{name}` must be a real number. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"`{name}` must be a finite number >= 0. Received: {name}={value!r}"
        )
    return value


def check_step_size(value, name="step_size"):
    """A whole number > 0 (2000 or 2000.0), returned as a Python int."""
    if not _is_real(value):
        raise TypeError(
            f"`{name}` must be a whole number > 0. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if isinstance(value, numbers.Integral):
        whole = True
    else:
        whole = math.isfinite(float(value)) and float(value).is_integer()
    if not whole or value <= 0:
        raise ValueError(
            f"`{name}` must be a whole number > 0 (half a cycle, in updates). "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_gamma(value, mode, name="clr_gamma"):
    """A real number in (0, 1]; other than 1 only for mode 'exp_range'."""
    if not _is_real(value):
        raise TypeError(
            f"`{name}` must be a number in (0, 1]. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    value = float(value)
    if not (0.0 < value <= 1.0):
        raise ValueError(
            f"`{name}` must be in (0, 1]. Received: {name}={value!r}"
        )
    if value != 1.0 and mode != "exp_range":
        raise ValueError(
            f"`{name}` only applies to mode 'exp_range'. "
            f"Received: {name}={value!r} with mode={mode!r}"
        )
    return value


def validate_clr(clr):
    """Checks a `clr` dict and returns it normalized, or None for None.

    Returns:
        None, or a new dict with the keys `mode` (str), `step_size` (int),
        `max_lr` (float) and `clr_gamma` (float).
    """
    if clr is None:
        return None
    if not isinstance(clr, Mapping):
        raise TypeError(
            "`clr` must be a dict such as "
            "{'mode': 'triangular', 'step_size': 2000, 'max_lr': 0.006}, "
            f"or None. Received: clr={clr!r} of type {type(clr).__name__}"
        )
    allowed = CLR_KEYS + tuple(CLR_KEY_ALIASES)
    for key in clr:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Unknown key {key!r} in `clr`.{hint} "
                f"Allowed keys: {', '.join(repr(k) for k in allowed)}. "
                f"Received: clr={dict(clr)!r}"
            )
    for alias, key in CLR_KEY_ALIASES.items():
        if alias in clr and key in clr:
            raise ValueError(
                f"`clr` may hold {key!r} or its alias {alias!r}, not both. "
                f"Received: clr={dict(clr)!r}"
            )
    for key in ("max_lr", "step_size"):
        if key not in clr:
            raise ValueError(
                f"`clr` must give {key!r}. Received: clr={dict(clr)!r}"
            )
    mode = check_mode(clr.get("mode", "triangular"), "clr['mode']")
    gamma = clr.get("clr_gamma", clr.get("gamma", 1.0))
    return {
        "mode": mode,
        "step_size": check_step_size(clr["step_size"], "clr['step_size']"),
        "max_lr": check_rate(clr["max_lr"], "clr['max_lr']"),
        "clr_gamma": check_gamma(gamma, mode, "clr['clr_gamma']"),
    }


def check_decay(value):
    return check_rate(value, "decay")
