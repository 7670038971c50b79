"""The paper's formula as a float64 NumPy transcription, to check against."""

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from clr_optimizers._validation import check_mode


def reference_learning_rate(
    iteration: ArrayLike,
    base_lr: float,
    max_lr: float,
    step_size: int,
    mode: str = "triangular",
    gamma: float = 1.0,
    step_size_down: int | None = None,
    scale_fn: Callable[[Any], Any] | None = None,
    scale_mode: str = "cycle",
) -> np.ndarray:
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
    scale: Any
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
