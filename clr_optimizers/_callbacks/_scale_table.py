"""A custom `scale_fn`'s values, evaluated on the host for the training step.

`CyclicLR` takes any Python function as `scale_fn`, NumPy code included, so
the training step cannot call it. Before each execution, `ScaleTable` calls
it on the host for every argument (cycle or update number) that the
execution can reach, and writes the values to a Keras variable that the step
indexes: no update ever uses a stale value.
"""

import math
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from clr_optimizers._policy._ops import compute_dtype

# What `scale_fn` is a function of: the cycle number, from 1, or the update
# number, from 0.
SCALE_MODES = ("cycle", "iterations")


class TableKey(NamedTuple):
    """What a filled table holds.

    Attributes:
        first: The argument of `scale_fn` whose value is the table's first.
        step_size: The half cycle the arguments were computed with.
        last: The last argument whose value the table holds.
    """

    first: int
    step_size: int
    last: int

    def covers(self, first, last, step_size):
        """Whether the table holds the arguments `first` ... `last`."""
        return (
            self.step_size == step_size
            and self.first <= first
            and last <= self.last
        )


class ScaleTable:
    """The values of `scale_fn` that the next execution can read.

    The table is a float Keras variable of a fixed length, holding
    `scale_fn` at the arguments `start`, `start + 1`, ... (padded with the
    last value); the training step reads the value of its argument at
    `argument - start`. Values are cached on the host, so each argument is
    evaluated once while the table can still reach it.

    Args:
        scale_fn: A function of one number returning the amplitude factor,
            a finite real number. Called with NumPy float64 arguments.
        scale_mode: `"cycle"` (`scale_fn` gets the cycle number, from 1) or
            `"iterations"` (`scale_fn` gets the update number, from 0).

    Attributes:
        key: The `TableKey` of the values in the table, or None when the
            table must be filled before the next execution.

    Examples:
        >>> table = ScaleTable(lambda x: 1 / x, "cycle")
        >>> table.resize(length=2, reach=1)
        >>> table.fill(count=0, step_size=4)
        >>> table.value(2)
        0.5
    """

    def __init__(self, scale_fn, scale_mode):
        self.scale_fn = scale_fn
        self.scale_mode = scale_mode
        self.key = None
        self._cache = {}
        self._values = None
        self._start = keras.Variable(
            0, name="scale_table_start", dtype="int64", trainable=False
        )
        self._reach = 0

    def argument(self, count, step_size):
        """The argument of `scale_fn` for the update number `count`."""
        if self.scale_mode == "iterations":
            return count
        return count // (2 * step_size) + 1

    def value(self, argument):
        """`scale_fn(argument)` as a Python float, checked and cached.

        Raises:
            ValueError: If `scale_fn` returns something other than a finite
                real number.
        """
        if argument in self._cache:
            return self._cache[argument]
        value = self.scale_fn(np.float64(argument))
        try:
            array = np.asarray(ops.convert_to_numpy(value), dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is None or array.shape not in ((), (1,)):
            raise ValueError(
                "`scale_fn` must return a real number. Received: "
                f"scale_fn({float(argument)!r})={value!r}"
            )
        result = float(array.reshape(()))
        if not math.isfinite(result):
            raise ValueError(
                "`scale_fn` must return a finite number. Received: "
                f"scale_fn({float(argument)!r})={result!r}"
            )
        self._cache[argument] = result
        return result

    def resize(self, length, reach):
        """Sizes the table for executions of up to `reach` + 1 updates.

        Args:
            length: How many values the table holds, from the next update
                on; at least `reach + 1`.
            reach: How many updates past the next one an execution can
                apply (`steps_per_execution`).
        """
        self._reach = reach
        self.key = None
        if self._values is None or self._values.shape[0] != length:
            self._values = keras.Variable(
                np.ones(length),
                name="scale_table",
                dtype=compute_dtype(),
                trainable=False,
            )

    def invalidate(self):
        """Makes the next `fill` write the table even if it covers it."""
        self.key = None

    def fill(self, count, step_size):
        """Puts `scale_fn`'s values for the next execution in the table.

        Does nothing when the table already holds every argument of the
        updates `count` ... `count + reach`.

        Args:
            count: The number of the next update.
            step_size: The half cycle, in updates, a Python int.
        """
        length = self._values.shape[0]
        first = self.argument(count, step_size)
        needed = self.argument(count + self._reach, step_size)
        if self.key is not None and self.key.covers(first, needed, step_size):
            return
        last = self.argument(count + length - 1, step_size)
        self._cache = {
            a: v for a, v in self._cache.items() if first <= a <= last
        }
        values = [self.value(a) for a in range(first, last + 1)]
        values += [values[-1]] * (length - len(values))
        self._values.assign(np.asarray(values, dtype=np.float64))
        self._start.assign(first)
        self.key = TableKey(first, step_size, last)

    def lookup(self, count, step_size):
        """The table's value for the update number `count`, in the graph.

        Args:
            count: An integer tensor, the update number.
            step_size: The Keras variable holding the half cycle.

        Returns:
            A float scalar tensor.
        """
        if self.scale_mode == "iterations":
            argument = count
        else:
            step_size = ops.cast(step_size, count.dtype)
            argument = ops.floor_divide(count, 2 * step_size) + 1
        index = argument - ops.cast(self._start, argument.dtype)
        index = ops.clip(index, 0, self._values.shape[0] - 1)
        return ops.take(self._values, index)
