"""The `clr` dict of the optimizers, and the policies' own arguments."""

import difflib
import math
from collections.abc import Mapping

import keras

from clr_optimizers._policy._one_cycle import one_cycle_phase_ends
from clr_optimizers._validation._numbers import check_choice
from clr_optimizers._validation._numbers import check_fraction
from clr_optimizers._validation._numbers import check_rate
from clr_optimizers._validation._numbers import check_step_size
from clr_optimizers._validation._numbers import check_whole_count
from clr_optimizers._validation._numbers import is_real

MODES = ("triangular", "triangular2", "exp_range")
"""The cyclical policies: the `mode` of `CyclicLR`, `CyclicalLearningRate`,
`cyclical_learning_rate` and `plot_schedule`."""


ONE_CYCLE = "1cycle"


CLR_MODES = MODES + (ONE_CYCLE,)
"""Every `mode` of an optimizer's `clr` dict: `MODES` and `"1cycle"`."""


COMMON_KEYS = ("mode", "max_lr", "base_momentum", "max_momentum")


CYCLIC_KEYS = (
    "step_size",
    "step_size_down",
    "clr_gamma",
    "scale_fn",
    "scale_mode",
    "warmup_steps",
    "warmup_start_lr",
)


ONE_CYCLE_KEYS = (
    "total_steps",
    "pct_start",
    "final_div_factor",
    "anneal",
    "three_phase",
)


CLR_KEYS = COMMON_KEYS + CYCLIC_KEYS + ONE_CYCLE_KEYS


CLR_KEY_ALIASES = {"gamma": "clr_gamma"}


AUTO = "auto"
"""The length of 1cycle's `total_steps` that a fit plans: all its updates."""


EPOCHS = "epochs"
"""The key of a length given in epochs: `{"epochs": 2}`."""


FIT_LENGTH_KEYS = ("step_size", "step_size_down", "warmup_steps", "total_steps")
"""The `clr` keys that take a length in epochs, or `"auto"` (total_steps)."""


def check_length(value, name, minimum=1, auto=False):
    """A length in updates (a whole number >= `minimum`), in epochs
    (`{"epochs": x}` with `x` > 0), or with `auto`, `"auto"`.

    Returns:
        An int, `"auto"`, or `{"epochs": float}`.
    """
    allowed = (
        f"a whole number in [{minimum}, {2**31 - 1}] (updates), "
        "{'epochs': x} with x > 0"
        + (", or 'auto' (every update of the fit)" if auto else "")
    )
    if auto and value == AUTO:
        return AUTO
    if isinstance(value, Mapping):
        epochs = value.get(EPOCHS)
        if (
            set(value) == {EPOCHS}
            and is_real(epochs)
            and math.isfinite(float(epochs))
            and epochs > 0
        ):
            return {EPOCHS: float(epochs)}
        raise ValueError(
            f"`{name}` must be {allowed}. Received: {name}={value!r}"
        )
    if isinstance(value, str) or not is_real(value):
        raise TypeError(
            f"`{name}` must be {allowed}. Received: {name}={value!r} of type "
            f"{type(value).__name__}"
        )
    if minimum == 0 and value == 0:
        return 0
    try:
        return check_step_size(value, name)
    except ValueError:
        raise ValueError(
            f"`{name}` must be {allowed}. Received: {name}={value!r}"
        ) from None


def is_fit_length(value):
    """Whether a checked length waits for a fit: `"auto"` or in epochs."""
    return value == AUTO or isinstance(value, Mapping)


def check_one_cycle_phases(
    total_steps,
    pct_start,
    three_phase,
    context="",
    names=("clr['pct_start']", "clr['total_steps']"),
):
    """That each of 1cycle's phases gets at least one update.

    Args:
        total_steps: The cycle's length in updates, an int.
        pct_start: The rising fraction of the cycle.
        three_phase: Whether the cycle has three phases.
        context: Said after the received values (how a fit planned
            `total_steps`), or "".
        names: The names of `pct_start` and `total_steps` in the message.
    """
    ends = one_cycle_phase_ends(total_steps, pct_start, three_phase)
    phases = len(ends)
    warmup_end, last = ends[0], ends[-1]
    if not (0 < warmup_end and (phases - 1) * (warmup_end + 1) - 1 < last):
        pct, total = names
        raise ValueError(
            f"`{pct}` * `{total}` must leave each of the {phases} phases of "
            "the cycle at least one update: pct_start * total_steps must "
            "be > 1, and the rise end before the last update. "
            f"Received: {pct}={pct_start!r}, {total}={total_steps!r}"
            f"{context}"
        )


def check_gamma(value, mode, name="clr_gamma"):
    """A real number in (0, 1]; other than 1 only for mode 'exp_range'."""
    if not is_real(value):
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
            ok = is_real(out)
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
    received = f"Received: clr={dict(clr)!r}"
    clr, mode = _check_clr_keys(clr, received)
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
            normalized[key] = check_fraction(clr[key], f"clr[{key!r}]")
    if mode == ONE_CYCLE:
        return _check_one_cycle(clr, normalized, received)
    return _check_cyclical(clr, normalized, mode, received)


def _check_clr_keys(clr, received):
    """The keys of a `clr` dict: known, aliases resolved, those of its mode.

    Returns:
        `(clr, mode)`: a copy of the dict with aliases replaced, and the
        mode (None for a custom `scale_fn` policy).
    """
    allowed = CLR_KEYS + tuple(CLR_KEY_ALIASES)
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
            where = (
                "mode '1cycle'"
                if key in ONE_CYCLE_KEYS
                else ("the cyclical modes, not to mode '1cycle'")
            )
            raise ValueError(
                f"`clr[{key!r}]` applies only to {where}. {received}"
            )
    required = (
        ("max_lr", "total_steps")
        if mode == ONE_CYCLE
        else ("max_lr", "step_size")
    )
    for key in required:
        if key not in clr:
            raise ValueError(f"`clr` must give {key!r}. {received}")
    return clr, mode


def _check_one_cycle(clr, normalized, received):
    """Fills `normalized` with the 1cycle keys of `clr`."""
    normalized["total_steps"] = check_length(
        clr["total_steps"], "clr['total_steps']", auto=True
    )
    normalized["pct_start"] = check_fraction(
        clr.get("pct_start", 0.3), "clr['pct_start']"
    )
    factor = clr.get("final_div_factor", 1e4)
    if not is_real(factor):
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
    if isinstance(normalized["total_steps"], int):
        check_one_cycle_phases(
            normalized["total_steps"], normalized["pct_start"], three_phase, ""
        )
    return normalized


def _check_cyclical(clr, normalized, mode, received):
    """Fills `normalized` with the cyclical keys of `clr`."""
    normalized["step_size"] = check_length(clr["step_size"], "clr['step_size']")
    if "step_size_down" in clr:
        normalized["step_size_down"] = check_length(
            clr["step_size_down"], "clr['step_size_down']"
        )
    if "warmup_steps" in clr:
        normalized["warmup_steps"] = check_length(
            clr["warmup_steps"], "clr['warmup_steps']", minimum=0
        )
        normalized["warmup_start_lr"] = check_rate(
            clr.get("warmup_start_lr", 0.0), "clr['warmup_start_lr']"
        )
    elif "warmup_start_lr" in clr:
        raise ValueError(
            "`clr['warmup_start_lr']` applies only with 'warmup_steps'. "
            f"{received}"
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


def check_total_steps(value, name="total_steps"):
    """`"auto"` (every update of the fit) or a whole number >= 1."""
    if isinstance(value, str) and value == AUTO:
        return AUTO
    message = (
        f"`{name}` must be 'auto' (every update of the fit) or a whole "
        f"number in [1, {2**31 - 1}]. Received: {name}={value!r}"
    )
    if isinstance(value, str):
        raise ValueError(message)
    try:
        return check_whole_count(value, name, minimum=1)
    except (TypeError, ValueError) as error:
        raise type(error)(message) from None


def check_decay(value):
    """Keras 2's time-based `decay`: a finite number >= 0."""
    return check_rate(value, "decay")


def check_mode(mode, name="mode"):
    """One of the cyclical policies' names, `MODES`."""
    return check_choice(mode, name, MODES)
