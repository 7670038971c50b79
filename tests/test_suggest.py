"""The range test's suggestion rules, on hand-built curves."""

import math

import numpy as np
import pytest

from clr_optimizers._range_test import _rules
from clr_optimizers._range_test._rules import RULES
from clr_optimizers._range_test._rules import accuracy
from clr_optimizers._range_test._rules import minimum
from clr_optimizers._range_test._rules import steepest
from clr_optimizers._range_test._rules import suggest
from clr_optimizers._range_test._rules import suggest_all
from clr_optimizers._range_test._rules import trim
from clr_optimizers._range_test._rules import valley

LRS = 10.0 ** np.arange(-6, 4, dtype=np.float64)  # 1e-6 ... 1e3, 10 points


def test_the_rules():
    assert RULES == ("minimum", "valley", "steepest", "accuracy")
    assert _rules.DEFAULT_RULE in RULES


def test_trim_skips_a_tenth_and_five_and_stops_at_the_first_nan():
    assert trim(100) == slice(10, 95)
    assert trim(100, finite=50) == slice(10, 45)
    # Short curves keep at least three points: the skips shrink first.
    assert trim(12) == slice(1, 7)
    assert trim(6) == slice(0, 3)
    assert trim(3) == slice(0, 3)
    assert trim(40, finite=5) == slice(1, 4)
    assert trim(40, skip_start=0, skip_end=0) == slice(0, 40)


def test_finite_prefix():
    assert _rules.finite_prefix([1.0, 2.0, np.inf, 1.0]) == 2
    assert _rules.finite_prefix([np.nan]) == 0
    assert _rules.finite_prefix([1.0, 2.0]) == 2


def test_minimum_is_a_tenth_of_the_rate_at_the_lowest_loss():
    losses = [5, 4, 3, 2, 1.5, 1.0, 1.2, 3, 6, 9]
    # Lowest at index 5, rate 1e-1: max 1e-2, base 2.5e-3.
    assert minimum(LRS, losses) == pytest.approx((2.5e-3, 1e-2))


def test_valley_is_half_way_down_the_longest_falling_stretch():
    # Longest decreasing subsequence: 6, 4, 3, 2, 1, 0.5, 0.4 (indices 1-7,
    # length 7, ending at 7). fastai: start = 7 - 7 = 0, sections = 7/3,
    # index = 0 + int(7/3) + int(7/6) = 0 + 2 + 1 = 3.
    losses = [5, 6, 4, 3, 2, 1, 0.5, 0.4, 2, 9]
    assert valley(LRS, losses) == pytest.approx((1e-3 / 4, 1e-3))


def test_valley_on_a_curve_that_only_falls():
    # lds = 1..10, end 9, start 9 - 10 = -1, sections 10/3:
    # index -1 + 3 + 1 = 3.
    losses = np.linspace(9.0, 1.0, 10)
    assert valley(LRS, losses)[1] == pytest.approx(1e-3)


def test_steepest_is_the_most_negative_slope_against_log_rate():
    # Central differences (uniform in log rate): at index 4 the slope is
    # (1.0 - 4.0) / 2 = -1.5 per decade step, the steepest.
    losses = [5.0, 4.9, 4.8, 4.0, 2.5, 1.0, 0.9, 0.8, 3.0, 9.0]
    assert steepest(LRS, losses) == pytest.approx((1e-2 / 4, 1e-2))


def test_steepest_with_a_linear_sweep_uses_log_rate():
    # Rates 1, 2, ..., 10; loss falls by 1 per step until rate 6. Against log
    # rate the fall is steepest where the rate is largest: d loss / d log r
    # = r * d loss / d r, so at index 4 (central differences, rate 5).
    lrs = np.arange(1.0, 11.0)
    losses = [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert steepest(lrs, losses)[1] == pytest.approx(5.0)


def test_accuracy_rule_from_a_tenth_to_nine_tenths_of_the_rise():
    # Start 0.1, peak 0.9: base at the first value >= 0.18, max at the
    # first >= 0.82.
    acc = [0.1, 0.1, 0.12, 0.3, 0.6, 0.85, 0.9, 0.88, 0.5, 0.1]
    assert accuracy(LRS, None, acc) == pytest.approx((1e-3, 1e-1))


def test_accuracy_rule_without_accuracy_or_rise_is_nan():
    assert all(math.isnan(v) for v in accuracy(LRS, None, None))
    assert all(math.isnan(v) for v in accuracy(LRS, None, [0.5] * 10))
    pair = suggest("accuracy", LRS, np.ones(10), None)
    assert all(math.isnan(v) for v in pair)


def test_suggest_trims_before_the_rule_looks():
    # 30 points: skip 3 at the start and 5 at the end. The raw minimum (the
    # first point, the moving average's warm-up) and the points after the
    # NaN are ignored.
    lrs = np.geomspace(1e-5, 1.0, 30)
    losses = np.full(30, 3.0)
    losses[0] = 0.1  # skipped: start
    losses[3:20] = np.linspace(3.0, 1.0, 17)  # falls to index 19
    losses[20:24] = [1.5, 2.0, 4.0, 8.0]
    losses[24] = np.nan  # everything from here is dropped
    window = trim(30, finite=24)
    assert window == slice(3, 19)
    base, top = suggest("minimum", lrs, losses)
    # Lowest in the window is index 18 (index 19 is cut with the last 5).
    assert top == pytest.approx(lrs[18] / 10)
    assert base == pytest.approx(top / 4)


def test_suggest_all_and_unknown_rule():
    lrs = np.geomspace(1e-5, 1.0, 30)
    losses = np.concatenate([np.linspace(3, 1, 20), np.linspace(1, 9, 10)])
    acc = np.concatenate([np.linspace(0.1, 0.9, 20), np.linspace(0.9, 0.1, 10)])
    pairs = suggest_all(lrs, losses, acc)
    assert list(pairs) == list(RULES)
    for base, top in pairs.values():
        assert 0 < base < top <= 1.0
    with pytest.raises(ValueError, match="'minimum', 'valley', 'steepest'"):
        suggest("fastest", lrs, losses)
    with pytest.raises(ValueError, match="Received: rule='fastest'"):
        _rules.check_rule("fastest")


def test_docstring_examples():
    import doctest

    failures, _ = doctest.testmod(_rules, optionflags=doctest.ELLIPSIS)
    assert failures == 0
