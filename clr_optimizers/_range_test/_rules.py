"""Rules that turn a range test's curves into a (base_lr, max_lr) pair.

Each rule is a small closed-form function of NumPy arrays: the learning
rates of the sweep (increasing), the smoothed losses and, for the paper's
rule, the smoothed accuracies. `suggest` trims the curves the same way for
every rule before the rule looks at them (`trim`): everything from the first
non-finite loss on is dropped (the sweep has diverged there), then the first
tenth of the points and the last five are skipped (fastai's `lr_find` skips
the same: the start is dominated by the moving average's warm-up, the end by
the blow-up), as far as at least three points remain.

The rules that find one rate (`minimum`, `valley`, `steepest`) use it as
`max_lr` and a quarter of it as `base_lr` (Smith 2017, section 3.3: "set
base_lr to be 1/3 or 1/4 of max_lr"):

- `minimum`: `max_lr = lr[argmin(loss)] / 10` (fastai `minimum`).
- `minimum_third`, this package's default: `max_lr = lr[argmin(loss)] / 3`,
  for 1cycle's higher peak (Smith & Topin 2017).
- `valley`: `max_lr` in the middle of the longest falling stretch of the
  loss (fastai `valley`, fastai's default).
- `steepest`: `max_lr = lr[argmin(d loss / d log lr)]` (Lightning
  `suggestion()`, torch-lr-finder, fastai `steep`).
- `accuracy`: `base_lr` where the accuracy starts to rise, `max_lr` where
  it stops rising (Smith 2017, section 3.3).

A user's own rule is a function called the same way, on the same trimmed
curves: `fn(learning_rates, losses)`, or `fn(learning_rates, losses,
accuracies)` when it takes three parameters (`accuracies` None when the
model tracks no accuracy); it returns a `(base_lr, max_lr)` pair of finite
numbers > 0 with `base_lr <= max_lr`.
"""

import math

import numpy as np

from clr_optimizers._validation import check_choice
from clr_optimizers._validation import check_rule_arity
from clr_optimizers._validation import check_suggested_pair
from clr_optimizers._validation import check_suggestion_rule

RULES = ("minimum", "minimum_third", "valley", "steepest", "accuracy")
# The rule behind `suggested_base_lr` and `suggested_max_lr`: the one that
# measured best, never diverging, in the accuracy benchmark's rule study on
# its development tasks (docs/benchmark.md, "The suggestion rules").
DEFAULT_RULE = "minimum_third"
# base_lr = max_lr / BASE_RATIO for the rules that find one rate.
BASE_RATIO = 4.0
# `minimum`: max_lr = (rate at the lowest loss) / MINIMUM_DIVISOR.
MINIMUM_DIVISOR = 10.0
# `minimum_third`: max_lr = (rate at the lowest loss) / MINIMUM_THIRD_DIVISOR.
MINIMUM_THIRD_DIVISOR = 3.0
# `accuracy`: base where the accuracy has made ACCURACY_START of its rise,
# max where it has made ACCURACY_STOP of it.
ACCURACY_START = 0.1
ACCURACY_STOP = 0.9


def check_rule(rule, name="rule"):
    """`rule` if it is one of RULES; otherwise a ValueError naming them."""
    return check_choice(rule, name, RULES)


def finite_prefix(losses):
    """The number of leading finite values: the curve before it diverged.

    Examples:
        >>> finite_prefix(np.array([3.0, 2.0, np.nan, 1.0]))
        2
    """
    losses = np.asarray(losses, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(losses))
    return int(bad[0]) if bad.size else len(losses)


def trim(n, finite=None, skip_start=None, skip_end=5, minimum=3):
    """The slice of a curve of `n` points that the rules look at.

    Drops everything from index `finite` on (the first non-finite loss),
    then `skip_start` points at the start (default: a tenth, `n // 10`) and
    `skip_end` at the end, each reduced as far as needed to keep `minimum`
    points. Returns `slice(start, stop)`.

    Examples:
        >>> trim(100)
        slice(10, 95, None)
        >>> trim(100, finite=40)
        slice(10, 35, None)
        >>> trim(6)
        slice(0, 3, None)
    """
    stop = n if finite is None else min(n, int(finite))
    start = n // 10 if skip_start is None else int(skip_start)
    end = int(skip_end)
    while stop - start - end < minimum and (start > 0 or end > 0):
        if end >= start and end > 0:
            end -= 1
        else:
            start -= 1
    return slice(start, max(start, stop - end))


def _arrays(*curves):
    return tuple(np.asarray(c, dtype=np.float64) for c in curves)


def _pair(max_lr):
    max_lr = float(max_lr)
    return max_lr / BASE_RATIO, max_lr


_NAN_PAIR = (math.nan, math.nan)


def _below_minimum(learning_rates, losses, divisor):
    """The pair with `max_lr = lr[argmin(loss)] / divisor`; NaN if empty."""
    lrs, losses = _arrays(learning_rates, losses)
    if not len(losses):
        return _NAN_PAIR
    return _pair(lrs[int(np.argmin(losses))] / divisor)


def minimum(learning_rates, losses):
    """`max_lr` = (rate at the lowest smoothed loss) / 10; base a quarter.

    `max_lr = lr[argmin(loss)] / 10`, `base_lr = max_lr / 4`.

    Source: fastai `lr_find` suggestion `minimum`
    (fastai/callback/schedule.py: `lrs[argmin(losses)] / 10`): the loss is
    lowest just before training diverges, so a tenth of that rate is where
    the loss still falls fast and training is stable.

    Examples:
        >>> lrs = np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
        >>> minimum(lrs, [2.0, 1.5, 1.0, 0.5, 3.0])
        (0.0025, 0.01)
    """
    return _below_minimum(learning_rates, losses, MINIMUM_DIVISOR)


def minimum_third(learning_rates, losses):
    """`max_lr` = (rate at the lowest smoothed loss) / 3; base a quarter.

    `max_lr = lr[argmin(loss)] / 3`, `base_lr = max_lr / 4`.

    For 1cycle, whose warm-up and annealing tolerate a peak above the best
    constant rate (Smith & Topin 2017, "Super-Convergence", section 3: the
    peak is taken near where the range test's loss stops falling), a third
    of the rate at the loss minimum instead of fastai's tenth. The minimum
    moves with the data order; taking the median of several sweeps' pairs
    steadies it.

    Examples:
        >>> lrs = np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
        >>> [round(v, 6) for v in minimum_third(lrs, [2.0, 1.5, 1.0, 0.3, 3])]
        [0.008333, 0.033333]
    """
    return _below_minimum(learning_rates, losses, MINIMUM_THIRD_DIVISOR)


def valley(learning_rates, losses):
    """`max_lr` in the middle of the longest falling stretch; base a quarter.

    With `start ... end` the indices of the longest strictly decreasing
    subsequence of the loss and `s = (end - start) / 3`:
    `max_lr = lr[start + int(s) + int(s / 2)]`, about half way down it;
    `base_lr = max_lr / 4`.

    Source: fastai `lr_find` suggestion `valley`, its default
    (fastai/callback/schedule.py).

    Examples:
        >>> lrs = 10.0 ** np.arange(-6, 1)       # 1e-6 ... 1
        >>> valley(lrs, [5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 9.0])
        (2.5e-05, 0.0001)
    """
    lrs, losses = _arrays(learning_rates, losses)
    n = len(losses)
    if not n:
        return _NAN_PAIR
    # lds[i]: length of the longest decreasing subsequence ending at i.
    lds = np.ones(n, dtype=np.int64)
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
        if lds[max_end] < lds[i]:
            max_end = i
            max_start = max_end - int(lds[max_end])
    sections = (max_end - max_start) / 3
    index = max_start + int(sections) + int(sections / 2)
    return _pair(lrs[min(max(index, 0), n - 1)])


def steepest(learning_rates, losses):
    """`max_lr` where the loss falls fastest against log rate; base a quarter.

    `max_lr = lr[argmin(d loss / d log lr)]`, the most negative slope by
    central differences (`np.gradient`); `base_lr = max_lr / 4`. With an
    exponential sweep this is the same point as the slope against the step
    number that the sources take.

    Source: Lightning's `_LRFinder.suggestion()`, torch-lr-finder
    (`np.gradient(losses).argmin()`) and fastai's `steep`.

    Examples:
        >>> lrs = 10.0 ** np.arange(-5, 1)       # 1e-5 ... 1
        >>> steepest(lrs, [3.0, 2.9, 2.0, 1.2, 1.1, 5.0])
        (0.00025, 0.001)
    """
    lrs, losses = _arrays(learning_rates, losses)
    positive = lrs > 0  # A linear sweep may start at 0: no log there.
    lrs, losses = lrs[positive], losses[positive]
    n = len(losses)
    if n < 2:
        return _pair(lrs[0]) if n else _NAN_PAIR
    log_lrs = np.log(lrs)
    if not np.all(np.diff(log_lrs) > 0):
        return _pair(lrs[int(np.argmin(np.diff(losses)))])
    slope = np.gradient(losses, log_lrs)
    return _pair(lrs[int(np.argmin(slope))])


def accuracy(learning_rates, losses, accuracies):
    """Base where the accuracy starts to rise, max where it stops rising.

    On the smoothed accuracy `a` over the trimmed sweep (cut where the loss
    stops being finite), with `a0 = a[0]` and `peak = max(a)`: `base_lr` is
    the first rate where `a >= a0 + 0.1 * (peak - a0)` and `max_lr` the
    first where `a >= a0 + 0.9 * (peak - a0)`. NaN when there is no
    accuracy, or it never rises.

    Source: Smith 2017, section 3.3: "Note the learning rate value when the
    accuracy starts to increase and when the accuracy slows, becomes ragged,
    or starts to fall."

    Examples:
        >>> lrs = 10.0 ** np.arange(-5, 1)       # 1e-5 ... 1
        >>> accuracy(lrs, [1.0] * 6, [0.1, 0.1, 0.3, 0.8, 0.9, 0.2])
        (0.001, 0.1)
    """
    if accuracies is None:
        return _NAN_PAIR
    lrs, acc = _arrays(learning_rates, accuracies)
    if not len(acc):
        return _NAN_PAIR
    start, peak = acc[0], acc.max()
    if not peak > start:
        return _NAN_PAIR
    rise = peak - start
    base = lrs[int(np.argmax(acc >= start + ACCURACY_START * rise))]
    top = lrs[int(np.argmax(acc >= start + ACCURACY_STOP * rise))]
    return float(base), float(top)


def suggest(rule, learning_rates, losses, accuracies=None):
    """The (base_lr, max_lr) pair of `rule` from a whole sweep.

    `rule` is one of RULES or a function of the curves (see the module's
    docstring). The curves are first cut where the loss (or, for the
    `accuracy` rule and a function of three parameters, the accuracy) stops
    being finite and trimmed by `trim`; the rule sees what remains (a
    function gets copies, as float64 NumPy arrays). A built-in rule gives a
    pair of NaN when nothing remains (or, for `accuracy`, there is no
    accuracy or it never rises); a function's pair is checked by
    `check_suggested_pair`.

    Examples:
        >>> lrs = np.geomspace(1e-4, 1.0, 20)
        >>> losses = np.r_[np.linspace(3.0, 1.0, 15), [2.0, 4.0, 8, 9, 9]]
        >>> # Trimmed to points 2 ... 14: the first tenth and the last five
        >>> # are skipped.
        >>> def first_and_lowest(learning_rates, losses):
        ...     return learning_rates[0], learning_rates[np.argmin(losses)]
        >>> pair = suggest(first_and_lowest, lrs, losses)
        >>> pair == (lrs[2], lrs[14])
        True
    """
    rule = check_suggestion_rule(rule, RULES)
    arity = check_rule_arity(rule) if callable(rule) else None
    lrs, losses = _arrays(learning_rates, losses)
    finite = finite_prefix(losses)
    if accuracies is not None:
        accuracies = np.asarray(accuracies, dtype=np.float64)
        if rule == "accuracy" or arity == 3:
            finite = min(finite, finite_prefix(accuracies))
    window = trim(len(losses), finite)
    lrs, losses = lrs[window], losses[window]
    if accuracies is not None:
        accuracies = accuracies[window]
    if arity is not None:
        curves = [lrs.copy(), losses.copy()]
        if arity == 3:
            curves.append(None if accuracies is None else accuracies.copy())
        return check_suggested_pair(rule(*curves), rule)
    if rule == "accuracy":
        return accuracy(lrs, losses, accuracies)
    return _ONE_RATE_RULES[rule](lrs, losses)


_ONE_RATE_RULES = {
    "minimum": minimum,
    "minimum_third": minimum_third,
    "valley": valley,
    "steepest": steepest,
}


def suggest_all(learning_rates, losses, accuracies=None):
    """Every rule's (base_lr, max_lr) pair, as a dict keyed by rule."""
    return {
        rule: suggest(rule, learning_rates, losses, accuracies)
        for rule in RULES
    }
