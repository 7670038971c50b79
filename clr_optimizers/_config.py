"""Validation of the `clr` dict and of the scalar arguments around it."""

import difflib
import math
import numbers
from collections.abc import Mapping

import keras

from clr_optimizers._policy import MODES

ONE_CYCLE = "1cycle"
CLR_MODES = MODES + (ONE_CYCLE,)
COMMON_KEYS = ("mode", "max_lr", "base_momentum", "max_momentum")
CYCLIC_KEYS = ("step_size", "step_size_down", "clr_gamma", "scale_fn", "scale_mode")
ONE_CYCLE_KEYS = (
    "total_steps",
    "pct_start",
    "final_div_factor",
    "anneal",
    "three_phase",
)
CLR_KEYS = COMMON_KEYS + CYCLIC_KEYS + ONE_CYCLE_KEYS
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
    try:
        value = float(value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"`{name}` must be a finite number >= 0. Received: {name}={value!r}"
        )
    return value


def check_step_size(value, name="step_size", limit=2**31 - 1,
                    what="a length in updates"):
    """A whole number in [1, limit] (2000 or 2000.0), as a Python int."""
    if not _is_real(value):
        raise TypeError(
            f"`{name}` must be a whole number > 0. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if isinstance(value, numbers.Integral):
        whole = True
    else:
        whole = math.isfinite(float(value)) and float(value).is_integer()
    if not whole or not 0 < value <= limit:
        raise ValueError(
            f"`{name}` must be a whole number in [1, {limit}] ({what}). "
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


def _check_fraction(value, name, low_open=True, high_open=True):
    """A real number in (0, 1), with the ends open or closed as given."""
    if not _is_real(value):
        raise TypeError(
            f"`{name}` must be a real number. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    value = float(value)
    above = value > 0 if low_open else value >= 0
    below = value < 1 if high_open else value <= 1
    if not (math.isfinite(value) and above and below):
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise ValueError(
            f"`{name}` must be in {interval}. Received: {name}={value!r}"
        )
    return value


def check_scale_fn(scale_fn, name="clr['scale_fn']"):
    """A function of one float tensor that traces with `keras.ops`."""
    if not callable(scale_fn):
        raise TypeError(
            f"`{name}` must be a function of one float tensor. "
            f"Received: {name}={scale_fn!r}"
        )
    try:
        out = scale_fn(keras.KerasTensor(shape=(), dtype="float32"))
        if isinstance(out, keras.KerasTensor):
            ok = tuple(out.shape) in ((), (1,))
        else:
            ok = _is_real(out)
    except Exception as error:  # what the function raised is reported below
        raise TypeError(
            f"`{name}` must run in the training graph: write it with "
            "keras.ops, e.g. `lambda x: 0.5 * (1 + keras.ops.sin(x * math.pi"
            " / 2))` instead of numpy functions. Calling it on a symbolic "
            f"float32 scalar raised {type(error).__name__}: {error}. "
            f"Received: {name}={scale_fn!r}"
        ) from error
    if not ok:
        raise TypeError(
            f"`{name}` must return a scalar. Calling it on a symbolic "
            f"float32 scalar returned {out!r}. Received: {name}={scale_fn!r}"
        )
    return scale_fn


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"`{name}` must be one of {', '.join(repr(c) for c in choices)}. "
            f"Received: {name}={value!r}"
        )
    return value


def validate_clr(clr):
    """Checks a `clr` dict and returns it normalized, or None for None.

    Returns:
        None, or a new dict holding every key of `CLR_KEYS`, with defaults
        filled in (None for keys that do not apply to the mode). `mode` is
        None for a custom `scale_fn` policy.
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
    received = f"Received: clr={dict(clr)!r}"
    for key in clr:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Unknown key {key!r} in `clr`.{hint} "
                f"Allowed keys: {', '.join(repr(k) for k in allowed)}. "
                f"{received}"
            )
    clr = dict(clr)
    for alias, key in CLR_KEY_ALIASES.items():
        if alias in clr:
            if key in clr:
                raise ValueError(
                    f"`clr` may hold {key!r} or its alias {alias!r}, not "
                    f"both. {received}"
                )
            clr[key] = clr.pop(alias)
    if "scale_fn" in clr and "mode" in clr:
        raise ValueError(
            "`clr` takes a 'mode' or a 'scale_fn' (a custom policy), not "
            f"both. {received}"
        )
    mode = None
    if "scale_fn" not in clr:
        mode = check_choice(
            clr.get("mode", "triangular"), "clr['mode']", CLR_MODES
        )
    own_keys = ONE_CYCLE_KEYS if mode == ONE_CYCLE else CYCLIC_KEYS
    for key in CYCLIC_KEYS + ONE_CYCLE_KEYS:
        if key in clr and key not in own_keys:
            where = "mode '1cycle'" if key in ONE_CYCLE_KEYS else (
                "the cyclical modes, not to mode '1cycle'")
            raise ValueError(
                f"`clr[{key!r}]` applies only to {where}. {received}"
            )
    required = ("max_lr", "total_steps") if mode == ONE_CYCLE else (
        "max_lr", "step_size")
    for key in required:
        if key not in clr:
            raise ValueError(f"`clr` must give {key!r}. {received}")
    normalized = dict.fromkeys(CLR_KEYS)
    normalized["mode"] = mode
    normalized["max_lr"] = check_rate(clr["max_lr"], "clr['max_lr']")
    if ("base_momentum" in clr) != ("max_momentum" in clr):
        raise ValueError(
            "Cyclical momentum needs both 'base_momentum' and 'max_momentum' "
            f"in `clr`. {received}"
        )
    for key in ("base_momentum", "max_momentum"):
        if key in clr:
            normalized[key] = _check_fraction(clr[key], f"clr[{key!r}]")
    if mode == ONE_CYCLE:
        normalized["total_steps"] = check_step_size(
            clr["total_steps"], "clr['total_steps']"
        )
        normalized["pct_start"] = _check_fraction(
            clr.get("pct_start", 0.3), "clr['pct_start']"
        )
        factor = clr.get("final_div_factor", 1e4)
        if not _is_real(factor):
            raise TypeError(
                "`clr['final_div_factor']` must be a real number. "
                f"Received: clr['final_div_factor']={factor!r} of type "
                f"{type(factor).__name__}"
            )
        if not (math.isfinite(float(factor)) and float(factor) >= 1):
            raise ValueError(
                "`clr['final_div_factor']` must be a finite number >= 1. "
                f"Received: clr['final_div_factor']={factor!r}"
            )
        normalized["final_div_factor"] = float(factor)
        normalized["anneal"] = check_choice(
            clr.get("anneal", "cos"), "clr['anneal']", ("cos", "linear")
        )
        three_phase = clr.get("three_phase", False)
        if not isinstance(three_phase, bool):
            raise TypeError(
                "`clr['three_phase']` must be True or False. "
                f"Received: clr['three_phase']={three_phase!r}"
            )
        normalized["three_phase"] = three_phase
        phases = 3 if three_phase else 2
        first = normalized["pct_start"] * normalized["total_steps"] - 1
        last = normalized["total_steps"] - 1
        if not (0 < first and (phases - 1) * (first + 1) - 1 < last):
            raise ValueError(
                "`clr['pct_start']` * `clr['total_steps']` must leave every "
                f"one of the {phases} phases at least one step: pct_start * "
                "total_steps must be > 1 and the warm-up must end before "
                f"the last step. Received: clr['pct_start']="
                f"{normalized['pct_start']!r}, clr['total_steps']="
                f"{normalized['total_steps']!r}"
            )
        return normalized
    normalized["step_size"] = check_step_size(
        clr["step_size"], "clr['step_size']"
    )
    if "step_size_down" in clr:
        normalized["step_size_down"] = check_step_size(
            clr["step_size_down"], "clr['step_size_down']"
        )
    normalized["clr_gamma"] = check_gamma(
        clr.get("clr_gamma", 1.0), mode, "clr['clr_gamma']"
    )
    if mode is None:
        normalized["scale_fn"] = check_scale_fn(clr["scale_fn"])
        normalized["scale_mode"] = check_choice(
            clr.get("scale_mode", "cycle"),
            "clr['scale_mode']",
            ("cycle", "iterations"),
        )
    elif "scale_mode" in clr:
        raise ValueError(
            f"`clr['scale_mode']` applies only with a 'scale_fn'. {received}"
        )
    return normalized


def check_decay(value):
    return check_rate(value, "decay")
