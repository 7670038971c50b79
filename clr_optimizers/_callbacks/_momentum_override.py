"""Replacing an optimizer's momentum term with a schedule for a `fit`.

`OneCycle` cycles the momentum term of any Keras optimizer that has one
(`momentum` of SGD and RMSprop, `beta_1` of the Adam family and Lion): for
the length of a `fit`, a `ScheduledHyperparameter` stands in the attribute
and gives each update its value, computed in the training step. The
optimizer's config keeps reporting the original value (a model saved during
the `fit` saves it), and PyTorch's fused optimizers, whose
`torch._foreach_*` calls take only numbers and tensors, get the update's
value as a tensor (`momentum_as_value`).
"""

import numbers

from clr_optimizers._keras_private import FUSED_UPDATE_HOOK
from clr_optimizers._optimizer._momentum import ScheduledHyperparameter
from clr_optimizers._optimizer._momentum import find_momentum_attribute
from clr_optimizers._optimizer._momentum import momentum_as_value

_FUSED_UPDATE = FUSED_UPDATE_HOOK


def momentum_attribute(optimizer, low, high):
    """The name of `optimizer`'s momentum term if it is a number > 0.

    Args:
        optimizer: A Keras optimizer (the one inside a `LossScaleOptimizer`).
        low: The lowest value the schedule gives, for the error messages.
        high: The highest value the schedule gives.

    Returns:
        `"momentum"` or `"beta_1"`, or None: the optimizer has no momentum
        term (Adagrad, say), has it at 0 (SGD's default), or has a `beta_1`
        that is not a momentum (ScheduleFreeAdamW).

    Examples:
        >>> import keras
        >>> adam = keras.optimizers.Adam()
        >>> momentum_attribute(adam, 0.85, 0.95)
        'beta_1'
        >>> print(momentum_attribute(keras.optimizers.SGD(), 0.85, 0.95))
        None
    """
    config = {"base_momentum": low, "max_momentum": high}
    try:
        name = find_momentum_attribute(type(optimizer), config)
    except ValueError:
        return None
    value = getattr(optimizer, name, None)
    if isinstance(value, ScheduledHyperparameter):
        return name  # Already cycled: `override_momentum` says by whom.
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not value > 0
    ):
        return None
    return name


def override_momentum(optimizer, attribute, read, low, high):
    """Makes every read of `optimizer`'s momentum term call `read()`.

    Args:
        optimizer: The optimizer, as `rate_owner` returns it.
        attribute: The momentum term's name (`momentum_attribute`).
        read: A function of no arguments returning the momentum of the
            update in progress, a scalar tensor.
        low: The lowest value `read` gives.
        high: The highest value `read` gives.

    Returns:
        A function that puts the original value back.

    Raises:
        ValueError: If something else already schedules the term.

    Examples:
        >>> import keras
        >>> from keras import ops
        >>> sgd = keras.optimizers.SGD(momentum=0.9)
        >>> restore = override_momentum(
        ...     sgd, "momentum", lambda: ops.convert_to_tensor(0.8), 0.8, 0.8
        ... )
        >>> round(float(sgd.momentum), 6), sgd.get_config()["momentum"]
        (0.8, 0.9)
        >>> restore()
        >>> sgd.momentum
        0.9
    """
    original = getattr(optimizer, attribute)
    if isinstance(original, ScheduledHyperparameter):
        raise ValueError(
            f"The momentum term `{attribute}` of optimizer "
            f"'{optimizer.name}' is already cycled by another schedule: "
            f"one schedule at a time. Received: {attribute}={original!r}"
        )
    stand_in = ScheduledHyperparameter(read, low, high)
    setattr(optimizer, attribute, stand_in)
    overrides = {}

    own_config = optimizer.get_config

    def get_config():
        config = own_config()
        if attribute in config:
            config[attribute] = original
        return config

    overrides["get_config"] = get_config
    fused_update = getattr(optimizer, _FUSED_UPDATE, None)
    if fused_update is not None:

        def update(grads, variables, learning_rate):
            with momentum_as_value(optimizer, attribute):
                return fused_update(grads, variables, learning_rate)

        overrides[_FUSED_UPDATE] = update
    for name, function in overrides.items():
        object.__setattr__(optimizer, name, function)

    def restore():
        if getattr(optimizer, attribute, None) is stand_in:
            setattr(optimizer, attribute, original)
        for name, function in overrides.items():
            if optimizer.__dict__.get(name) is function:
                object.__delattr__(optimizer, name)

    return restore
