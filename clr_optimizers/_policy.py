"""The cyclical learning rate policies as plain functions of the step.

Two implementations of the same formula live here:

* `cyclical_learning_rate`, written with `keras.ops`, runs inside the training
  graph of every backend. It derives the cycle position from the integer step
  counter with integer arithmetic, so it stays exact for any length of training.
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


def cyclical_learning_rate(
    iteration, base_lr, max_lr, step_size, mode="triangular", gamma=1.0
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
    `"triangular2"` and `gamma**iteration` for `"exp_range"`.

    The position inside the cycle is computed from the integer iteration with
    integer arithmetic, so the result is exact at any iteration the integer
    type holds (float32 arithmetic on the iteration would break past 2**24).

    Args:
        iteration: Integer scalar (Python int or integer tensor), the number of
            updates applied so far. A float tensor is floored.
        base_lr: Scalar, the bottom of the cycle.
        max_lr: Scalar, the peak of the cycle.
        step_size: Positive integer scalar, half the period of the cycle, in
            iterations.
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`.
            Defaults to `"triangular"`.
        gamma: Python float in (0, 1], the per-iteration amplitude factor of
            `"exp_range"`. Defaults to `1.0`.

    Returns:
        A float32 scalar tensor (float64 when `keras.backend.floatx()` is
        `"float64"`).

    Example:

    >>> float(cyclical_learning_rate(1000, 0.001, 0.006, step_size=2000))
    0.0035...
    """
    check_mode(mode)
    dtype = _compute_dtype()
    n = _as_integer_tensor(iteration)
    s = ops.cast(step_size, n.dtype)
    cycle_index = ops.floor_divide(n, 2 * s)
    distance_from_peak = ops.abs(n - cycle_index * 2 * s - s)
    # 1 - x == (s - distance_from_peak) / s. Both it and x come from exact
    # integers, and the rate is formed as a sum of non-negative terms
    # base * (1 - h) + max_lr * h, so it keeps full relative precision, also
    # for an inverted cycle (max_lr < base_lr).
    float_s = ops.cast(s, dtype)
    height = ops.cast(s - distance_from_peak, dtype) / float_s
    depth = ops.cast(distance_from_peak, dtype) / float_s
    if mode == "triangular2":
        scale = ops.power(ops.cast(0.5, dtype), ops.cast(cycle_index, dtype))
        depth = depth + height * (1.0 - scale)
        height = height * scale
    elif mode == "exp_range" and gamma != 1.0:
        # gamma**n as exp(n * log(gamma)) with log(gamma) taken in float64:
        # rounding gamma itself to float32 first would be amplified n times.
        exponent = ops.cast(n, dtype) * math.log(gamma)
        depth = depth - height * ops.expm1(exponent)
        height = height * ops.exp(exponent)
    return ops.cast(base_lr, dtype) * depth + ops.cast(max_lr, dtype) * height


def reference_learning_rate(
    iteration, base_lr, max_lr, step_size, mode="triangular", gamma=1.0
):
    """The paper's formula evaluated in float64 NumPy, term for term.

    Args:
        iteration: Integer or array of integers. The float64 quotient
            `iteration / step_size` carries a relative error of 1e-16, so the
            cycle position is off by about 1e-16 * iteration / step_size.
        base_lr: The bottom of the cycle.
        max_lr: The peak of the cycle.
        step_size: Half the period of the cycle, in iterations.
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`.
        gamma: The `"exp_range"` amplitude factor per iteration.

    Returns:
        A float64 NumPy array (a 0-d array for a scalar iteration).
    """
    check_mode(mode)
    n = np.asarray(iteration, dtype=np.float64)
    cycle = np.floor(1 + n / (2 * step_size))
    x = np.abs(n / step_size - 2 * cycle + 1)
    with np.errstate(over="ignore", under="ignore"):
        if mode == "triangular":
            scale = 1.0
        elif mode == "triangular2":
            scale = 1.0 / np.power(2.0, cycle - 1)
        else:
            scale = np.power(np.float64(gamma), n)
        return base_lr + (max_lr - base_lr) * np.maximum(0.0, 1 - x) * scale
