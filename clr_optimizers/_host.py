"""The cycle evaluated on the host, for backends that run the update eagerly.

PyTorch, as Keras runs it by default, executes the training step eagerly: each
`keras.ops` call is a separate dispatch of several microseconds, so the few
dozen scalar operations of the in-graph schedule would cost hundreds of
microseconds per update. On that backend the optimizer evaluates the same
formula here instead, in Python float64 with Python integers (exact at any
position), from the Python values of its scalar variables, and writes the
cycle's counters back in place. The per-update cost is then a few
microseconds, whatever the number of model variables.

Everything PyTorch-specific is in `TorchScalars`; the policy functions are
plain Python and mirror `_policy.cycle_fraction` and
`_policy.one_cycle_value` term for term.
"""

import math

import keras
import numpy as np
from keras import ops
from keras.src.backend.common.stateless_scope import in_stateless_scope
from keras.src.backend.common.symbolic_scope import in_symbolic_scope

from clr_optimizers._policy import one_cycle_phase_ends


def cycle_fraction(
    n,
    step_size,
    mode="triangular",
    gamma=1.0,
    step_size_down=None,
    scale_fn=None,
    scale_mode="cycle",
    largest=math.inf,
):
    """`_policy.cycle_fraction` in Python float64, from Python integers.

    Args:
        n: Python int, the updates applied in the cycle.
        step_size: Python int >= 1, the rising half of the cycle.
        mode: `"triangular"`, `"triangular2"` or `"exp_range"`; ignored with
            `scale_fn`. Defaults to `"triangular"`.
        gamma: The `"exp_range"` factor per update. Defaults to `1.0`.
        step_size_down: Python int >= 1, the falling half; defaults to
            `step_size`.
        scale_fn: Optional scale function written with `keras.ops`; it
            receives a float scalar tensor, as in the graph. Defaults to None.
        scale_mode: `"cycle"` or `"iterations"`. Defaults to `"cycle"`.
        largest: The largest finite value of the in-graph compute type: a
            scale above it is infinite there, and so here (the rate is then
            NaN and held, as in the graph). Defaults to infinity.

    Returns:
        `(h, 1 - h)` as Python floats, with the rate
        `base * (1 - h) + max_lr * h`.

    Example:

    >>> cycle_fraction(3, 4)
    (0.75, 0.25)
    """
    up = step_size
    if step_size_down is None:
        period = up + up
        cycle_index = n // period
        from_peak = abs(n % period - up)
        height = (up - from_peak) / up
        depth = from_peak / up
    else:
        period = up + step_size_down
        cycle_index = n // period
        position = n - cycle_index * period
        rising = position < up
        leg = up if rising else step_size_down
        height = (position if rising else period - position) / leg
        depth = abs(position - up) / leg
    if scale_fn is not None:
        argument = cycle_index + 1 if scale_mode == "cycle" else n
        scale = float(
            ops.convert_to_numpy(
                scale_fn(ops.convert_to_tensor(float(argument), "float32"))
            )
        )
        depth = depth + height * (1.0 - scale)
        height = height * scale
    elif mode == "triangular2":
        try:
            scale = math.ldexp(1.0, -cycle_index)
        except OverflowError:  # a negative position; held as invalid
            scale = math.inf
        if scale > largest:
            scale = math.inf
        depth = depth + height * (1.0 - scale)
        height = height * scale
    elif mode == "exp_range" and gamma != 1.0:
        exponent = n * math.log(gamma)
        try:
            growth, growth_m1 = math.exp(exponent), math.expm1(exponent)
        except OverflowError:  # a negative position; held as invalid
            growth = growth_m1 = math.inf
        if growth > largest:
            growth = growth_m1 = math.inf
        depth = depth - height * growth_m1
        height = height * growth
    return height, depth


def one_cycle_value(
    n, values, total_steps, pct_start=0.3, anneal="cos", three_phase=False
):
    """`_policy.one_cycle_value` in Python float64.

    Args:
        n: Python int, the updates applied in the cycle.
        values: The phases' boundary values (Python floats).
        total_steps: The length of the cycle.
        pct_start: The fraction of the cycle spent rising. Defaults to `0.3`.
        anneal: `"cos"` or `"linear"`. Defaults to `"cos"`.
        three_phase: PyTorch's `three_phase`. Defaults to False.

    Returns:
        A Python float.

    Example:

    >>> one_cycle_value(0, (0.1, 1.0, 0.001), total_steps=10)
    0.1
    """
    ends = one_cycle_phase_ends(total_steps, pct_start, three_phase)
    step = float(min(n, total_steps - 1))
    for i, end in enumerate(ends):
        if step <= end or i == len(ends) - 1:
            break
    start = 0.0 if i == 0 else ends[i - 1]
    length = end - start
    p = (step - start) / length
    q = (end - step) / length
    if anneal == "cos":
        p = math.sin(math.pi / 2 * p) ** 2
        q = math.sin(math.pi / 2 * q) ** 2
    return values[i] * q + values[i + 1] * p


def is_valid_rate(value, largest=math.inf):
    """Whether `value` is a number in `[0, largest]` (False for NaN).

    Args:
        value: A Python float.
        largest: The largest finite value of the variables' float type: a
            rate above it would be infinite once cast. Defaults to infinity.

    Returns:
        A Python bool.

    Example:

    >>> is_valid_rate(float("nan"))
    False
    """
    return 0.0 <= value <= largest and value < math.inf


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
        """Sets a scalar variable to `value` (a Python number), in place."""
        tensor = variable._value
        tensor.fill_(value)
        if isinstance(value, int):
            self._cache[id(variable)] = (tensor, tensor._version, value)
        else:
            self._cache.pop(id(variable), None)


def host_scalars():
    """A `TorchScalars` on the PyTorch backend, otherwise None."""
    if keras.backend.backend() != "torch":
        return None
    return TorchScalars()


def as_float(value):
    """A Python float from a Python number, NumPy value or scalar tensor."""
    if isinstance(value, float):
        return value
    return float(np.asarray(ops.convert_to_numpy(value)))
