"""The rate and momentum of each update of `OneCycle`'s cycle.

The cycle's length, planned at the start of each `fit`, lives in a Keras
variable that the training step reads; the other settings are fixed at
construction. The rate and momentum of an update are `one_cycle_value` of
the update's number, as tensors in the step (`TensorOps`) or as Python
float64 numbers on the host (`HostOps`, for `update_history` and the logs).
"""

import keras
from keras import ops

from clr_optimizers._policy._one_cycle import one_cycle_value
from clr_optimizers._policy._ops import HostOps
from clr_optimizers._policy._ops import TensorOps


class OneCycleRates:
    """1cycle's settings, and the rate and momentum of an update from them.

    The rate rises from `max_lr / div_factor` to `max_lr` over the first
    `pct_start` of the cycle, then falls to
    `max_lr / (div_factor * final_div_factor)` (with `three_phase`, back to
    `max_lr / div_factor` first, then to that), as PyTorch's `OneCycleLR`;
    the momentum goes the other way, from `max_momentum` down to
    `base_momentum` and back. Past the cycle's end both hold their final
    values.

    Args:
        max_lr: The peak rate, a checked float.
        pct_start: The rising fraction of the cycle, a checked float.
        div_factor: The first rate is `max_lr / div_factor`.
        final_div_factor: The last rate is the first one divided by it.
        anneal: `"cos"` or `"linear"`.
        three_phase: Whether to add PyTorch's third phase.
        base_momentum: The momentum at the peak rate.
        max_momentum: The momentum at the first and last updates.

    Attributes:
        total_steps: The cycle's length in updates, a Python int (0 until
            `plan` sets it).

    Examples:
        >>> rates = OneCycleRates(
        ...     0.1, 0.25, 25.0, 1e5, "cos", False, 0.85, 0.95
        ... )
        >>> rates.plan(12)  # rising over updates 0 to 2, then falling
        >>> round(rates.host_rate(0), 9), round(rates.host_rate(2), 9)
        (0.004, 0.1)
        >>> rates.host_rate(11), rates.host_rate(100)  # the last, and after it
        (4e-08, 4e-08)
        >>> rates.host_momentum(2), rates.host_momentum(11)
        (0.85, 0.95)
    """

    def __init__(
        self,
        max_lr,
        pct_start,
        div_factor,
        final_div_factor,
        anneal,
        three_phase,
        base_momentum,
        max_momentum,
    ):
        initial = max_lr / div_factor
        final = initial / final_div_factor
        if three_phase:
            self.rate_values = (initial, max_lr, initial, final)
            self.momentum_values = (
                max_momentum,
                base_momentum,
                max_momentum,
                max_momentum,
            )
        else:
            self.rate_values = (initial, max_lr, final)
            self.momentum_values = (max_momentum, base_momentum, max_momentum)
        self.pct_start = pct_start
        self.anneal = anneal
        self.three_phase = three_phase
        self._total_steps = keras.Variable(
            0, name="one_cycle_total_steps", dtype="int64", trainable=False
        )

    @property
    def total_steps(self):
        """The cycle's length in updates, a Python int (0: not planned)."""
        return int(ops.convert_to_numpy(self._total_steps))

    def plan(self, total_steps):
        """Sets the cycle's length (a checked int >= 1)."""
        self._total_steps.assign(total_steps)

    def settings(self):
        """The settings the training step reads, as Python numbers."""
        return (self.total_steps,)

    def _value(self, values, count, xp, total_steps):
        return one_cycle_value(
            count,
            values,
            total_steps,
            pct_start=self.pct_start,
            anneal=self.anneal,
            three_phase=self.three_phase,
            xp=xp,
        )

    def graph_rate(self, count):
        """The rate of update number `count` (a tensor), in the graph."""
        total_steps = TensorOps.read(self._total_steps)
        return self._value(self.rate_values, count, TensorOps(), total_steps)

    def graph_momentum(self, count):
        """The momentum of update number `count` (a tensor), in the graph."""
        total_steps = TensorOps.read(self._total_steps)
        return self._value(
            self.momentum_values, count, TensorOps(), total_steps
        )

    def host_rate(self, count):
        """The rate of update number `count` (an int), a float64 float."""
        return self._value(
            self.rate_values, count, HostOps(None), self.total_steps
        )

    def host_momentum(self, count):
        """The momentum of update number `count` (an int), a float64 float."""
        return self._value(
            self.momentum_values, count, HostOps(None), self.total_steps
        )
