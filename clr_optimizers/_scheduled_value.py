"""A hyperparameter attribute that the cycle sets on every update."""

import numbers
import operator

import numpy as np
from keras import ops


class ScheduledHyperparameter:
    """Stands in for an optimizer's momentum term while the cycle drives it.

    Placed on the optimizer as `momentum` (SGD, RMSprop, Muon) or `beta_1`
    (the Adam family, Lion), it reads as the value of the update in progress
    (computed once per update, in the graph), or outside an update as the
    value the next update will use. Keras's optimizers read such an attribute
    in two ways, and both keep working:

    - as a number in tensor arithmetic (`ops.cast(self.beta_1, dtype)`,
      `1 - self.beta_1`): it converts to the scheduled tensor;
    - in a Python test such as `if self.momentum > 0:` (which decides whether
      momentum slots exist): it compares as every value of its range does,
      since the range `[low, high]` is known at construction.
    """

    __slots__ = ("_read", "low", "high")

    def __init__(self, read, low, high):
        self._read = read
        self.low = min(low, high)
        self.high = max(low, high)

    def value(self):
        """The scheduled value as a scalar tensor."""
        return self._read()

    def _compare(self, other, op):
        if not isinstance(other, numbers.Real):
            return NotImplemented
        at_low, at_high = op(self.low, other), op(self.high, other)
        if at_low != at_high:
            raise TypeError(
                "A cycled hyperparameter with range "
                f"[{self.low}, {self.high}] has no single answer to a "
                f"comparison with {other!r}."
            )
        return at_low

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    def __le__(self, other):
        return self._compare(other, operator.le)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __ge__(self, other):
        return self._compare(other, operator.ge)

    def __eq__(self, other):
        return self._compare(other, operator.eq)

    def __ne__(self, other):
        return self._compare(other, operator.ne)

    __hash__ = object.__hash__

    def __add__(self, other):
        return self.value() + other

    def __radd__(self, other):
        return other + self.value()

    def __sub__(self, other):
        return self.value() - other

    def __rsub__(self, other):
        return other - self.value()

    def __mul__(self, other):
        return self.value() * other

    def __rmul__(self, other):
        return other * self.value()

    def __truediv__(self, other):
        return self.value() / other

    def __rtruediv__(self, other):
        return other / self.value()

    def __pow__(self, other):
        return self.value() ** other

    def __rpow__(self, other):
        return other ** self.value()

    def __neg__(self):
        return -self.value()

    def __float__(self):
        return float(ops.convert_to_numpy(self.value()))

    def __array__(self, dtype=None, copy=None):
        return np.asarray(ops.convert_to_numpy(self.value()), dtype=dtype)

    def __tf_tensor__(self, dtype=None, name=None):
        return ops.convert_to_tensor(self.value(), dtype=dtype)

    def __jax_array__(self):
        return self.value()

    def __repr__(self):
        return (
            f"<ScheduledHyperparameter in [{self.low}, {self.high}]: "
            "the cycle sets it each update>"
        )
