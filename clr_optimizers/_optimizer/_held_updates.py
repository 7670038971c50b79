"""The end-of-`fit` warning of updates that applied a held rate."""

import warnings

import keras
from keras import ops

from clr_optimizers._keras_private import learning_rate_variable


def scalar_value(value):
    """A variable's value as a Python number; anything else as it is."""
    if isinstance(value, keras.Variable):
        return ops.convert_to_numpy(value).item()
    return value


def warn_of_held_updates(optimizer):
    """Warns if `optimizer.held_updates` grew since the last warning.

    Such updates applied the held rate because the cycle's settings were
    invalid (see `CyclicalLearningRateMixin`). The warning is a
    `RuntimeWarning` that gives the count and the settings.
    """
    if optimizer.held_updates is None:
        return
    try:
        held = int(ops.convert_to_numpy(optimizer.held_updates))
    except Exception:
        # After a failed JAX `fit` the variables may hold no value; the
        # warning must not hide the error that ended training.
        return
    reported = optimizer._held_updates_reported
    if held > reported:
        settings = (
            ("learning_rate", learning_rate_variable(optimizer)),
            ("max_lr", optimizer.max_lr),
            ("step_size", optimizer.step_size),
            ("step_size_down", optimizer.step_size_down),
            ("clr_iterations", optimizer.clr_iterations),
        )
        warnings.warn(
            f"Optimizer '{optimizer.name}' held its learning rate for "
            f"{held - reported} update(s) ({held} in all, counted in "
            "`held_updates`): the cycle's settings were invalid, so those "
            "updates applied the last valid rate, "
            f"current_lr={scalar_value(optimizer.current_lr)}, and did not "
            "advance the cycle. The base learning rate and max_lr must be "
            "finite and >= 0, step sizes >= 1, and the rate they give (and "
            "a scale_fn's momentum) in range. Received: "
            + ", ".join(
                f"{key}={scalar_value(value)}"
                for key, value in settings
                if value is not None
            ),
            RuntimeWarning,
            stacklevel=3,
        )
    optimizer._held_updates_reported = held
