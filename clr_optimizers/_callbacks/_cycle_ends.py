"""Where a fit's cycles end, read on the host, for `CycleSnapshots`.

- `CycleEnds`: where the cycles end, in the cycle's count of updates.
- the cycle a fit follows, and its count read on the host (from the state
  that a JAX `fit` carries): an optimizer's `clr` (`_OptimizerCycle`), a
  `CyclicLR` (`_CyclicCallbackCycle`) or a `OneCycle`, or any callback
  with `total_steps` (`_OneCycleCallbackCycle`); `cycle_of` picks it.
- `misaligned_end`: the first cycle end that an execution of
  `steps_per_execution` batches would run past, predicted at the start of
  `fit`.
"""

import math

from keras import ops

from clr_optimizers._callbacks._trainer_state import optimizer_iterations
from clr_optimizers._keras_private import carried_optimizer_variables
from clr_optimizers._optimizer._applied import AppliedSchedule
from clr_optimizers._validation import ONE_CYCLE
from clr_optimizers._validation import is_fit_length


class CycleEnds:
    """Where the cycles end, in the cycle's count of applied updates.

    Cycle `k` (from 1) ends at update `first + period * (k - 1)`; with
    `period` None there is one cycle (1cycle), ending at `first`. "Ends at
    update u" means: once the count reaches u. There is no end when a
    length is below 1 (a length not planned yet).

    Args:
        first: The count at which the first cycle ends.
        period: The updates of a cycle, or None for a single cycle.

    Examples:
        >>> ends = CycleEnds(first=7, period=4)  # a warm-up of 3 updates
        >>> ends.next_after(0), ends.next_after(7), ends.next_after(8)
        ((1, 7), (2, 11), (2, 11))
        >>> CycleEnds(first=10).next_after(10) is None  # 1cycle: one end
        True
    """

    def __init__(self, first, period=None):
        self.first = int(first)
        self.period = None if period is None else int(period)

    @property
    def exist(self):
        """Whether any cycle ends (the lengths are planned and valid)."""
        return self.first >= 1 and (self.period is None or self.period >= 1)

    def next_after(self, position):
        """`(cycle number, end)` of the first end past `position`, or None."""
        if not self.exist:
            return None
        if position < self.first:
            return 1, self.first
        if self.period is None:
            return None
        number = (position - self.first) // self.period + 2
        return number, self.first + self.period * (number - 1)


def scalar_reader(model):
    """A function reading an optimizer variable as a Python int, from the
    state that a JAX `fit` carries while there is one (the variables
    themselves hold no value then)."""
    carried = carried_optimizer_variables(model)
    values = {}
    if carried is not None:
        variables = model.optimizer.variables
        values = {id(v): value for v, value in zip(variables, carried)}

    def read(variable):
        return int(ops.convert_to_numpy(values.get(id(variable), variable)))

    return read


class _OptimizerCycle:
    """The `clr` cycle of a clr_optimizers optimizer: its count is
    `clr_iterations`, its lengths are its variables."""

    def __init__(self, model, optimizer):
        self.model = model
        self.optimizer = optimizer
        self._applied = AppliedSchedule(optimizer, model)

    def planned(self):
        """Whether the lengths are known (a fit plans some of them)."""
        return not getattr(self.optimizer, "_lengths_to_plan", ())

    def position(self):
        return self._applied.read_counts()[0]

    def ends(self):
        optimizer = self.optimizer
        config = optimizer._clr_config
        read = scalar_reader(self.model)
        if config["mode"] == ONE_CYCLE:
            total = config["total_steps"]
            if is_fit_length(total):
                total = read(optimizer.total_steps)
            return CycleEnds(total)
        lengths = {}
        for key in ("step_size", "step_size_down", "warmup_steps"):
            variable = optimizer._length_variable(key)
            lengths[key] = None if variable is None else read(variable)
        up = lengths["step_size"]
        down = lengths["step_size_down"]
        down = up if down is None else down
        warmup = lengths["warmup_steps"] or 0
        if up < 1 or down < 1:
            return CycleEnds(0, 0)
        return CycleEnds(warmup + up + down, up + down)

    def describe(self):
        return f"the `clr` cycle of optimizer '{self.optimizer.name}'"


class _CyclicCallbackCycle:
    """The cycle of a `CyclicLR`: its count is `clr_iterations`, a cycle is
    `2 * step_size` updates after a warm-up of `warmup_steps` (if any)."""

    def __init__(self, callback):
        self.callback = callback

    def planned(self):
        return True

    def position(self):
        return int(self.callback.clr_iterations)

    def ends(self):
        period = 2 * int(self.callback.step_size)
        warmup = int(getattr(self.callback, "warmup_steps", 0) or 0)
        return CycleEnds(warmup + period, period)

    def describe(self):
        return f"the cycle of {type(self.callback).__name__}"


class _OneCycleCallbackCycle:
    """The cycle of a one-cycle callback: it ends once the optimizer's
    `iterations` reaches the callback's `total_steps`."""

    def __init__(self, callback, model, optimizer):
        self.callback = callback
        self.model = model
        self.optimizer = optimizer

    def planned(self):
        return _whole(getattr(self.callback, "total_steps", None)) is not None

    def position(self):
        return optimizer_iterations(self.model, self.optimizer)

    def ends(self):
        total = _whole(getattr(self.callback, "total_steps", None))
        return CycleEnds(0 if total is None else total)

    def describe(self):
        return f"the cycle of {type(self.callback).__name__}"


def _whole(value):
    """`value` as an int if it is a whole number (a planned length)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def cycle_of(model, optimizer, cycle):
    """The cycle that the snapshots follow."""
    if cycle is None:
        return _OptimizerCycle(model, optimizer)
    if hasattr(cycle, "step_size") and hasattr(cycle, "clr_iterations"):
        return _CyclicCallbackCycle(cycle)
    return _OneCycleCallbackCycle(cycle, model, optimizer)


def misaligned_end(
    ends, position, phase, accumulation, steps_per_execution, steps, epochs
):
    """The first cycle end of a fit that falls inside an execution.

    Batch `g` of the fit (from 0, across its epochs) applies an update when
    the optimizer's micro-batch count reaches a multiple of `accumulation`:
    update `j` (from 1) is batch `j * accumulation - phase - 1`, and takes
    the cycle's count to `position + j` (when no update is held). Each epoch
    runs its `steps` batches in executions of `steps_per_execution` (the
    last one shorter), and Keras calls the batch callbacks after each. A
    cycle end is seen exactly when its batch is the last of an execution.

    Args:
        ends: The `CycleEnds`.
        position: The cycle's count at the start of the fit.
        phase: The micro-batch count modulo `accumulation` at the start.
        accumulation: `gradient_accumulation_steps` (1 without).
        steps_per_execution: The model's `steps_per_execution`.
        steps: The batches of an epoch, or None if unknown.
        epochs: The fit's final epoch (every epoch up to it is counted).

    Returns:
        None if every cycle end of the fit is the last batch of an
        execution (or that cannot be known), else `(cycle number, end,
        batch, first batch, last batch)`: the end, its batch in its epoch,
        and the batches of the execution that runs past it.

    Examples:
        >>> ends = CycleEnds(first=4, period=4)  # step_size=2
        >>> misaligned_end(ends, 0, 0, 1, 2, steps=6, epochs=2) is None
        True
        >>> misaligned_end(ends, 0, 0, 1, 4, steps=6, epochs=2)
        (2, 8, 1, 0, 3)
    """
    if steps_per_execution <= 1 or not steps or not epochs:
        return None
    upcoming = ends.next_after(position)
    if upcoming is None:
        return None
    number, end = upcoming
    batches = int(epochs) * int(steps)
    # The batch of each end, modulo an epoch, repeats with this period.
    repeats = 1
    if ends.period is not None:
        stride = ends.period * accumulation
        repeats = steps // math.gcd(steps, stride)
    for _ in range(repeats):
        batch_of_fit = (end - position) * accumulation - phase - 1
        if batch_of_fit >= batches:
            return None
        batch = batch_of_fit % steps
        first = batch - batch % steps_per_execution
        last = min(first + steps_per_execution, steps) - 1
        if batch != last:
            return number, end, batch, first, last
        if ends.period is None:
            return None
        number, end = number + 1, end + ends.period
    return None
