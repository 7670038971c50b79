"""The cycled momentum term: which attribute it is, and what stands in it.

With the `clr` keys `base_momentum` and `max_momentum`, the cycle drives the
optimizer's momentum term (`momentum` of SGD, RMSprop and Muon, `beta_1` of
the Adam family and Lion): `find_momentum_attribute` finds which, and a
`ScheduledHyperparameter` takes the attribute's place.
"""

import contextlib
import numbers
import operator

import keras
import numpy as np
from keras import ops

from clr_optimizers._compat import optional_keras_classes

# The attribute through which each kind of optimizer reads its momentum term.
MOMENTUM_ATTRIBUTES = ("beta_1", "momentum")


def _constructor_arguments(klass):
    """The argument names of `klass`'s own `__init__`, or () if it has none."""
    code = getattr(klass.__dict__.get("__init__"), "__code__", None)
    if code is None:
        return ()
    return code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]


def find_momentum_attribute(optimizer_class, clr_config):
    """The name of `optimizer_class`'s momentum term: `beta_1` or `momentum`.

    It is the first of `MOMENTUM_ATTRIBUTES` that a constructor along the
    class's MRO takes as an argument.

    Raises:
        ValueError: If the class has no momentum term, or is
            `ScheduleFreeAdamW`, whose `beta_1` is not a momentum schedule.
    """
    received = (
        f"Received: clr['base_momentum']={clr_config['base_momentum']!r}, "
        f"clr['max_momentum']={clr_config['max_momentum']!r}"
    )
    if issubclass(optimizer_class, optional_keras_classes("ScheduleFreeAdamW")):
        raise ValueError(
            "ScheduleFreeAdamW rebuilds its iterate from the current "
            "`beta_1` each update, so a cycled `beta_1` would not be a "
            f"momentum schedule: leave out the momentum keys. {received}"
        )
    for name in MOMENTUM_ATTRIBUTES:
        for klass in optimizer_class.__mro__:
            if name in _constructor_arguments(klass):
                return name
    raise ValueError(
        f"{optimizer_class.__name__} has no momentum term (no `beta_1` or "
        "`momentum` argument) for the `clr` keys 'base_momentum' and "
        f"'max_momentum' to cycle. {received}"
    )


@contextlib.contextmanager
def momentum_as_value(optimizer, attribute):
    """Puts the update's momentum value in place of the scheduled stand-in.

    For PyTorch's fused classes, whose `torch._foreach_*` calls take only
    numbers and tensors.
    """
    scheduled = getattr(optimizer, attribute)
    value = scheduled.value()
    if isinstance(value, keras.Variable):
        value = value.value
    object.__setattr__(optimizer, attribute, value)
    try:
        yield
    finally:
        object.__setattr__(optimizer, attribute, scheduled)


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
