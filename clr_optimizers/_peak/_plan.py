"""What `find_max_lr` spends, and on which rates: closed-form planning.

The search spends at most `budget` times the run's updates `U`: a range
test of `sweep_steps(...)` updates, then two rungs of successive halving
(Jamieson & Talwalkar, https://arxiv.org/abs/1502.07943): every candidate
trains a short 1cycle of `L` updates, the best `KEPT` train one of
`GROWTH * L`. With `n` candidates the trials cost `(n + KEPT * GROWTH) * L`.

The candidates are half a decade apart below the range test's top rate,
`top * 10 ** (-k / 2)` for `k = 0 ... n - 1`: the peaks a tuned
half-decade grid would try, placed by the range test instead of by hand.
`top` is the rate of the lowest smoothed loss, when the loss fell in the
sweep; when it did not (a plateau that outlasts the sweep), the last rate
before the loss rose above where it started (`candidate_top`).

A short run's best peak is higher than a long run's (Bjorck et al.,
"Scaling Optimal LR Across Token Horizons", https://arxiv.org/abs/2409.19913:
the best rate falls roughly as `D ** -0.3` with the training length `D`),
so the winner of the last rung, `L2` updates long, is scaled to the run by
`horizon_factor(L2, U) = (L2 / U) ** HORIZON_EXPONENT`.
"""

import math

import numpy as np

# Candidates half a decade apart.
CANDIDATE_SPACING = 10.0**0.5
# Candidates of the first rung.
CANDIDATES = 6
# Candidates kept for the second rung, and how much longer it trains them.
KEPT = 2
GROWTH = 3
# The best peak falls as (training length) ** -HORIZON_EXPONENT.
HORIZON_EXPONENT = 0.3
# The range test: an exponential sweep between these rates, of
# SWEEP_SHARE of the budget, within [MIN_SWEEP_STEPS, MAX_SWEEP_STEPS].
SWEEP_MIN_LR = 1e-7
SWEEP_MAX_LR = 10.0
SWEEP_SHARE = 0.1
MIN_SWEEP_STEPS = 30
MAX_SWEEP_STEPS = 200
# The loss fell in the sweep when its lowest smoothed value is at most
# FELL times its start (the median raw loss of the sweep's first tenth).
FELL = 0.9
# The shortest first-rung trial, in updates.
MIN_TRIAL_UPDATES = 8


def sweep_steps(budget_updates: int) -> int:
    """The range test's steps for a search of `budget_updates` updates.

    Examples:
        >>> sweep_steps(2000), sweep_steps(100), sweep_steps(100_000)
        (200, 30, 200)
    """
    share = round(SWEEP_SHARE * budget_updates)
    return int(min(max(share, MIN_SWEEP_STEPS), MAX_SWEEP_STEPS))


def trial_lengths(
    budget_updates: int,
    sweep_updates: int,
    run_updates: int,
    candidates: int = CANDIDATES,
) -> tuple[int, int]:
    """The updates of a first-rung and of a second-rung trial.

    Args:
        budget_updates: All the search may spend, in updates.
        sweep_updates: What the range test spends, in updates.
        run_updates: `U`, the updates of the run the peak is chosen for.
        candidates: The candidates of the first rung.

    Returns:
        `(L1, L2)`, with `L2 = GROWTH * L1` and at most `U`.

    Raises:
        ValueError: If the first-rung trials would be shorter than
            `MIN_TRIAL_UPDATES`.

    Examples:
        >>> trial_lengths(2000, 201, 1000)  # (2000 - 201) // 12
        (149, 447)
    """
    trials = budget_updates - sweep_updates
    first = trials // (candidates + KEPT * GROWTH)
    if first < MIN_TRIAL_UPDATES:
        raise ValueError(
            "`find_max_lr` cannot search within its budget: after the "
            f"range test ({sweep_updates} updates), {max(trials, 0)} updates "
            f"remain for {candidates} trials and {KEPT} longer ones, less "
            f"than {MIN_TRIAL_UPDATES} updates per trial. Raise `budget` or "
            "train for more updates (`epochs`, `steps_per_epoch`). "
            f"Received: budget of {budget_updates} updates for a run of "
            f"{run_updates}"
        )
    first = min(first, run_updates)
    return first, min(GROWTH * first, run_updates)


def candidate_top(learning_rates, losses, raw_losses) -> float:
    """The highest candidate peak, from a range test's curves.

    Args:
        learning_rates: The swept rates, increasing.
        losses: The smoothed losses.
        raw_losses: The losses before smoothing.

    Returns:
        The rate of the lowest smoothed loss if it is at most `FELL` times
        the start; otherwise the last rate before the smoothed loss first
        exceeds the start divided by `FELL` (the last finite one if it
        never does); NaN without a finite loss.

    Examples:
        >>> rates = [0.001, 0.01, 0.1, 1.0, 10.0]
        >>> candidate_top(rates, [2.0, 1.5, 1.0, 1.8, 9.0], [2.0] * 5)
        0.1
        >>> candidate_top(rates, [2.0, 2.0, 1.95, 2.0, 9.0], [2.0] * 5)
        1.0
    """
    rates = np.asarray(learning_rates, dtype="float64")
    smoothed = np.asarray(losses, dtype="float64")
    finite = np.isfinite(smoothed)
    if not finite.any() or not finite[0]:
        return math.nan
    end = len(smoothed) if finite.all() else int(np.argmin(finite))
    rates, smoothed = rates[:end], smoothed[:end]
    raw = np.asarray(raw_losses, dtype="float64")[: max(1, end // 10)]
    start = float(np.median(raw))
    lowest = int(np.argmin(smoothed))
    if smoothed[lowest] <= FELL * start:
        return float(rates[lowest])
    rose = np.flatnonzero(smoothed > start / FELL)
    last = int(rose[0]) - 1 if len(rose) else len(rates) - 1
    return float(rates[max(last, 0)])


def candidate_rates(top: float, candidates: int = CANDIDATES) -> list[float]:
    """The first rung's peaks: half-decade steps down from `top`.

    Examples:
        >>> [round(r, 6) for r in candidate_rates(0.1, 4)]
        [0.1, 0.031623, 0.01, 0.003162]
    """
    return [top / CANDIDATE_SPACING**k for k in range(candidates)]


def horizon_factor(trial_updates: int, run_updates: int) -> float:
    """What a trial's best peak is scaled by for a run of `run_updates`.

    `(trial_updates / run_updates) ** HORIZON_EXPONENT`, at most 1.

    Examples:
        >>> round(horizon_factor(500, 1000), 4)
        0.8123
    """
    ratio = min(trial_updates / run_updates, 1.0)
    return ratio**HORIZON_EXPONENT


def ranked(scores: list[float], maximize: bool) -> list[int]:
    """Indices of `scores`, best first; non-finite scores last.

    Ties keep the order of `scores`.

    Examples:
        >>> ranked([0.5, float("nan"), 0.9, 0.7], maximize=True)
        [2, 3, 0, 1]
        >>> ranked([0.5, float("nan"), 0.9, 0.7], maximize=False)
        [0, 3, 2, 1]
    """
    sign = -1.0 if maximize else 1.0

    def key(i):
        score = scores[i]
        if not math.isfinite(score):
            return (1, 0.0)
        return (0, sign * score)

    return sorted(range(len(scores)), key=key)
