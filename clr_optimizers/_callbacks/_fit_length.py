"""The number of updates a `fit` applies, from its parameters."""

from clr_optimizers._callbacks._rate_override import rate_owner


def updates_in_fit(model, params, name):
    """The updates of a whole fit and of one epoch.

    A fit of `epochs` epochs of `steps` batches applies
    `epochs * steps // gradient_accumulation_steps` updates: Keras counts
    the micro-batches of an accumulation window across epochs, so a partial
    window at an epoch's end is completed in the next and one left at the
    end of the fit applies nothing. `steps_per_execution` changes nothing.
    `epochs` is the fit's final epoch, so a fit resumed from
    `initial_epoch` plans the same length as the uninterrupted one.

    Args:
        model: The model `fit` trains.
        params: The callback's `params` (`epochs` and `steps` of the fit).
        name: The caller's name, for the error message.

    Returns:
        `(total_updates, updates_per_epoch)`: an int, and a float.

    Raises:
        ValueError: If the number of batches per epoch is unknown (data of
            unknown length without `steps_per_epoch`).

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> sgd = keras.optimizers.SGD(gradient_accumulation_steps=4)
        >>> model.compile(optimizer=sgd, loss="mse")
        >>> updates_in_fit(model, {"epochs": 3, "steps": 10}, "OneCycle")
        (7, 2.5)
    """
    params = params or {}
    epochs, steps = params.get("epochs"), params.get("steps")
    if not steps or not epochs:
        raise ValueError(
            f"`{name}` plans the schedule from the number of updates of the "
            "fit, but the number of batches per epoch is unknown (data of "
            "unknown length): pass `steps_per_epoch` to `fit`, or give the "
            f"lengths in updates. Received: epochs={epochs!r}, "
            f"steps_per_epoch={steps!r}"
        )
    optimizer = model.optimizer
    accumulation = getattr(optimizer, "gradient_accumulation_steps", None)
    if not accumulation:
        accumulation = rate_owner(optimizer, name).gradient_accumulation_steps
    accumulation = accumulation or 1
    return int(epochs) * int(steps) // accumulation, steps / accumulation
