"""Operations namespaces: the policy's arithmetic on tensors or on numbers.

The policy functions (`cycle_fraction`, `one_cycle_value`) and the
optimizers' schedule take such a namespace as `xp` and call it for every
operation but `+ - * / //`. `TensorOps` builds them with `keras.ops` in the
training graph of any backend; `HostOps` evaluates the same calls in Python
float64 on Python integers, exact at any position, for backends that run the
update eagerly (PyTorch), where each `keras.ops` call is a dispatch of
several microseconds.
"""

import math

import keras
from keras import ops

from clr_optimizers._keras_private import micro_batch_counter


def compute_dtype():
    """The float type of the schedule: float64 under floatx float64, else
    float32."""
    return "float64" if keras.backend.floatx() == "float64" else "float32"


def _as_integer_tensor(value):
    value = ops.convert_to_tensor(value)
    if "int" in keras.backend.standardize_dtype(value.dtype):
        return value
    return ops.cast(ops.floor(value), keras.backend.standardize_dtype("int"))


class TensorOps:
    """The schedule's operations on scalar tensors, with `keras.ops`.

    The policy functions (`cycle_fraction`, `one_cycle_value`) and the
    optimizers' schedule take such a namespace as `xp` and call it for every
    operation but `+ - * / //`. This one builds them in the
    training graph of any backend; `HostOps` evaluates
    the same calls in Python float64 (for PyTorch's eager update).

    Floats are of the compute type: float32, or float64 when
    `keras.backend.floatx()` is `"float64"`.

    Examples:
        >>> xp = TensorOps()
        >>> float(xp.to_float(3) / 4)
        0.75
    """

    # Used as they are; HostOps defines each for Python numbers.
    _KERAS_OPS = frozenset(
        {
            "abs",
            "mod",
            "where",
            "less",
            "less_equal",
            "greater",
            "greater_equal",
            "logical_and",
            "maximum",
            "sin",
            "square",
            "exp",
            "expm1",
        }
    )

    def __getattr__(self, name):
        if name in TensorOps._KERAS_OPS:
            return getattr(ops, name)
        raise AttributeError(
            f"'{type(self).__name__}' object has no attribute '{name}'"
        )

    def __init__(self):
        self.dtype = compute_dtype()

    integer = staticmethod(_as_integer_tensor)

    @staticmethod
    def integer_like(value, other):
        """`value` as an integer of `other`'s type."""
        return ops.cast(value, other.dtype)

    def to_float(self, value):
        """`value` as a float of the compute type."""
        return ops.cast(value, self.dtype)

    @staticmethod
    def read(value):
        """A variable's value as a tensor, read once however often used."""
        if isinstance(value, keras.Variable):
            return ops.cast(value, value.dtype)
        return ops.convert_to_tensor(value)

    def valid_or_held(self, valid, value, held):
        """`value` where `valid`, else the value of the variable `held`."""
        return ops.where(valid, value, self.read(held))

    @staticmethod
    def updates_applied(optimizer):
        """The optimizer's `iterations`, as a float of `floatx()`."""
        return ops.cast(optimizer.iterations, keras.backend.floatx())

    def half_power(self, exponent):
        """`0.5 ** exponent` for an integer `exponent`."""
        return ops.power(
            ops.cast(0.5, self.dtype), ops.cast(exponent, self.dtype)
        )

    def scale(self, scale_fn, argument):
        """A custom `scale_fn` at `argument` (cast to the compute type)."""
        return ops.cast(scale_fn(ops.cast(argument, self.dtype)), self.dtype)

    def all_finite_nonnegative(self, *values):
        """A bool tensor: whether every value is finite and >= 0.

        `sqrt(x)` is NaN for a negative or NaN `x` and infinite for an
        infinite one, so the sum of the roots is finite exactly when every
        value is finite and >= 0: a handful of ops and no control flow.
        """
        roots = [ops.sqrt(ops.cast(value, self.dtype)) for value in values]
        total = roots[0]
        for root in roots[1:]:
            total = total + root
        return ops.isfinite(total)


class HostOps:
    """`TensorOps`' operations on Python numbers, in float64.

    Integers stay Python integers; floats are Python floats, and a value that
    would overflow the in-graph compute type becomes infinite, as there.

    Args:
        scalars: A `TorchScalars`, which reads the optimizer's variables.
        largest: The largest finite value of the float type the rate is
            stored in (`current_lr`'s): a larger value would be infinite
            there. Defaults to infinity.

    Examples:
        >>> from clr_optimizers._policy._cyclical import cycle_fraction
        >>> cycle_fraction(3, 4, xp=HostOps(None))
        (0.75, 0.25)
    """

    def __init__(self, scalars, largest=math.inf):
        self.scalars = scalars
        self.largest = largest

    @staticmethod
    def integer(value):
        return value if isinstance(value, int) else math.floor(value)

    @staticmethod
    def integer_like(value, other):
        return value

    @staticmethod
    def to_float(value):
        return float(value)

    @staticmethod
    def abs(value):
        return abs(value)

    @staticmethod
    def mod(value, period):
        return value % period

    @staticmethod
    def where(condition, if_true, if_false):
        return if_true if condition else if_false

    @staticmethod
    def less(a, b):
        return a < b

    @staticmethod
    def less_equal(a, b):
        return a <= b

    @staticmethod
    def greater(a, b):
        return a > b

    @staticmethod
    def greater_equal(a, b):
        return a >= b

    @staticmethod
    def logical_and(a, b):
        return a and b

    @staticmethod
    def maximum(a, b):
        return max(a, b)

    sin = staticmethod(math.sin)

    @staticmethod
    def square(value):
        return value * value

    def _bounded(self, function, argument):
        # A value above the largest of the rate's float type is infinite
        # there, and so here: the rate is then NaN or infinite, and held.
        # Python raises instead of overflowing (a negative position can ask
        # for 0.5 ** -2000).
        try:
            value = function(argument)
        except OverflowError:
            return math.inf
        return math.inf if value > self.largest else value

    def exp(self, value):
        return self._bounded(math.exp, value)

    def expm1(self, value):
        return self._bounded(math.expm1, value)

    def half_power(self, exponent):
        return self._bounded(lambda k: math.ldexp(1.0, -k), exponent)

    @staticmethod
    def scale(scale_fn, argument):
        # scale_fn is written with keras.ops: it gets a float32 scalar
        # tensor, as in the graph.
        value = scale_fn(ops.convert_to_tensor(float(argument), "float32"))
        return float(ops.convert_to_numpy(value))

    def all_finite_nonnegative(self, *values):
        largest = self.largest
        for value in values:
            # The comparison is False for NaN.
            if not 0.0 <= value <= largest or value == math.inf:
                return False
        return True

    def read(self, value):
        """A variable's value (or a tensor's, or a number) as a number."""
        if isinstance(value, keras.Variable):
            return self.scalars.read(value)
        if isinstance(value, (int, float)):
            return value
        return ops.convert_to_numpy(value).item()

    def valid_or_held(self, valid, value, held):
        # The held variable is read only when needed.
        return value if valid else self.read(held)

    def updates_applied(self, optimizer):
        # `iterations` divides the micro-batch count by the gradient
        # accumulation steps.
        count = self.scalars.read(micro_batch_counter(optimizer))
        steps = optimizer.gradient_accumulation_steps
        return float(count // steps if steps else count)
