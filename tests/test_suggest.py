"""The range test's suggestion rules, on hand-built curves."""

import math
import re

import numpy as np
import pytest

import clr_optimizers as co
from clr_optimizers._range_test import _rules
from clr_optimizers._range_test._rules import RULES
from clr_optimizers._range_test._rules import accuracy
from clr_optimizers._range_test._rules import minimum
from clr_optimizers._range_test._rules import minimum_third
from clr_optimizers._range_test._rules import steepest
from clr_optimizers._range_test._rules import suggest
from clr_optimizers._range_test._rules import suggest_all
from clr_optimizers._range_test._rules import trim
from clr_optimizers._range_test._rules import valley

LRS = 10.0 ** np.arange(-6, 4, dtype=np.float64)  # 1e-6 ... 1e3, 10 points


def test_the_rules():
    assert RULES == (
        "minimum",
        "minimum_third",
        "valley",
        "steepest",
        "accuracy",
    )
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


def test_minimum_third_is_a_third_of_the_rate_at_the_lowest_loss():
    losses = [5, 4, 3, 2, 1.5, 1.0, 1.2, 3, 6, 9]
    # Lowest at index 5, rate 1e-1: max 1e-1 / 3, base a quarter of that.
    assert minimum_third(LRS, losses) == pytest.approx((1 / 120, 1 / 30))
    assert all(np.isnan(minimum_third([], [])))


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
    with pytest.raises(
        ValueError, match="'minimum', 'minimum_third', 'valley', 'steepest'"
    ):
        suggest("fastest", lrs, losses)
    with pytest.raises(ValueError, match="Received: rule='fastest'"):
        _rules.check_rule("fastest")


def test_docstring_examples():
    import doctest

    failures, _ = doctest.testmod(_rules, optionflags=doctest.ELLIPSIS)
    assert failures == 0


# A user's own rule: result.suggest(fn) and result.plot(rule=fn).

# 24 rates, 1e-5 ... 1e-5 * 10**(23/4); trim(24) keeps indices 2 ... 18 (a
# tenth, 2, skipped at the start and 5 at the end).
RATES = 1e-5 * 10.0 ** (np.arange(24) / 4)
LOSSES = np.r_[np.linspace(5.0, 1.0, 20), [1.5, 3.0, 6.0, 9.0]]
ACCURACIES = np.r_[np.linspace(0.1, 0.9, 20), [0.8, 0.5, 0.3, 0.1]]
WINDOW = slice(2, 19)


def hand_result(accuracies=ACCURACIES):
    return co.LRRangeTestResult(
        learning_rates=RATES,
        losses=LOSSES,
        raw_losses=LOSSES,
        accuracies=accuracies,
        raw_accuracies=accuracies,
        accuracy_name=None if accuracies is None else "accuracy",
        diverged=True,
        sweep="exponential",
    )


def test_a_function_of_two_curves_sees_the_trimmed_curves():
    seen = []

    def first_and_lowest(learning_rates, losses):
        seen.append((learning_rates, losses))
        losses[:] = 0.0  # a copy: the result's curves are untouched
        return learning_rates[0], learning_rates[-1]

    result = hand_result()
    pair = result.suggest(first_and_lowest)
    assert pair == (RATES[2], RATES[18])
    assert all(type(value) is float for value in pair)
    ((learning_rates, losses),) = seen
    np.testing.assert_array_equal(learning_rates, RATES[WINDOW])
    assert learning_rates.dtype == np.float64
    np.testing.assert_array_equal(result.losses, LOSSES)
    # The same function through the module-level function.
    assert _rules.suggest(first_and_lowest, RATES, LOSSES) == pair


def test_a_function_of_three_curves_gets_the_accuracies():
    seen = []

    def with_accuracy(learning_rates, losses, accuracies):
        seen.append(accuracies)
        top = learning_rates[np.argmax(accuracies)]
        return top / 4, top

    # The accuracy peaks (0.9) at index 19, outside the window: the highest
    # in it is at index 18.
    assert hand_result().suggest(with_accuracy) == (RATES[18] / 4, RATES[18])
    np.testing.assert_array_equal(seen[-1], ACCURACIES[WINDOW])

    # A NaN accuracy cuts the curves, as for the built-in `accuracy` rule:
    # trim(24, finite=15) keeps indices 2 ... 9.
    accuracies = ACCURACIES.copy()
    accuracies[15] = np.nan
    assert hand_result(accuracies).suggest(with_accuracy)[1] == RATES[9]
    np.testing.assert_array_equal(seen[-1], accuracies[2:10])

    # Without an accuracy metric it gets None.
    def lowest(learning_rates, losses, accuracies=None):
        seen.append(accuracies)
        return learning_rates[0], learning_rates[np.argmin(losses)]

    assert hand_result(None).suggest(lowest) == (RATES[2], RATES[18])
    assert seen[-1] is None


def test_a_numpy_pair_and_equal_bounds_are_taken():
    result = hand_result()
    pair = result.suggest(lambda lrs, losses: np.array([lrs[3], lrs[3]]))
    assert pair == (RATES[5], RATES[5])


def bad_rule_returning(value):
    def bad_rule(learning_rates, losses):
        return value

    return bad_rule


@pytest.mark.parametrize(
    "value, error",
    [
        (0.1, TypeError),
        ((0.1,), TypeError),
        ((0.1, 0.2, 0.3), TypeError),
        ("ab", TypeError),
        (None, TypeError),
        ((0.1, "0.2"), TypeError),
        ((True, 0.2), TypeError),
        ((0.0, 0.1), ValueError),
        ((-0.1, 0.1), ValueError),
        ((0.1, math.inf), ValueError),
        ((math.nan, 0.1), ValueError),
        ((0.2, 0.1), ValueError),
    ],
)
def test_a_malformed_return_value_is_an_error(value, error):
    rule = bad_rule_returning(value)
    message = (
        r"`rule` \(the function bad_rule_returning\.<locals>\.bad_rule\) "
        r"must return a pair `\(base_lr, max_lr\)` of finite real numbers "
        r"> 0 with base_lr <= max_lr\. Received: "
        r"bad_rule_returning\.<locals>\.bad_rule\(\.\.\.\) returned "
    )
    with pytest.raises(error, match=message + re.escape(repr(value))):
        hand_result().suggest(rule)


def test_a_function_of_the_wrong_arity_and_unknown_rules():
    result = hand_result()
    with pytest.raises(
        TypeError,
        match=r"`rule` must be a function `fn\(learning_rates, losses\)` or "
        r"`fn\(learning_rates, losses, accuracies\)`\. Received: rule=.*"
        r"<lambda> with the signature \(lrs\)",
    ):
        result.suggest(lambda lrs: (1e-3, 1e-2))
    with pytest.raises(TypeError, match=r"signature \(a, b, c, d\)"):
        result.suggest(lambda a, b, c, d: (1e-3, 1e-2))
    for rule in ("fast", 3, None):
        with pytest.raises(
            ValueError,
            match=r"or one of 'minimum', 'minimum_third', 'valley', "
            r"'steepest', 'accuracy'\. "
            + re.escape(f"Received: rule={rule!r}"),
        ):
            result.suggest(rule)


def marked_lines(figure):
    """{legend label: x of the vertical line} of the loss axis."""
    ax = figure.axes[0]
    return {
        line.get_label(): line.get_xdata()[0]
        for line in ax.get_lines()
        if len(set(line.get_xdata())) == 1
    }


def test_plot_marks_a_custom_rule(tmp_path):
    def lowest_over_3(learning_rates, losses):
        top = learning_rates[np.argmin(losses)] / 3
        return top / 4, top

    # The lowest loss in the window is at index 18.
    top = RATES[18] / 3
    result = hand_result()
    path = tmp_path / "custom.png"
    figure = result.plot(path, rule=lowest_over_3)
    assert path.stat().st_size > 0
    lines = marked_lines(figure)
    assert lines == {
        f"lowest_over_3() base = {top / 4:.3g}": pytest.approx(top / 4),
        f"lowest_over_3() max = {top:.3g}": pytest.approx(top),
    }
    # Both rows (loss and accuracy) are marked.
    assert len(figure.axes) == 2
    labels = figure.axes[1].get_legend_handles_labels()[1]
    assert f"lowest_over_3() max = {top:.3g}" in labels


def test_plot_marks_one_named_rule_or_every_rule():
    result = hand_result()
    # `minimum_third`: a third of the rate at the lowest loss (index 18).
    top = RATES[18] / 3
    assert marked_lines(result.plot(rule="minimum_third")) == {
        f"minimum_third (default) base = {top / 4:.3g}": pytest.approx(top / 4),
        f"minimum_third (default) max = {top:.3g}": pytest.approx(top),
    }
    top = RATES[18] / 10
    assert marked_lines(result.plot(rule="minimum")) == {
        f"minimum base = {top / 4:.3g}": pytest.approx(top / 4),
        f"minimum max = {top:.3g}": pytest.approx(top),
    }
    labels = set(marked_lines(result.plot()))
    for rule in RULES:
        assert any(label.startswith(f"{rule}") for label in labels)
    with pytest.raises(ValueError, match="Received: rule='fast'"):
        result.plot(rule="fast")
