"""Attaching `CyclicLR` or `OneCycle` to the optimizer of the model it trains.

While `fit` runs, the callback's rate replaces the optimizer's own
(`override_learning_rate`), and the callback counts the updates as the
optimizer's `iterations` less an offset, a Keras variable the training step
reads: `CyclicLR` counts the updates applied since it started, and between
fits keeps the count on the host, so the cycle goes on where it stopped;
`OneCycle` counts the optimizer's `iterations` themselves (offset 0). While
attached, every change of the count or the settings is carried to the
optimizer's `learning_rate` variable, to the scale table and, on JAX, to
the compiled step.
"""

import keras
from keras import ops

from clr_optimizers._callbacks._rate_override import override_learning_rate
from clr_optimizers._callbacks._rate_override import rate_owner
from clr_optimizers._callbacks._trainer_state import constants_are_traced
from clr_optimizers._callbacks._trainer_state import optimizer_iterations
from clr_optimizers._callbacks._trainer_state import retrace
from clr_optimizers._keras_private import learning_rate_variable
from clr_optimizers._optimizer._mixin import CyclicalLearningRateMixin


def driven_optimizer(model, name):
    """The optimizer of `model` whose learning rate a callback can set.

    Args:
        model: The model the callback trains.
        name: The callback's class name, for the error messages.

    Returns:
        The optimizer whose rate the training step reads (the one inside a
        `LossScaleOptimizer`).

    Raises:
        ValueError: If the model is not compiled, or the optimizer has a
            cyclical learning rate or decay of its own.
        TypeError: If the optimizer is not a Keras optimizer, is a
            `MultiOptimizer`, or has a schedule or callable learning rate.

    Examples:
        >>> import keras
        >>> from clr_optimizers._callbacks._attachment import driven_optimizer
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> sgd = keras.optimizers.SGD(learning_rate=0.01)
        >>> model.compile(keras.optimizers.LossScaleOptimizer(sgd), loss="mse")
        >>> driven_optimizer(model, "CyclicLR") is sgd
        True
    """
    optimizer = rate_owner(getattr(model, "optimizer", None), name)
    if (
        isinstance(optimizer, CyclicalLearningRateMixin)
        and optimizer._changes_the_rate
    ):
        raise ValueError(
            f"Optimizer '{optimizer.name}' has a cyclical learning rate "
            f"or decay of its own: with `{name}` it would follow two "
            f"schedules at once. Use `{type(optimizer).__name__}("
            "clr=None)` or a plain keras.optimizers class with the "
            "callback, or the optimizer's `clr` without the callback. "
            f"Received: clr={optimizer.clr!r}, decay={optimizer.decay!r}"
        )
    learning_rate = learning_rate_variable(optimizer)
    if not isinstance(learning_rate, keras.Variable):
        raise TypeError(
            f"`{name}` sets the learning rate itself: build optimizer "
            f"'{optimizer.name}' with a float `learning_rate`, not a "
            "schedule or a callable. Received: "
            f"learning_rate={learning_rate!r}"
        )
    return optimizer


class OptimizerAttachment:
    """The optimizer a callback drives, and the count of its updates.

    While attached, the count is `optimizer.iterations - offset`; detached,
    it is the count saved at detaching (or set since). While attached,
    `sync` carries every change of the settings or the count to the
    optimizer's `learning_rate` variable, the scale table and (on JAX) the
    compiled step.

    Args:
        rates: The callback's rates: `CycleRates` or `OneCycleRates`, with
            `graph_rate(count)`, `host_rate(count)` and `settings()` (the
            values the training step reads, which JAX compiles in).
        table: The callback's `ScaleTable` (only with `CycleRates`), or None.
        from_iterations: Whether the count is the optimizer's `iterations`
            itself (offset 0, as `OneCycle` counts) rather than the updates
            applied since the callback started. Defaults to False.

    Attributes:
        optimizer: The driven optimizer, or None when detached.
        model: The model being trained, or None when detached.
        offset: The int64 Keras variable that the training step subtracts
            from the optimizer's `iterations`.
        saved_count: The count while detached, an int.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from clr_optimizers._callbacks import _attachment
        >>> from clr_optimizers._callbacks._cycle_rates import CycleRates
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> rates = CycleRates(0.001, 0.006, 4, "triangular", 1.0, None)
        >>> attachment = _attachment.OptimizerAttachment(rates, None)
        >>> attachment.attach(model, {}, owner=keras.callbacks.Callback())
        >>> x, y = np.random.rand(32, 4), np.random.rand(32, 1)
        >>> _ = model.fit(x, y, batch_size=8, verbose=0)  # 4 updates
        >>> attachment.detach()
        >>> attachment.count()
        4
        >>> round(float(model.optimizer.learning_rate), 6)  # the next rate
        0.006
    """

    def __init__(self, rates, table, from_iterations=False):
        self.offset = keras.Variable(
            0, name="clr_offset", dtype="int64", trainable=False
        )
        self.from_iterations = from_iterations
        self.saved_count = 0
        self.optimizer = None
        self.model = None
        self._rates = rates
        self._table = table
        self._restore = None
        self._traced = None

    @property
    def attached(self):
        """Whether a fit with the callback is in progress."""
        return self.optimizer is not None

    # The count.

    def count(self):
        """The updates counted, a Python int."""
        if self.optimizer is None:
            return self.saved_count
        iterations = optimizer_iterations(self.model, self.optimizer)
        return max(iterations - self._offset_value(), 0)

    def set_count(self, count):
        """Makes the next update the number `count` (an int >= 0)."""
        self.saved_count = count
        if self.optimizer is not None:
            iterations = optimizer_iterations(self.model, self.optimizer)
            self.offset.assign(iterations - count)
            self.sync()

    def _offset_value(self):
        return int(ops.convert_to_numpy(self.offset))

    def graph_count(self):
        """The number of the update in progress (or the next), a tensor."""
        iterations = self.optimizer.iterations
        return ops.maximum(
            iterations - ops.cast(self.offset, iterations.dtype), 0
        )

    # Keeping the optimizer and the training step in step with the cycle.

    def sync(self):
        """Refreshes the table and the optimizer's learning rate variable.

        Called after every change of the settings or the count, and after
        every batch; does nothing while detached.
        """
        if self.optimizer is None:
            return
        if self._table is not None:
            self._table.invalidate()
        self._fill_table()
        learning_rate_variable(self.optimizer).assign(
            self._rates.host_rate(self.count())
        )
        self._retrace_if_changed()

    def prepare_execution(self):
        """Makes the next execution read the current settings.

        Fills the scale table for the updates the execution can reach;
        on JAX, recompiles the step if a setting it reads has changed.
        """
        self._fill_table()
        self._retrace_if_changed()

    def _fill_table(self):
        """Puts scale_fn's values for the next execution in the table."""
        if self._table is not None and self.optimizer is not None:
            position = self._rates.position(self.count())
            self._table.fill(position, self._rates.step_size)

    def _settings(self):
        """The values the training step reads from the callback's variables."""
        return (
            *self._rates.settings(),
            self._offset_value(),
            None if self._table is None else self._table.key,
        )

    def _retrace_if_changed(self):
        # JAX's compiled step reads the callback's variables as constants:
        # recompile it when they change (see `_trainer_state`).
        if self.model is None or not constants_are_traced():
            return
        settings = self._settings()
        if settings != self._traced:
            retrace(self.model)
            self._traced = settings

    # Attaching and detaching.

    def attach(self, model, params, owner):
        """Makes the optimizer of `model` read its rate from the cycle.

        The count goes on from the saved one. Detaches first if attached.

        Args:
            model: The model being trained.
            params: The callback's `params` (epochs and steps of the fit).
            owner: The callback, named when another one sets the rate.

        Raises:
            ValueError: If the optimizer cannot be driven (see
                `driven_optimizer`), another callback sets its rate, or (on
                JAX, with a scale table) the fit's number of steps is
                unknown.
            TypeError: If the optimizer cannot be driven.
        """
        name = type(owner).__name__
        optimizer = driven_optimizer(model, name)
        self.detach()

        def rate():
            return self._rates.graph_rate(self.graph_count())

        self._restore = override_learning_rate(optimizer, rate, owner)
        self.optimizer = optimizer
        self.model = model
        try:
            iterations = optimizer_iterations(model, optimizer)
            self.offset.assign(
                0 if self.from_iterations else iterations - self.saved_count
            )
            if self._table is not None:
                self._table.resize(*_table_size(model, params, name))
            self.sync()
        except BaseException:
            self._release()
            raise
        # A train function traced before read the optimizer's own rate.
        model.make_train_function(force=True)
        self._traced = self._settings()

    def detach(self):
        """Saves the count and gives the optimizer its own rate back."""
        if self.optimizer is None:
            return
        self.saved_count = self.count()
        self.sync()
        model = self.model
        self._release()
        # The traced train function reads the callback's rate: retrace.
        model.train_function = None

    def _release(self):
        self._restore()
        self.optimizer = None
        self.model = None
        self._restore = None


def _table_size(model, params, name):
    """The length of the scale table for a fit, and an execution's reach.

    Returns:
        `(length, reach)`: an execution applies up to `reach` + 1 updates
        (`steps_per_execution`); on JAX, whose compiled step holds the table
        as a constant, the table covers every update of the fit.
    """
    reach = int(getattr(model, "steps_per_execution", 1))
    length = reach + 1
    if constants_are_traced():
        length = _updates_in_fit(params, name) + 1
    return length, reach


def _updates_in_fit(params, name):
    """The number of updates a fit applies, from the callback's `params`."""
    params = params or {}
    epochs, steps = params.get("epochs"), params.get("steps")
    if not epochs or not steps:
        raise ValueError(
            f"`{name}` with a custom `scale_fn` on the JAX backend "
            "evaluates scale_fn for every update of the fit before it "
            "starts (JAX compiles the step with the values in it), so it "
            "needs the number of steps: pass arrays, or `steps_per_epoch`"
            " with a dataset or generator. "
            f"Received: epochs={epochs!r}, steps={steps!r}"
        )
    return int(epochs) * int(steps)
