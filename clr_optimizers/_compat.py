"""The Keras releases the package is tested with, and what differs among them.

The private Keras names the package uses, and their check at import, are in
`_keras_private`.
"""

import functools
import re

import keras

# The oldest and the newest (major, minor) Keras releases the tests run on.
OLDEST_TESTED_KERAS = (3, 10)
NEWEST_TESTED_KERAS = (3, 15)

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

    Examples:
        >>> optional_keras_classes("SGD", "NoSuchOptimizer")
        (<class 'keras.src.optimizers.sgd.SGD'>,)
    """
    return tuple(
        getattr(keras.optimizers, name)
        for name in names
        if hasattr(keras.optimizers, name)
    )


@functools.lru_cache(maxsize=8)
def keras_version(version=None):
    """`(major, minor)` of a Keras version string such as `"3.15.1"`.

    Args:
        version: A version string. Defaults to the installed Keras's.

    Examples:
        >>> keras_version("3.16.0.dev2026112903")
        (3, 16)
    """
    version = keras.__version__ if version is None else version
    major, minor = re.match(r"(\d+)\.(\d+)", version).groups()
    return int(major), int(minor)


def format_version(version):
    """`"3.10"` for `(3, 10)`."""
    return ".".join(str(part) for part in version)


def tested_range():
    """The tested Keras range, as text, e.g. `"3.10 to 3.15"`."""
    oldest = format_version(OLDEST_TESTED_KERAS)
    return f"{oldest} to {format_version(NEWEST_TESTED_KERAS)}"


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

    Examples:
        >>> last_batch_of_execution(16, 19, 8, steps=20)
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

    Examples:
        >>> error = missing_optimizer_error("ScheduleFreeAdamW", "3.12.0")
        >>> str(error).split(". ")[0]
        'clr_optimizers.ScheduleFreeAdamW needs Keras >= 3.14, which added it'
    """
    version = keras.__version__ if version is None else version
    needed, why = INTRODUCED_IN[name]
    return AttributeError(
        f"clr_optimizers.{name} needs Keras >= {format_version(needed)}, "
        f"{why}. Received: keras=={version}. Upgrade with: "
        f"pip install 'keras>={format_version(needed)}'"
    )
