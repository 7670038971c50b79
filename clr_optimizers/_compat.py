"""The Keras versions the package is tested with, and a check of its hooks.

The mixin overrides three private methods of `keras.optimizers.Optimizer`.
`check_keras` runs at import: a Keras that lacks one of them, or has one with
another signature, cannot run the cycle, so the import fails with the reason;
a Keras newer than the newest tested minor release gets one warning.
"""

import inspect
import re
import warnings

import keras

# The oldest and the newest (major, minor) Keras releases the tests run on.
OLDEST_TESTED_KERAS = (3, 10)
NEWEST_TESTED_KERAS = (3, 15)

# Each overridden method, with the parameters the mixin's override takes.
HOOKS = {
    "_get_current_learning_rate": ("self",),
    "_backend_apply_gradients": ("self", "grads", "trainable_variables"),
    "_backend_update_step": (
        "self",
        "grads",
        "trainable_variables",
        "learning_rate",
    ),
}

# Optimizer classes that not every supported Keras has (or has in a form the
# package can run): the first release that serves, and why.
INTRODUCED_IN = {
    "Muon": (
        (3, 13),
        "whose Muon keeps its state by variable index (before 3.13, Muon "
        "fails on the TensorFlow backend: it reads `variable.path` of "
        "TensorFlow variables)",
    ),
    "ScheduleFreeAdamW": ((3, 14), "which added it"),
}


def optional_keras_classes(*names):
    """The classes of `keras.optimizers` among `names` that Keras has.

    For `isinstance`/`issubclass` checks against classes that older
    supported releases lack (`MultiOptimizer` before 3.11,
    `ScheduleFreeAdamW` before 3.14); an empty tuple matches nothing.

    Example:

    >>> optional_keras_classes("SGD", "NoSuchOptimizer")
    (<class 'keras.src.optimizers.sgd.SGD'>,)
    """
    return tuple(
        getattr(keras.optimizers, name)
        for name in names
        if hasattr(keras.optimizers, name)
    )


def keras_version(version=None):
    """`(major, minor)` of a Keras version string such as `"3.15.1"`.

    Args:
        version: A version string. Defaults to the installed Keras's.

    Example:

    >>> keras_version("3.16.0.dev2026112903")
    (3, 16)
    """
    version = keras.__version__ if version is None else version
    major, minor = re.match(r"(\d+)\.(\d+)", version).groups()
    return int(major), int(minor)


def _format(version):
    return ".".join(str(part) for part in version)


def tested_range():
    """The tested Keras range, as text, e.g. `"3.10 to 3.15"`."""
    return f"{_format(OLDEST_TESTED_KERAS)} to {_format(NEWEST_TESTED_KERAS)}"


def missing_hooks(optimizer_class):
    """What `optimizer_class` lacks of the overridden methods, as messages.

    Args:
        optimizer_class: A Keras optimizer class.

    Returns:
        A list of strings, one per missing method or changed signature; empty
        when every hook is there as the mixin expects it.
    """
    problems = []
    for name, expected in HOOKS.items():
        method = getattr(optimizer_class, name, None)
        if not callable(method):
            problems.append(f"`{optimizer_class.__name__}.{name}` is missing")
            continue
        try:
            parameters = tuple(inspect.signature(method).parameters)
        except (TypeError, ValueError):
            parameters = None
        if parameters != expected:
            problems.append(
                f"`{optimizer_class.__name__}.{name}` takes "
                f"({', '.join(parameters or ('?',))}), expected "
                f"({', '.join(expected)})"
            )
    return problems


def check_keras(optimizer_classes, version=None):
    """Checks that the installed Keras runs the cycle; warns when untested.

    Args:
        optimizer_classes: The Keras optimizer classes the package extends.
        version: The Keras version string. Defaults to the installed one.

    Raises:
        ImportError: If Keras is older than the oldest tested release (whose
            optimizers update `iterations` at another point), or if a class
            lacks one of the overridden methods or has it with another
            signature. The message names the installed Keras, the tested
            range and what is missing.
    """
    version = keras.__version__ if version is None else version
    installed = keras_version(version)
    if installed < OLDEST_TESTED_KERAS:
        raise ImportError(
            f"clr_optimizers needs Keras {_format(OLDEST_TESTED_KERAS)} or "
            f"newer (tested: {tested_range()}); older releases update the "
            "optimizer's `iterations` at another point of the step. "
            f"Received: keras=={version}. Upgrade with: "
            f"pip install 'keras>={_format(OLDEST_TESTED_KERAS)}'"
        )
    problems = []
    for optimizer_class in optimizer_classes:
        for problem in missing_hooks(optimizer_class):
            if problem not in problems:
                problems.append(problem)
    if problems:
        raise ImportError(
            f"clr_optimizers cannot run on the installed Keras {version} "
            f"(tested: {tested_range()}): it overrides private optimizer "
            f"methods that this Keras changed: {'; '.join(problems)}. Install "
            f"a tested Keras: pip install 'keras>={_format(OLDEST_TESTED_KERAS)}"
            f",<{NEWEST_TESTED_KERAS[0]}.{NEWEST_TESTED_KERAS[1] + 1}'"
        )
    if installed > NEWEST_TESTED_KERAS:
        warnings.warn(
            f"clr_optimizers is tested with Keras {tested_range()}; the "
            f"installed Keras {version} is newer. Its optimizer methods that "
            "the package overrides have the expected signatures, so it is "
            "used; report any difference in the rates.",
            UserWarning,
            stacklevel=2,
        )


def last_batch_of_execution(begin, end, steps_per_execution, steps=None):
    """The index of the last batch that one execution of `fit` trained.

    Keras 3.11 and newer pass it to `on_train_batch_end` (`end`); Keras 3.10
    passes the execution's first batch (`end == begin`), so there it is
    `begin + steps_per_execution - 1`, capped by the epoch's last batch.

    Args:
        begin: The batch index given to `on_train_batch_begin`.
        end: The batch index given to `on_train_batch_end`.
        steps_per_execution: The model's `steps_per_execution`.
        steps: Batches in the epoch, or None if unknown.

    Example:

    >>> last_batch_of_execution(16, 16, 8, steps=20)  # on Keras 3.10
    19
    """
    if keras_version() >= (3, 11):
        last = end
    else:
        last = begin + max(int(steps_per_execution), 1) - 1
    return min(last, steps - 1) if steps else last


def has_optimizer(name, version=None):
    """Whether the package offers the optimizer class `name` on this Keras.

    Args:
        name: A Keras optimizer class name, such as `"Muon"`.
        version: A Keras version string. Defaults to the installed one.
    """
    if not hasattr(keras.optimizers, name):
        return False
    if name not in INTRODUCED_IN:
        return True
    return keras_version(version) >= INTRODUCED_IN[name][0]


def missing_optimizer_error(name, version=None):
    """The AttributeError for an optimizer class the installed Keras lacks.

    Args:
        name: The class name, such as `"ScheduleFreeAdamW"`.
        version: The installed Keras version string. Defaults to the
            installed one.

    Example:

    >>> print(missing_optimizer_error("ScheduleFreeAdamW", "3.12.0"))
    clr_optimizers.ScheduleFreeAdamW needs Keras >= 3.14, which added it. Received: keras==3.12.0. Upgrade with: pip install 'keras>=3.14'
    """
    version = keras.__version__ if version is None else version
    needed, why = INTRODUCED_IN[name]
    return AttributeError(
        f"clr_optimizers.{name} needs Keras >= {_format(needed)}, {why}. "
        f"Received: keras=={version}. Upgrade with: "
        f"pip install 'keras>={_format(needed)}'"
    )
