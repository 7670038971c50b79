"""Checks of plain values: numbers, counts, flags, choices, functions."""

import math
import numbers


def is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _finite_float(value, name):
    """A real number as a Python float (infinite if it overflows)."""
    if not is_real(value):
        raise TypeError(
            f"`{name}` must be a real number. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    try:
        return float(value)
    except OverflowError:
        return math.inf


def check_rate(value, name):
    """A finite, non-negative real number, returned as a Python float."""
    value = _finite_float(value, name)
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"`{name}` must be a finite number >= 0. Received: {name}={value!r}"
        )
    return value


def check_step_size(
    value,
    name="step_size",
    limit=2**31 - 1,
    what="a length in updates",
    minimum=1,
):
    """A whole number in [minimum, limit] (2000 or 2000.0), as a Python int."""
    if not is_real(value):
        raise TypeError(
            f"`{name}` must be a whole number >= {minimum} ({what}). "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if isinstance(value, numbers.Integral):
        whole = True
    else:
        whole = math.isfinite(float(value)) and float(value).is_integer()
    if not whole or not minimum <= value <= limit:
        raise ValueError(
            f"`{name}` must be a whole number in [{minimum}, {limit}] "
            f"({what}). Received: {name}={value!r}"
        )
    return int(value)


def check_whole_count(value, name, minimum=0, limit=2**31 - 1):
    """A whole number of updates in [minimum, limit] (`12` or `12.0`), as a
    Python int."""
    return check_step_size(
        value, name, limit, "a number of updates", minimum=minimum
    )


def check_update_count(value, name, context=""):
    """A whole number of updates >= 1, as a Python int."""
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < 1
    ):
        raise ValueError(
            f"`{name}` must be an integer >= 1 (a number of updates){context}"
            f". Received: {name}={value!r}"
        )
    return int(value)


def check_fraction(value, name, low_open=True, high_open=True):
    """A real number in (0, 1), with the ends open or closed as given."""
    if not is_real(value):
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


def check_momentum(value, name):
    """A momentum coefficient: a real number in [0, 1), as a Python float."""
    return check_fraction(value, name, low_open=False)


def check_factor(value, name):
    """A finite real number > 0, as a Python float."""
    value = _finite_float(value, name)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"`{name}` must be a finite number > 0. Received: {name}={value!r}"
        )
    return value


def check_flag(value, name):
    """True or False."""
    if not isinstance(value, bool):
        raise TypeError(
            f"`{name}` must be True or False. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    return value


def check_choice(value, name, choices):
    """One of the strings `choices`."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"`{name}` must be one of {', '.join(repr(c) for c in choices)}. "
            f"Received: {name}={value!r}"
        )
    return value


def check_count(value, name, minimum, optional=False):
    """An integer (not a bool) >= `minimum` (or, if `optional`, None), as a
    Python int."""
    if optional and value is None:
        return None
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        allowed = "None or an integer" if optional else "an integer"
        raise ValueError(
            f"`{name}` must be {allowed} >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_whole_number(value, name):
    """A whole number >= 0 (`12` or `12.0`), as a Python int."""
    if isinstance(value, bool) or not float(value).is_integer() or value < 0:
        raise ValueError(
            f"`{name}` must be a whole number >= 0. Received: {name}={value!r}"
        )
    return int(value)


def check_host_function(function, name):
    """A function of one number, called on the host (not traced)."""
    if not callable(function):
        raise TypeError(
            f"`{name}` must be None or a function of one number. "
            f"Received: {name}={function!r}"
        )
    return function


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


def check_iterations(value, name="iterations"):
    """A whole number in [1, 10**7] (6000 or 6000.0), as a Python int."""
    return check_step_size(
        value, name, limit=10**7, what="the number of updates drawn"
    )
