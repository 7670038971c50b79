"""Every argument check of the package, in the Keras error style.

Each check takes the value and the argument's name as the user wrote it, and
raises `TypeError` or `ValueError` naming the argument, the value received
and what is allowed; it returns the value normalized (a Python float or int,
a normalized `clr` dict).
"""

import difflib
import math
import numbers
from collections.abc import Mapping

import keras

from clr_optimizers._policy._one_cycle import one_cycle_phase_ends

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


def check_step_size(
    value, name="step_size", limit=2**31 - 1, what="a length in updates"
):
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
        interval = (
            ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        )
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
    """One of the strings `choices`."""
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
            normalized[key] = _check_fraction(clr[key], f"clr[{key!r}]")
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
    ends = one_cycle_phase_ends(
        normalized["total_steps"], normalized["pct_start"], three_phase
    )
    phases = len(ends)
    warmup_end, last = ends[0], ends[-1]
    if not (0 < warmup_end and (phases - 1) * (warmup_end + 1) - 1 < last):
        raise ValueError(
            "`clr['pct_start']` * `clr['total_steps']` must leave every "
            f"one of the {phases} phases at least one step: pct_start * "
            "total_steps must be > 1 and the warm-up must end before "
            f"the last step. Received: clr['pct_start']="
            f"{normalized['pct_start']!r}, clr['total_steps']="
            f"{normalized['total_steps']!r}"
        )
    return normalized


def _check_cyclical(clr, normalized, mode, received):
    """Fills `normalized` with the cyclical keys of `clr`."""
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
    """Keras 2's time-based `decay`: a finite number >= 0."""
    return check_rate(value, "decay")


def check_mode(mode, name="mode"):
    """One of the cyclical policies' names, `MODES`."""
    return check_choice(mode, name, MODES)


def check_iterations(value, name="iterations"):
    """A whole number in [1, 10**7] (6000 or 6000.0), as a Python int."""
    return check_step_size(
        value, name, limit=10**7, what="the number of updates drawn"
    )


def check_count(value, name, minimum):
    """An integer (not a bool) >= `minimum`, as a Python int."""
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_compiled_model(model):
    """A `keras.Model` compiled with an optimizer."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model. Received: model={model!r}"
        )
    if not getattr(model, "compiled", False) or model.optimizer is None:
        raise ValueError(
            "`model` must be compiled with an optimizer and a loss: call "
            "`model.compile(optimizer=..., loss=...)` first. "
            f"Received: model={model.name!r}, which is not compiled"
        )
    return model


def check_rate_range(min_lr, max_lr):
    """Two rates (`check_rate`) with `min_lr < max_lr`, as Python floats."""
    min_lr = check_rate(min_lr, "min_lr")
    max_lr = check_rate(max_lr, "max_lr")
    if min_lr >= max_lr:
        raise ValueError(
            "`min_lr` must be smaller than `max_lr`. "
            f"Received: min_lr={min_lr!r}, max_lr={max_lr!r}"
        )
    return min_lr, max_lr


def check_sweep(sweep, min_lr, choices):
    """One of the sweeps `choices`; `"exponential"` needs `min_lr > 0`."""
    sweep = check_choice(sweep, "sweep", choices)
    if sweep == "exponential" and min_lr == 0:
        raise ValueError(
            "`min_lr` must be > 0 for sweep='exponential'. "
            f"Received: min_lr={min_lr!r}"
        )
    return sweep


def check_beta(beta):
    """A moving average's smoothing factor: a real number in [0, 1)."""
    if not _is_real(beta) or not 0 <= beta < 1:
        raise ValueError(f"`beta` must be in [0, 1). Received: beta={beta!r}")
    return beta


def check_divergence_factor(value):
    """None, or a finite real number > 1."""
    if value is not None and (
        not _is_real(value) or not value > 1 or not math.isfinite(value)
    ):
        raise ValueError(
            "`divergence_factor` must be a finite number > 1, or None. "
            f"Received: divergence_factor={value!r}"
        )
    return value


def check_verbose(verbose):
    """Keras's progress bar setting: 0, 1 or 2."""
    if verbose not in (0, 1, 2):
        raise ValueError(
            f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}"
        )
    return verbose


def check_training_data(x):
    """Training data: anything but None."""
    if x is None:
        raise ValueError("`x` must hold the training data. Received: x=None")
    return x


def check_validation_data(validation_data):
    """None, or a tuple `(x_val, y_val)` or `(x_val, y_val, sample_weight)`."""
    if validation_data is not None and (
        not isinstance(validation_data, (tuple, list))
        or len(validation_data) not in (2, 3)
    ):
        raise ValueError(
            "`validation_data` must be None or a tuple `(x_val, y_val)` or "
            "`(x_val, y_val, sample_weight)`. Received: "
            f"validation_data={validation_data!r}"
        )
    return validation_data


def check_unset_for_batches(**values):
    """Each keyword None: arguments that only array data takes."""
    for name, value in values.items():
        if value is not None:
            raise ValueError(
                f"`{name}` must be None when `x` is a dataset or an "
                f"iterable of batches. Received: {name}={value!r}"
            )


def check_host_function(function, name):
    """A function of one number, called on the host (not traced)."""
    if not callable(function):
        raise TypeError(
            f"`{name}` must be None or a function of one number. "
            f"Received: {name}={function!r}"
        )
    return function


def check_whole_number(value, name):
    """A whole number >= 0 (`12` or `12.0`), as a Python int."""
    if isinstance(value, bool) or not float(value).is_integer() or value < 0:
        raise ValueError(
            f"`{name}` must be a whole number >= 0. Received: {name}={value!r}"
        )
    return int(value)


def number_or_text(text):
    """`text` as an int or a float, or unchanged when it is neither.

    An unparsed string goes on to the validators, whose error names the
    argument and echoes the received value.
    """
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
