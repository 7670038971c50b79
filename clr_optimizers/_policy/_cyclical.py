"""The cyclical policies of Smith (2017): triangular, triangular2, exp_range,
a custom amplitude `scale_fn`, and asymmetric cycles."""

import math

from keras import ops

from clr_optimizers._policy._ops import TensorOps
from clr_optimizers._types import ScaleFn
from clr_optimizers._types import TensorLike
from clr_optimizers._validation import check_mode


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
            tensors), or `HostOps` (Python numbers).

    Returns:
        `(h, 1 - h)`: two scalar tensors (Python floats with `HostOps`).

    Examples:
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
        if mode == "triangular2" or (
            scale_fn is not None and scale_mode == "cycle"
        ):
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
        height = (
            xp.to_float(xp.where(rising, position, period - position)) / leg
        )
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
    iteration: TensorLike,
    base_lr: TensorLike,
    max_lr: TensorLike,
    step_size: TensorLike,
    mode: str = "triangular",
    gamma: float = 1.0,
    step_size_down: TensorLike | None = None,
    scale_fn: ScaleFn | None = None,
    scale_mode: str = "cycle",
) -> TensorLike:
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

    Examples:
        >>> float(cyclical_learning_rate(1000, 0.001, 0.006, step_size=2000))
        0.0035...
    """
    check_mode(mode)
    height, depth = cycle_fraction(
        iteration, step_size, mode, gamma, step_size_down, scale_fn, scale_mode
    )
    dtype = height.dtype
    return ops.cast(base_lr, dtype) * depth + ops.cast(max_lr, dtype) * height
