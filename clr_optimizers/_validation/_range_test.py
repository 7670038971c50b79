"""The range test's arguments, validation data and suggestion rules."""

import math
import numbers
from collections.abc import Mapping

import keras

from clr_optimizers._validation._numbers import check_choice
from clr_optimizers._validation._numbers import check_rate
from clr_optimizers._validation._numbers import is_real


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
    if not is_real(beta) or not 0 <= beta < 1:
        raise ValueError(f"`beta` must be in [0, 1). Received: beta={beta!r}")
    return beta


def check_divergence_factor(value):
    """None, or a finite real number > 1."""
    if value is not None and (
        not is_real(value) or not value > 1 or not math.isfinite(value)
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


def check_unset_for_batches(**values):
    """Each keyword None: arguments that only array data takes."""
    for name, value in values.items():
        if value is not None:
            raise ValueError(
                f"`{name}` must be None when `x` is a dataset or an "
                f"iterable of batches. Received: {name}={value!r}"
            )


VALIDATION_BATCH = "batch"


VALIDATION_DATASET = "dataset"


def check_validation_input(validation_data):
    """What `validation_data` is: None, `"batch"` or `"dataset"`.

    A tuple or list of 2 or 3 items is one fixed batch `(x_val, y_val)` or
    `(x_val, y_val, sample_weight)`; any other iterable that is not an
    array, a string or a dict (a `tf.data.Dataset`, a generator) is a
    dataset of such batches.
    """
    if validation_data is None:
        return None
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) in (2, 3):
            return VALIDATION_BATCH
    elif not (
        hasattr(validation_data, "shape")
        or isinstance(validation_data, (str, bytes, Mapping))
        or not hasattr(validation_data, "__iter__")
    ):
        return VALIDATION_DATASET
    raise ValueError(
        "`validation_data` must be None, a batch `(x_val, y_val)` or "
        "`(x_val, y_val, sample_weight)` (a tuple), or a dataset of such "
        "batches (a `tf.data.Dataset` or another iterable that is not a "
        f"tuple or list). Received: validation_data={validation_data!r}"
    )


def check_validation_steps(validation_steps, validation_data, kind):
    """None, or the number of batches of a validation dataset, an int >= 1.

    Args:
        validation_steps: The value to check.
        validation_data: The validation data.
        kind: What `check_validation_input` says `validation_data` is.

    Returns:
        `validation_steps`, as a Python int or None.
    """
    if validation_steps is not None:
        if (
            not isinstance(validation_steps, numbers.Integral)
            or isinstance(validation_steps, bool)
            or validation_steps < 1
        ):
            raise ValueError(
                "`validation_steps` must be None or an integer >= 1 (the "
                "number of batches of `validation_data` evaluated after each "
                f"step). Received: validation_steps={validation_steps!r}"
            )
        if kind != VALIDATION_DATASET:
            what = (
                "None"
                if kind is None
                else f"a single batch (a {type(validation_data).__name__})"
            )
            raise ValueError(
                "`validation_steps` applies only when `validation_data` is a "
                "dataset (a `tf.data.Dataset` or another iterable of batches "
                "`(x_val, y_val)`); otherwise it must be None. Received: "
                f"validation_steps={validation_steps!r} with validation_data "
                f"{what}"
            )
        return int(validation_steps)
    if kind == VALIDATION_DATASET and _is_endless(validation_data):
        raise ValueError(
            "`validation_steps` must be given for an endless dataset (a "
            "`tf.data.Dataset` that repeats forever): how many of its "
            "batches to evaluate after each step. Received: "
            f"validation_steps=None with validation_data={validation_data!r}"
        )
    return None


def _is_endless(dataset):
    """Whether a dataset says it is infinite (`tf.data`'s cardinality -1)."""
    cardinality = getattr(dataset, "cardinality", None)
    if not callable(cardinality):
        return False
    try:
        return int(cardinality()) == -1
    except (TypeError, ValueError):
        return False


def check_suggestion_rule(rule, choices, name="rule"):
    """A suggestion rule: one of the names `choices`, or a function.

    A function is returned as it is; `check_rule_arity` and
    `check_suggested_pair` check how it is called and what it returns.
    """
    if callable(rule):
        return rule
    if not isinstance(rule, str) or rule not in choices:
        raise ValueError(
            f"`{name}` must be a function `fn(learning_rates, losses)` or "
            "`fn(learning_rates, losses, accuracies)` returning "
            "`(base_lr, max_lr)`, or one of "
            f"{', '.join(repr(c) for c in choices)}. "
            f"Received: {name}={rule!r}"
        )
    return rule


def function_name(function):
    """A function's name for the error messages: its qualified name."""
    return getattr(function, "__qualname__", None) or repr(function)


def check_rule_arity(function, name="rule"):
    """How many curves a rule function takes: 3 if it can take three, else 2.

    A function that can be called with three positional arguments gets
    `(learning_rates, losses, accuracies)`, one that takes two
    `(learning_rates, losses)`; one whose signature cannot be read gets two.
    """
    import inspect

    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return 2
    for count in (3, 2):
        try:
            signature.bind(*range(count))
        except TypeError:
            continue
        return count
    raise TypeError(
        f"`{name}` must be a function `fn(learning_rates, losses)` or "
        "`fn(learning_rates, losses, accuracies)`. Received: "
        f"{name}={function_name(function)} with the signature {signature}"
    )


def check_suggested_pair(value, function, name="rule"):
    """What a rule function returned: a `(base_lr, max_lr)` pair of floats.

    Both finite real numbers > 0, with `base_lr <= max_lr`.
    """
    what = (
        f"`{name}` (the function {function_name(function)}) must return a "
        "pair `(base_lr, max_lr)` of finite real numbers > 0 with "
        "base_lr <= max_lr."
    )
    received = f"Received: {function_name(function)}(...) returned {value!r}"
    if getattr(value, "shape", None) == (2,) and hasattr(value, "tolist"):
        value = tuple(value.tolist())  # A NumPy array of two numbers.
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{what} {received} of type {type(value).__name__}")
    for item in value:
        if not is_real(item):
            raise TypeError(
                f"{what} {received}, holding {item!r} of type "
                f"{type(item).__name__}"
            )
    base_lr, max_lr = (float(item) for item in value)
    if not (
        math.isfinite(base_lr)
        and math.isfinite(max_lr)
        and 0 < base_lr <= max_lr
    ):
        raise ValueError(f"{what} {received}")
    return base_lr, max_lr
