"""The 1cycle policy of Smith & Topin (2017), as PyTorch's `OneCycleLR`."""

import math
from collections.abc import Sequence
from typing import Any

from clr_optimizers._policy._ops import TensorOps
from clr_optimizers._types import TensorLike


def one_cycle_phase_ends(
    total_steps: Any,
    pct_start: float,
    three_phase: bool = False,
    to_float: Any = float,
) -> tuple[Any, ...]:
    """The last step of each 1cycle phase, as PyTorch's OneCycleLR sets them.

    `total_steps` is an int, or with `to_float` (such as `xp.to_float`) a
    scalar tensor.
    """
    total = to_float(total_steps)
    warmup_end = pct_start * total - 1
    if three_phase:
        return (warmup_end, 2 * warmup_end, total - 1)
    return (warmup_end, total - 1)


def one_cycle_value(
    iteration: TensorLike,
    values: Sequence[TensorLike],
    total_steps: int,
    pct_start: float = 0.3,
    anneal: str = "cos",
    three_phase: bool = False,
    xp: Any = None,
) -> TensorLike:
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
        total_steps: Positive int, the length of the cycle (or an integer
            scalar tensor).
        pct_start: Float in (0, 1), the fraction of the cycle spent rising.
            Defaults to `0.3`.
        anneal: `"cos"` or `"linear"`. Defaults to `"cos"`.
        three_phase: Whether to add a third phase (PyTorch's
            `three_phase=True`). Defaults to False.
        xp: The operations to compute with: None for `TensorOps()` (scalar
            tensors), or `HostOps` (Python numbers).

    Returns:
        A float32 scalar tensor (float64 when `floatx()` is `"float64"`; a
        Python float with `HostOps`).

    Examples:
        >>> float(one_cycle_value(0, (0.1, 1.0, 0.001), total_steps=10))
        0.1...
    """
    xp = TensorOps() if xp is None else xp
    to_float = float if isinstance(total_steps, int) else xp.to_float
    ends = one_cycle_phase_ends(total_steps, pct_start, three_phase, to_float)
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
        result = (
            value
            if result is None
            else xp.where(xp.less_equal(step, ends[i]), value, result)
        )
    return result
