"""The rate of each update of `CyclicLR`'s cycle.

The cycle's settings live in Keras variables, which the training step reads
at every update; the rate of an update is computed from them with
`cyclical_learning_rate` (after an optional linear warm-up,
`linear_warmup`), as a tensor in the step or as a Python float on the host
(for `history`, `update_history`, `clr()` and the optimizer's
`learning_rate`).
"""

import keras
from keras import ops

from clr_optimizers._policy._cyclical import cyclical_learning_rate
from clr_optimizers._policy._ops import compute_dtype
from clr_optimizers._policy._warmup import linear_warmup


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
        warmup_steps: The updates of the linear warm-up before the cycle, a
            checked int >= 0. Defaults to 0 (none).
        warmup_start_lr: The first warm-up update's rate, a checked float.
            Defaults to `0.0`.

    Update `n` applies, for `n < warmup_steps`, the warm-up's rate
    (`linear_warmup`), rising from `warmup_start_lr` to `base_lr`, and
    after it the cycle's rate at the position `n - warmup_steps`.

    Examples:
        >>> rates = CycleRates(0.001, 0.006, 4, "triangular", 1.0, None)
        >>> round(rates.host_rate(2), 6)
        0.0035
        >>> warm = CycleRates(0.001, 0.006, 4, "triangular", 1.0, None, 2)
        >>> [round(warm.host_rate(n), 6) for n in range(4)]
        [0.0, 0.0005, 0.001, 0.00225]
    """

    def __init__(
        self,
        base_lr,
        max_lr,
        step_size,
        mode,
        gamma,
        table,
        warmup_steps=0,
        warmup_start_lr=0.0,
    ):
        float_dtype = compute_dtype()
        self._base_lr = _variable(base_lr, "base_lr", float_dtype)
        self._max_lr = _variable(max_lr, "max_lr", float_dtype)
        self._step_size = _variable(step_size, "step_size", "int64")
        self._mode = mode
        self._gamma = gamma
        self._table = table
        self.warmup_steps = warmup_steps
        self.warmup_start_lr = warmup_start_lr

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

    def settings(self):
        """The settings the training step reads, as Python numbers."""
        return (
            self.base_lr,
            self.max_lr,
            self.step_size,
            self.warmup_steps,
            self.warmup_start_lr,
        )

    def position(self, count):
        """The position in the cycle of update number `count` (an int)."""
        return max(count - self.warmup_steps, 0)

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
        position = count
        if self.warmup_steps:
            position = ops.maximum(count - self.warmup_steps, 0)
        scale = None
        if self._table is not None:
            scale = self._table.lookup(position, self._step_size)
        return self._warmed_up(count, self.rate(position, scale))

    def host_rate(self, count):
        """The rate of update number `count` (an int), a Python float."""
        position = self.position(count)
        scale = None
        if self._table is not None:
            argument = self._table.argument(position, self.step_size)
            scale = self._table.value(argument)
        rate = self.rate(ops.convert_to_tensor(position, dtype="int64"), scale)
        count = ops.convert_to_tensor(count, dtype="int64")
        return float(ops.convert_to_numpy(self._warmed_up(count, rate)))

    def _warmed_up(self, count, rate):
        """`rate`, or during the warm-up the warm-up's rate."""
        if not self.warmup_steps:
            return rate
        warming_up, warmup_rate = linear_warmup(
            None, count, self._base_lr, self.warmup_steps, self.warmup_start_lr
        )
        return ops.where(warming_up, ops.cast(warmup_rate, rate.dtype), rate)


def _variable(value, name, dtype):
    return keras.Variable(value, name=name, dtype=dtype, trainable=False)
