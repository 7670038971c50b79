"""Replacing an optimizer's learning rate for the length of a `fit`.

`CyclicLR` and `lr_range_test` set the rate of every update themselves:
`rate_owner` finds the optimizer whose rate a training step reads, and
`override_learning_rate` makes every read of that rate call a function of
theirs, without touching the optimizer's variables.
"""

import keras

from clr_optimizers._compat import optional_keras_classes
from clr_optimizers._keras_private import rate_hook_name


def rate_owner(optimizer, name):
    """The optimizer whose learning rate a training step reads.

    Args:
        optimizer: The model's optimizer (`model.optimizer`), or None.
        name: The name of the caller, for the error messages.

    Returns:
        `optimizer`, or the optimizer inside a `LossScaleOptimizer`.

    Raises:
        ValueError: If `optimizer` is None (the model is not compiled).
        TypeError: If `optimizer` is not a `keras.optimizers.Optimizer`, or
            is a `MultiOptimizer`, whose optimizers each have their own rate.

    Examples:
        >>> import keras
        >>> from clr_optimizers._callbacks._rate_override import rate_owner
        >>> sgd = keras.optimizers.SGD(learning_rate=0.01)
        >>> optimizer = keras.optimizers.LossScaleOptimizer(sgd)
        >>> rate_owner(optimizer, "CyclicLR") is sgd
        True
    """
    if optimizer is None:
        raise ValueError(
            f"`{name}` needs a compiled model: call `model.compile(optimizer="
            "..., loss=...)` first. Received: model.optimizer=None"
        )
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            f"`{name}` needs a `keras.optimizers.Optimizer`. "
            f"Received: optimizer={optimizer!r}"
        )
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    if isinstance(optimizer, optional_keras_classes("MultiOptimizer")):
        raise TypeError(
            f"`{name}` cannot set one learning rate for a MultiOptimizer, "
            "whose optimizers each have their own. "
            f"Received: optimizer={optimizer!r}"
        )
    return optimizer


def override_learning_rate(optimizer, rate_fn, owner):
    """Makes every read of `optimizer`'s learning rate call `rate_fn()`.

    The override is an attribute of the optimizer instance, so the
    optimizer's variables (and thus saving and checkpoints) are untouched.

    Args:
        optimizer: The optimizer, as `rate_owner` returns it.
        rate_fn: A function of no arguments returning the rate of the update
            in progress; a plain function (it gets an attribute naming
            `owner`).
        owner: The object that sets the rate, named in the error when
            another one already sets it.

    Returns:
        A function that removes the override (restoring any earlier one).

    Raises:
        ValueError: If another owner already overrides the rate.

    Examples:
        >>> import keras
        >>> from clr_optimizers._callbacks import _rate_override
        >>> weight = keras.Variable([1.0])
        >>> optimizer = keras.optimizers.SGD(learning_rate=0.1)
        >>> optimizer.build([weight])
        >>> restore = _rate_override.override_learning_rate(
        ...     optimizer, lambda: 0.01, owner="demo"
        ... )
        >>> optimizer.apply([keras.ops.ones((1,))], [weight])  # at 0.01
        >>> round(float(keras.ops.convert_to_numpy(weight)[0]), 6)
        0.99
        >>> restore()
        >>> optimizer.apply([keras.ops.ones((1,))], [weight])  # at 0.1
        >>> round(float(keras.ops.convert_to_numpy(weight)[0]), 6)
        0.89
    """
    hook = rate_hook_name()
    previous = optimizer.__dict__.get(hook)
    current_owner = getattr(previous, "_clr_owner", None)
    if previous is not None and current_owner is not owner:
        raise ValueError(
            f"The learning rate of optimizer '{optimizer.name}' is already "
            f"set by {current_owner!r}: one schedule at a time. "
            f"Received: {owner!r}"
        )
    rate_fn._clr_owner = owner
    object.__setattr__(optimizer, hook, rate_fn)

    def restore():
        if optimizer.__dict__.get(hook) is rate_fn:
            object.__delattr__(optimizer, hook)

    return restore
