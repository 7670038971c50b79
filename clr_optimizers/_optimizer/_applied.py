"""The rates and momenta an optimizer's updates applied, read on the host.

An optimizer's schedule is a function of its settings' variables and of two
counts, the position in the cycle (`clr_iterations`) and the updates applied
(`iterations`, for `decay`). `AppliedSchedule` reads the settings when asked
and evaluates the same policy functions in Python float64 (`HostOps`) at any
position, so a record of every update costs no work in the training step.
"""

import keras
from keras import ops

from clr_optimizers._keras_private import carried_optimizer_variables
from clr_optimizers._keras_private import learning_rate_variable
from clr_optimizers._keras_private import micro_batch_counter
from clr_optimizers._policy._ops import HostOps


def _carried_state(model):
    """Each optimizer variable's value as a JAX `fit` carries it, by id."""
    carried = carried_optimizer_variables(model)
    if carried is None:
        return {}
    variables = model.optimizer.variables
    return {id(v): value for v, value in zip(variables, carried)}


def _number(value):
    return ops.convert_to_numpy(value).item()


class _Scalars:
    """The `scalars` of a `HostOps`: variables' values, read in advance.

    Counters are overridden per update; a variable not read in advance (the
    held rate, read only when the settings are invalid) is read when asked.
    """

    def __init__(self):
        self.values = {}
        self.overrides = {}
        self.state = {}
        self.seen = []

    def read(self, variable):
        key = id(variable)
        if key in self.overrides:
            return self.overrides[key]
        if key not in self.values:
            self.seen.append(variable)
            self.values[key] = _number(self.state.get(key, variable))
        return self.values[key]


class AppliedSchedule:
    """The schedule an optimizer applies, evaluated on the host.

    Args:
        optimizer: The optimizer whose rate the step reads (the one inside
            a `LossScaleOptimizer`): of clr_optimizers, or any Keras
            optimizer (its learning rate, or its schedule's value).
        model: The model `fit` trains, whose carried state (JAX) holds the
            current values; None outside `fit`.

    Examples:
        >>> import clr_optimizers as co
        >>> opt = co.SGD(
        ...     learning_rate=0.001,
        ...     clr={"mode": "triangular", "step_size": 4, "max_lr": 0.006},
        ... )
        >>> schedule = AppliedSchedule(opt)
        >>> schedule.read_counts()
        (0, 0)
        >>> [round(schedule.values(n, n)[0], 6) for n in range(3)]
        [0.001, 0.00225, 0.0035]
    """

    def __init__(self, optimizer, model=None):
        self.optimizer = optimizer
        self.model = model
        self.momentum_name = getattr(optimizer, "_momentum_attribute", None)
        self.accumulation = optimizer.gradient_accumulation_steps or 1
        self._has_schedule = hasattr(optimizer, "_schedule")
        self._scalars = _Scalars()
        # The settings the schedule reads, found by evaluating it once.
        self.values(0, 0)
        self._settings = list(self._scalars.seen)

    def read_counts(self):
        """`(position, iterations)`: the cycle's position (`iterations`
        without a cycle) and the updates applied, read now; also reads the
        settings afresh."""
        state = _carried_state(self.model)
        iterations = (
            _number(state.get(id(self._counter), self._counter))
            // self.accumulation
        )
        position = iterations
        cycle_position = getattr(self.optimizer, "clr_iterations", None)
        if cycle_position is not None:
            position = _number(state.get(id(cycle_position), cycle_position))
        self.refresh(state)
        return position, iterations

    @property
    def _counter(self):
        return micro_batch_counter(self.optimizer)

    def refresh(self, state=None):
        """Reads the settings' current values (once per epoch in `fit`)."""
        scalars = self._scalars
        scalars.state = _carried_state(self.model) if state is None else state
        values = [_number(scalars.state.get(id(v), v)) for v in self._settings]
        scalars.values = {id(v): x for v, x in zip(self._settings, values)}

    def values(self, position, update):
        """The rate and momentum (None if not cycled) of an update.

        Args:
            position: The update's position in the cycle.
            update: The optimizer's `iterations` when it was applied (from 0).

        Returns:
            `(rate, momentum)`, Python floats (momentum None without a
            cycled momentum term), from the settings last read.
        """
        scalars = self._scalars
        if not self._has_schedule:
            return self._keras_rate(update), None
        optimizer = self.optimizer
        scalars.overrides = {id(self._counter): update * self.accumulation}
        if getattr(optimizer, "clr_iterations", None) is not None:
            scalars.overrides[id(optimizer.clr_iterations)] = position
        rate, _, momentum = optimizer._schedule(HostOps(scalars))
        return float(rate), None if momentum is None else float(momentum)

    def _keras_rate(self, update):
        rate = learning_rate_variable(self.optimizer)
        if isinstance(rate, keras.Variable):
            return float(self._scalars.read(rate))
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            return float(ops.convert_to_numpy(rate(update)))
        return float(ops.convert_to_numpy(rate()))
