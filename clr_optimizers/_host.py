"""The schedule evaluated on the host, for backends that run the update eagerly.

PyTorch, as Keras runs it by default, executes the training step eagerly: each
`keras.ops` call is a separate dispatch of several microseconds, so the few
dozen scalar operations of the in-graph schedule would cost hundreds of
microseconds per update. On that backend the optimizer evaluates the same
policy functions (`_policy.cycle_fraction`, `_policy.one_cycle_value`) with
`HostOps` in place of `_policy.TensorOps`: Python float64 arithmetic on
Python integers (exact at any position), from the Python values of its scalar
variables, which `TorchScalars` reads and writes in place. The per-update cost
is then a few microseconds, whatever the number of model variables.
"""

import math

import keras
from keras import ops
from keras.src.backend.common.stateless_scope import in_stateless_scope
from keras.src.backend.common.symbolic_scope import in_symbolic_scope


class HostOps:
    """`_policy.TensorOps`' operations on Python numbers, in float64.

    Integers stay Python integers; floats are Python floats, and a value that
    would overflow the in-graph compute type becomes infinite, as there.

    Args:
        scalars: A `TorchScalars`, which reads the optimizer's variables.
        largest: The largest finite value of the float type the rate is
            stored in (`current_lr`'s): a larger value would be infinite
            there. Defaults to infinity.

    Example:

    >>> from clr_optimizers._policy import cycle_fraction
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
        # `iterations` divides `_iterations` (micro-batches) by the gradient
        # accumulation steps.
        count = self.scalars.read(optimizer._iterations)
        steps = optimizer.gradient_accumulation_steps
        return float(count // steps if steps else count)


class TorchScalars:
    """Reads and writes scalar Keras variables of the PyTorch backend cheaply.

    A read returns the variable's value as a Python number, cached against
    the identity and version counter (`Tensor._version`, which every in-place
    write, `Variable.assign` included, advances) of the tensor behind the
    variable: an unchanged variable costs no device access, an assigned one
    one `.item()`. A write fills that tensor in place, as `Variable.assign`
    does (with `copy_`), without assign's conversions.

    Used only outside stateless and symbolic scopes and outside
    `torch.compile` tracing (`available()`); there the optimizer uses the
    `keras.ops` schedule and `assign`.

    Example:

    >>> scalars = TorchScalars()
    >>> scalars.read(optimizer.clr_iterations)
    0
    """

    def __init__(self):
        import torch

        self._torch = torch
        self._cache = {}

    def available(self):
        """Whether the eager host path may be used now."""
        return not (
            in_stateless_scope()
            or in_symbolic_scope()
            or self._torch.compiler.is_compiling()
        )

    def read(self, variable):
        """The value of a scalar variable as a Python int or float."""
        tensor = variable._value
        key = id(variable)
        cached = self._cache.get(key)
        if (
            cached is not None
            and cached[0] is tensor
            and cached[1] == tensor._version
        ):
            return cached[2]
        value = tensor.item()
        self._cache[key] = (tensor, tensor._version, value)
        return value

    def write(self, variable, value):
        """Sets a scalar variable to `value` (a Python number), in place.

        An integer is cached as written. A float is not (the variable holds
        it rounded to its type): it is read back only when an update holds
        its rate, so the `.item()` that would wait for a GPU is not paid at
        every update.
        """
        tensor = variable._value
        tensor.fill_(value)
        if isinstance(value, int):
            self._cache[id(variable)] = (tensor, tensor._version, value)
        else:
            self._cache.pop(id(variable), None)


def host_ops(rate_dtype=None):
    """A `HostOps` over `TorchScalars` on the PyTorch backend, else None.

    Args:
        rate_dtype: The float type the rate is stored in (`current_lr`'s),
            whose largest finite value bounds the host's values; None for no
            bound. Defaults to None.
    """
    if keras.backend.backend() != "torch":
        return None
    import torch

    largest = math.inf
    if rate_dtype is not None:
        largest = float(torch.finfo(getattr(torch, rate_dtype)).max)
    return HostOps(TorchScalars(), largest)
