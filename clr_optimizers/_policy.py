"""The cyclical learning rate policies as plain functions of the step.

One policy, two ways to evaluate it, and a reference:

* `cycle_fraction` and `one_cycle_value` are written once against an
  operations namespace `xp`. With `TensorOps` (`keras.ops` on scalar
  tensors) they run inside the training graph of every backend; with
  `clr_optimizers._host.HostOps` they run on the host in Python float64, for
  PyTorch's eager update. The cycle position comes from the integer step
  counter with integer arithmetic, so it stays exact for any length of
  training. `cyclical_learning_rate` is the public graph entry point.
* `reference_learning_rate`, a literal float64 NumPy transcription of the
  formula from the paper, used to check and draw the in-graph rate.
"""

import math

import keras
import numpy as np
from keras import ops

MODES = ("triangular", "triangular2", "exp_range")


def check_mode(mode, name="mode"):
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(
            f"`{name}` must be one of {', '.join(repr(m) for m in MODES)}. "
            f"Received: {name}={mode!r}"
        )
    return mode


def _compute_dtype():
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
    training graph of any backend; `clr_optimizers._host.HostOps` evaluates
    the same calls in Python float64 (for PyTorch's eager update).

    Floats are of the compute type: float32, or float64 when
    `keras.backend.floatx()` is `"float64"`.

    Example:

    >>> xp = TensorOps()
    >>> float(xp.to_float(3) / 4)
    0.75
    """

    # Used as they are; HostOps defines each for Python numbers.
    _KERAS_OPS = frozenset({
        "abs", "mod", "where", "less", "less_equal", "greater",
        "greater_equal", "logical_and", "maximum", "sin", "square", "exp",
        "expm1",
    })

    def __getattr__(self, name):
        if name in TensorOps._KERAS_OPS:
            return getattr(ops, name)
        raise AttributeError(
            f"'{type(self).__name__}' object has no attribute '{name}'"
        )

    def __init__(self):
        self.dtype = _compute_dtype()

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


def cycle_fraction(
    iteration,
    step_size,
    mode="triangular",
    gamma=1.0,
    step_size_down=None,
    scale_fn=None,
    scale_mode="cycle",
    xp=None,
):
    """How far along from the bottom to the peak a cycle is, and the rest.

    Returns `(h, 1 - h)` with `h = max(0, 1 - x) * scale` in the notation of
    `cyclical_learning_rate`; the rate is `base_lr * (1 - h) + max_lr * h`.
    Both are computed from exact integers (the position in the cycle) so that
    neither loses relative precision, whichever of the two is small.

    Args:
        iteration: Integer scalar, the number of updates applied so far. A
            float tensor is floored.
        step_size: Positive integer scalar: updates from the bottom to the
            peak.
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`; ignored
            when `scale_fn` is given. Defaults to `"triangular"`.
        gamma: Python float in (0, 1], the `"exp_range"` factor per update.
            Defaults to `1.0`.
        step_size_down: Positive integer scalar: updates from the peak back
            to the bottom. Defaults to `step_size` (a symmetric cycle).
        scale_fn: Optional function of one float tensor returning the
            amplitude scale, written with `keras.ops`. Defaults to None.
        scale_mode: `"cycle"` (`scale_fn` receives the cycle number, from 1)
            or `"iterations"` (it receives `iteration`). Defaults to
            `"cycle"`.
        xp: The operations to compute with: None for `TensorOps()` (scalar
            tensors), or `clr_optimizers._host.HostOps` (Python numbers).

    Returns:
        `(h, 1 - h)`: two scalar tensors (Python floats with `HostOps`).

    Example:

    >>> h, rest = cycle_fraction(3, 4)
    >>> float(h), float(rest)
    (0.75, 0.25)
    """
    xp = TensorOps() if xp is None else xp
    n = xp.integer(iteration)
    up = xp.integer_like(step_size, n)
    if step_size_down is None:
        period = up + up
        # Integers below 2**24 are exact in float32, and so is their
        # difference: both fractions are correctly rounded.
        from_peak = xp.to_float(xp.abs(xp.mod(n, period) - up))
        leg = xp.to_float(up)
        height = (leg - from_peak) / leg
        depth = from_peak / leg
        if mode == "triangular2" or (scale_fn is not None and scale_mode == "cycle"):
            # The tensors' own `//`: Keras 3.15's PyTorch `ops.floor_divide`
            # (and `ops.minimum`) return int32 for int64, which wraps past
            # 2**31.
            cycle_index = n // period
    else:
        down = xp.integer_like(step_size_down, n)
        period = up + down
        cycle_index = n // period
        position = n - cycle_index * period
        rising = xp.less(position, up)
        leg = xp.to_float(xp.where(rising, up, down))
        height = xp.to_float(xp.where(rising, position, period - position)) / leg
        depth = xp.to_float(xp.abs(position - up)) / leg
    if scale_fn is not None:
        argument = cycle_index + 1 if scale_mode == "cycle" else n
        scale = xp.scale(scale_fn, argument)
        depth = depth + height * (1.0 - scale)
        height = height * scale
    elif mode == "triangular2":
        scale = xp.half_power(cycle_index)
        depth = depth + height * (1.0 - scale)
        height = height * scale
    elif mode == "exp_range" and gamma != 1.0:
        # gamma**n as exp(n * log(gamma)) with log(gamma) taken in float64:
        # rounding gamma itself to float32 first would be amplified n times.
        exponent = xp.to_float(n) * math.log(gamma)
        depth = depth - height * xp.expm1(exponent)
        height = height * xp.exp(exponent)
    return height, depth


def cyclical_learning_rate(
    iteration,
    base_lr,
    max_lr,
    step_size,
    mode="triangular",
    gamma=1.0,
    step_size_down=None,
    scale_fn=None,
    scale_mode="cycle",
):
    """Learning rate of a cyclical policy at a given iteration.

    Implements the policies of Smith, "Cyclical Learning Rates for Training
    Neural Networks" (https://arxiv.org/abs/1506.01186):

    ```
    cycle = floor(1 + iteration / (2 * step_size))
    x = abs(iteration / step_size - 2 * cycle + 1)
    rate = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale
    ```

    where `scale` is `1` for `"triangular"`, `1 / 2**(cycle - 1)` for
    `"triangular2"`, `gamma**iteration` for `"exp_range"`, or
    `scale_fn(cycle)` (`scale_fn(iteration)` with `scale_mode="iterations"`)
    for a custom policy. With `step_size_down`, the rate rises over
    `step_size` updates and falls over `step_size_down`, as PyTorch's
    `CyclicLR(step_size_up=step_size, step_size_down=step_size_down)`.

    The position inside the cycle is computed from the integer iteration with
    integer arithmetic, so the result is exact at any iteration the integer
    type holds (float32 arithmetic on the iteration would break past 2**24),
    and the rate is formed as `base_lr * (1 - h) + max_lr * h` from
    non-negative terms, which keeps full relative precision, also for an
    inverted cycle (`max_lr < base_lr`).

    Args:
        iteration: Integer scalar (Python int or integer tensor), the number of
            updates applied so far. A float tensor is floored.
        base_lr: Scalar, the bottom of the cycle.
        max_lr: Scalar, the peak of the cycle.
        step_size: Positive integer scalar, half the period of the cycle (the
            rising half, with `step_size_down`), in iterations.
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`; ignored
            when `scale_fn` is given. Defaults to `"triangular"`.
        gamma: Python float in (0, 1], the per-iteration amplitude factor of
            `"exp_range"`. Defaults to `1.0`.
        step_size_down: Positive integer scalar, the falling half of the
            cycle. Defaults to `step_size`.
        scale_fn: Optional function of one float tensor, written with
            `keras.ops`, returning the amplitude scale. Defaults to None.
        scale_mode: `"cycle"` or `"iterations"`: what `scale_fn` receives.
            Defaults to `"cycle"`.

    Returns:
        A float32 scalar tensor (float64 when `keras.backend.floatx()` is
        `"float64"`).

    Example:

    >>> float(cyclical_learning_rate(1000, 0.001, 0.006, step_size=2000))
    0.0035...
    """
    check_mode(mode)
    height, depth = cycle_fraction(
        iteration, step_size, mode, gamma, step_size_down, scale_fn, scale_mode
    )
    dtype = height.dtype
    return ops.cast(base_lr, dtype) * depth + ops.cast(max_lr, dtype) * height


def one_cycle_phase_ends(total_steps, pct_start, three_phase=False):
    """The last step of each 1cycle phase, as PyTorch's OneCycleLR sets them."""
    warmup_end = float(pct_start * total_steps) - 1
    if three_phase:
        return (warmup_end, 2 * warmup_end, float(total_steps) - 1)
    return (warmup_end, float(total_steps) - 1)


def one_cycle_value(
    iteration, values, total_steps, pct_start=0.3, anneal="cos",
    three_phase=False, xp=None,
):
    """A 1cycle schedule (Smith & Topin, https://arxiv.org/abs/1708.07120).

    Moves from `values[i]` to `values[i + 1]` over phase `i`, with phase ends
    `one_cycle_phase_ends(...)`, annealing by cosine or linearly, as PyTorch's
    `OneCycleLR` does; past `total_steps` it holds the last value. For the
    rate `values` is `(initial_lr, max_lr, min_lr)`
    (`(initial_lr, max_lr, initial_lr, min_lr)` with `three_phase`).

    Within a phase at fraction `p`, the value is `start * w(1 - p) + end *
    w(p)`, with `w(p) = p` (linear) or `sin(pi * p / 2)**2` (cosine; equal to
    PyTorch's `end + (start - end) / 2 * (cos(pi * p) + 1)`), from
    non-negative terms, so a tiny final value keeps its relative precision.

    Args:
        iteration: Integer scalar, the number of updates applied so far.
        values: Sequence of the phases' boundary values (Python floats or
            scalar tensors), one more than the number of phases.
        total_steps: Positive int, the length of the cycle.
        pct_start: Float in (0, 1), the fraction of the cycle spent rising.
            Defaults to `0.3`.
        anneal: `"cos"` or `"linear"`. Defaults to `"cos"`.
        three_phase: Whether to add a third phase (PyTorch's
            `three_phase=True`). Defaults to False.
        xp: The operations to compute with: None for `TensorOps()` (scalar
            tensors), or `clr_optimizers._host.HostOps` (Python numbers).

    Returns:
        A float32 scalar tensor (float64 when `floatx()` is `"float64"`; a
        Python float with `HostOps`).

    Example:

    >>> float(one_cycle_value(0, (0.1, 1.0, 0.001), total_steps=10))
    0.1...
    """
    xp = TensorOps() if xp is None else xp
    ends = one_cycle_phase_ends(total_steps, pct_start, three_phase)
    n = xp.integer(iteration)
    last = xp.integer_like(total_steps - 1, n)
    step = xp.to_float(xp.where(xp.less(n, last), n, last))
    result = None
    for i in reversed(range(len(ends))):
        start = 0.0 if i == 0 else ends[i - 1]
        length = ends[i] - start
        p = (step - start) / length
        q = (ends[i] - step) / length
        if anneal == "cos":
            half_pi = math.pi / 2
            p = xp.square(xp.sin(half_pi * p))
            q = xp.square(xp.sin(half_pi * q))
        value = xp.to_float(values[i]) * q + xp.to_float(values[i + 1]) * p
        result = value if result is None else xp.where(
            xp.less_equal(step, ends[i]), value, result)
    return result


def reference_learning_rate(
    iteration,
    base_lr,
    max_lr,
    step_size,
    mode="triangular",
    gamma=1.0,
    step_size_down=None,
    scale_fn=None,
    scale_mode="cycle",
):
    """The paper's formula evaluated in float64 NumPy, term for term.

    With `step_size_down`, the triangle is PyTorch's `CyclicLR` one, which
    rises over `step_size` and falls over `step_size_down`.

    Args:
        iteration: Integer or array of integers. The float64 quotient
            `iteration / step_size` carries a relative error of 1e-16, so the
            cycle position is off by about 1e-16 * iteration / step_size.
        base_lr: The bottom of the cycle.
        max_lr: The peak of the cycle.
        step_size: Half the period of the cycle (its rising part), in
            iterations.
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`; ignored
            with `scale_fn`.
        gamma: The `"exp_range"` amplitude factor per iteration.
        step_size_down: The falling part of the cycle. Defaults to
            `step_size`.
        scale_fn: Optional amplitude scale, a function of the cycle number
            (or of the iteration, with `scale_mode="iterations"`).
        scale_mode: `"cycle"` or `"iterations"`.

    Returns:
        A float64 NumPy array (a 0-d array for a scalar iteration).
    """
    check_mode(mode)
    n = np.asarray(iteration, dtype=np.float64)
    if step_size_down is None:
        cycle = np.floor(1 + n / (2 * step_size))
        x = np.abs(n / step_size - 2 * cycle + 1)
        height = np.maximum(0.0, 1 - x)
    else:
        total = step_size + step_size_down
        ratio = step_size / total
        cycle = np.floor(1 + n / total)
        x = 1.0 + n / total - cycle
        height = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
    with np.errstate(over="ignore", under="ignore"):
        if scale_fn is not None:
            argument = cycle if scale_mode == "cycle" else n
            scale = np.asarray(
                [np.float64(scale_fn(a)) for a in np.ravel(argument)]
            ).reshape(np.shape(argument))
        elif mode == "triangular":
            scale = 1.0
        elif mode == "triangular2":
            scale = 1.0 / np.power(2.0, cycle - 1)
        else:
            scale = np.power(np.float64(gamma), n)
        return base_lr + (max_lr - base_lr) * height * scale
