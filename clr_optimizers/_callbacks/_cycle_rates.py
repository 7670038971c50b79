"""The rate of each update of `CyclicLR`'s cycle.

The cycle's settings live in Keras variables, which the training step reads
at every update; the rate of an update is computed from them with
`cyclical_learning_rate`, as a tensor in the step or as a Python float on
the host (for `history`, `clr()` and the optimizer's `learning_rate`).
"""

import keras
from keras import ops

from clr_optimizers._policy._cyclical import cyclical_learning_rate
from clr_optimizers._policy._ops import compute_dtype


class CycleRates:
    """The cycle's settings, and the rate of an update from them.

    Args:
        base_lr: The bottom of the cycle, a checked float.
        max_lr: The peak of the cycle, a checked float.
        step_size: Half a cycle, in updates, a checked int.
        mode: The policy (`"triangular"`, `"triangular2"` or
            `"exp_range"`); ignored with a `table`.
        gamma: The `"exp_range"` amplitude factor per update.
        table: None, or the `ScaleTable` of a custom `scale_fn`, whose value
            scales the amplitude of each update.

    Examples:
        >>> rates = CycleRates(0.001, 0.006, 4, "triangular", 1.0, None)
        >>> round(rates.host_rate(2), 6)
        0.0035
    """

    def __init__(self, base_lr, max_lr, step_size, mode, gamma, table):
        float_dtype = compute_dtype()
        self._base_lr = _variable(base_lr, "base_lr", float_dtype)
        self._max_lr = _variable(max_lr, "max_lr", float_dtype)
        self._step_size = _variable(step_size, "step_size", "int64")
        self._mode = mode
        self._gamma = gamma
        self._table = table

    @property
    def base_lr(self):
        """The bottom of the cycle, a Python float."""
        return float(ops.convert_to_numpy(self._base_lr))

    @property
    def max_lr(self):
        """The peak of the cycle, a Python float."""
        return float(ops.convert_to_numpy(self._max_lr))

    @property
    def step_size(self):
        """Half a cycle, in updates, a Python int."""
        return int(ops.convert_to_numpy(self._step_size))

    def assign(self, base_lr=None, max_lr=None, step_size=None):
        """Sets the given (checked) settings; None keeps one."""
        if base_lr is not None:
            self._base_lr.assign(base_lr)
        if max_lr is not None:
            self._max_lr.assign(max_lr)
        if step_size is not None:
            self._step_size.assign(step_size)

    def rate(self, count, scale):
        """The rate of update number `count`, a tensor.

        Args:
            count: An integer tensor, the update number.
            scale: None, or the custom `scale_fn`'s value for `count`.
        """
        if self._table is None:
            return cyclical_learning_rate(
                count,
                self._base_lr,
                self._max_lr,
                self._step_size,
                mode=self._mode,
                gamma=self._gamma,
            )
        # base + (max - base) * h * scale is the triangular cycle with the
        # peak base + (max - base) * scale.
        dtype = compute_dtype()
        base = ops.cast(self._base_lr, dtype)
        peak = base + (ops.cast(self._max_lr, dtype) - base) * ops.cast(
            scale, dtype
        )
        return cyclical_learning_rate(count, base, peak, self._step_size)

    def graph_rate(self, count):
        """The rate of update number `count` (a tensor), in the graph."""
        scale = None
        if self._table is not None:
            scale = self._table.lookup(count, self._step_size)
        return self.rate(count, scale)

    def host_rate(self, count):
        """The rate of update number `count` (an int), a Python float."""
        scale = None
        if self._table is not None:
            argument = self._table.argument(count, self.step_size)
            scale = self._table.value(argument)
        count = ops.convert_to_tensor(count, dtype="int64")
        return float(ops.convert_to_numpy(self.rate(count, scale)))


def _variable(value, name, dtype):
    return keras.Variable(value, name=name, dtype=dtype, trainable=False)
