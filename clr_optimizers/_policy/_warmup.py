"""A linear warm-up before a cyclical policy."""

from typing import Any

from clr_optimizers._policy._ops import TensorOps
from clr_optimizers._types import TensorLike


def linear_warmup(
    xp: Any,
    position: TensorLike,
    base: TensorLike,
    warmup_steps: TensorLike,
    start: float,
) -> tuple[TensorLike, TensorLike]:
    """Whether update `position` is in the warm-up, and its rate.

    Over `b = warmup_steps` updates the rate rises linearly from `start` to
    `base`; update `n` (from 0) applies

    ```
    rate = start * (b - n) / b + base * n / b        for 0 <= n < b
    ```

    formed from non-negative terms, so it keeps its relative precision near
    either end; update `b` is the first of the cycle, at position 0 (the
    rate `base`). With `b = 0` there is no warm-up. As the linear warm-up of
    Goyal et al., "Accurate, Large Minibatch SGD"
    (https://arxiv.org/abs/1706.02677).

    Args:
        xp: The operations namespace (`TensorOps()` or a `HostOps`), or
            None for `TensorOps()`.
        position: Integer scalar, the number of updates applied so far.
        base: The rate the warm-up ends at (the cycle's bottom).
        warmup_steps: Integer scalar, the warm-up's length in updates.
        start: The first update's rate.

    Returns:
        `(warming_up, rate)`: a bool and a float scalar (Python values with
        `HostOps`).

    Examples:
        >>> warming_up, rate = linear_warmup(None, 1, 0.01, 4, 0.0)
        >>> bool(warming_up), round(float(rate), 6)
        (True, 0.0025)
    """
    xp = TensorOps() if xp is None else xp
    n = xp.integer(position)
    b = xp.integer_like(warmup_steps, n)
    length = xp.to_float(xp.maximum(b, 1))
    done = xp.to_float(n) / length
    left = xp.to_float(b - n) / length
    rate = xp.to_float(start) * left + xp.to_float(base) * done
    return xp.less(n, b), rate
