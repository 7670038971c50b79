"""What `CyclicLR` needs to know of each Keras trainer.

`CyclicLR` replaces an optimizer's learning rate, for the length of a `fit`,
with a function of the optimizer's `iterations` and of settings it owns. How
each backend's trainer runs the step decides how those settings reach it:

- TensorFlow traces the step into a graph that reads the settings'
  variables at every execution: assigning them takes effect at the next
  update.
- PyTorch runs the step eagerly: every update reads the variables.
- JAX compiles the step as a pure function of the state it carries (the
  model's, the optimizer's and the metrics' variables, by position); any
  other variable the step reads is a constant of that compilation. So the
  step is recompiled (`retrace`) whenever a setting changes, and the
  optimizer's `iterations` is read from the carried state, which Keras
  writes back to the variables only at the end of each epoch
  (`optimizer_iterations`).
"""

import keras
from keras import ops

from clr_optimizers._keras_private import carried_optimizer_variables
from clr_optimizers._keras_private import micro_batch_counter


def constants_are_traced():
    """Whether the compiled step reads non-carried variables as constants.

    True on JAX, whose trainer carries only the model's, optimizer's and
    metrics' variables.
    """
    return keras.backend.backend() == "jax"


def retrace(model):
    """Makes the next training step read the current settings (JAX).

    Recompiles the model's train function so that variables it reads as
    constants take their current values; a no-op on other backends, whose
    steps read the variables at every update. Keras looks the train function
    up before every step, so this takes effect at the next one, also in the
    middle of `fit`.

    Args:
        model: A compiled `keras.Model`, or None (nothing to do).

    Examples:
        >>> import keras
        >>> from clr_optimizers._callbacks._trainer_state import retrace
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> _ = model.make_train_function()
        >>> retrace(model)  # on JAX, a new train function; elsewhere, a no-op
        >>> model.train_function is not None
        True
    """
    if model is None or not constants_are_traced():
        return
    if getattr(model, "train_function", None) is not None:
        model.make_train_function(force=True)


def optimizer_iterations(model, optimizer):
    """The updates `optimizer` has applied, as a Python int.

    During a JAX `fit`, the trainer carries the optimizer's variables from
    step to step and writes them back to the Keras variables only at the end
    of each epoch; this reads the carried value. Elsewhere it reads
    `optimizer.iterations`.

    Args:
        model: The model being trained, or None.
        optimizer: The optimizer whose `iterations` to read (the one inside
            a `LossScaleOptimizer`, say).

    Returns:
        An int.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from clr_optimizers._callbacks import _trainer_state
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> seen = []
        >>> record = keras.callbacks.LambdaCallback(
        ...     on_train_batch_end=lambda batch, logs: seen.append(
        ...         _trainer_state.optimizer_iterations(model, model.optimizer)
        ...     )
        ... )
        >>> x, y = np.random.rand(32, 4), np.random.rand(32, 1)
        >>> _ = model.fit(x, y, batch_size=8, verbose=0, callbacks=[record])
        >>> seen  # on JAX, read from the state that `fit` carries
        [1, 2, 3, 4]
    """
    carried = None if model is None else carried_optimizer_variables(model)
    if carried is not None:
        # `iterations` is computed from the micro-batch count (with gradient
        # accumulation).
        counter = micro_batch_counter(optimizer)
        for variable, value in zip(model.optimizer.variables, carried):
            if variable is counter:
                value = int(ops.convert_to_numpy(value))
                steps = optimizer.gradient_accumulation_steps
                return value // steps if steps else value
    return int(ops.convert_to_numpy(optimizer.iterations))
