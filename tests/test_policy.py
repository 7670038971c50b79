import math

import numpy as np
import pytest
from helpers import FAR
from helpers import MAX_POSITION
from helpers import assert_rel
from helpers import seed_formula
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import clr_optimizers as co

BASE, PEAK = 0.001, 0.006


@pytest.mark.parametrize("mode", co.MODES)
@pytest.mark.parametrize(
    "n", [0, 1, 999, 1000, 1999, 2000, 2001, 3999, 4000, 6001, 123457]
)
def test_matches_float64_formula(mode, n):
    gamma = 0.99994 if mode == "exp_range" else 1.0
    rate = co.cyclical_learning_rate(n, BASE, PEAK, 2000, mode, gamma)
    assert_rel(rate, seed_formula(n, BASE, PEAK, 2000, mode, gamma))


def test_hand_derived_values():
    # Triangular, step 2000: bottom at 0, peak at 2000, half way at 1000.
    assert_rel(co.cyclical_learning_rate(0, 0.001, 0.006, 2000), 0.001)
    assert_rel(co.cyclical_learning_rate(1000, 0.001, 0.006, 2000), 0.0035)
    assert_rel(co.cyclical_learning_rate(2000, 0.001, 0.006, 2000), 0.006)
    assert_rel(co.cyclical_learning_rate(5000, 0.001, 0.006, 2000), 0.0035)
    # Triangular2: the second cycle's peak (n=6000) is half as high.
    assert_rel(
        co.cyclical_learning_rate(6000, 0.001, 0.006, 2000, "triangular2"),
        0.001 + 0.005 / 2,
    )
    # exp_range at the first peak: amplitude * gamma**2000.
    assert_rel(
        co.cyclical_learning_rate(2000, 0.001, 0.006, 2000, "exp_range", 0.999),
        0.001 + 0.005 * math.exp(2000 * math.log(0.999)),
    )


@pytest.mark.parametrize("mode", ["triangular", "triangular2"])
@pytest.mark.parametrize("n", [2**24 + 1, 2**24 + 3, FAR + 1, FAR + 7])
def test_exact_past_float32_integer_range(mode, n):
    # Step size 3 puts 2**24 + 1 off a bottom, where float32(n) rounds.
    for step_size in (3, 7, 2000):
        rate = co.cyclical_learning_rate(n, BASE, PEAK, step_size, mode)
        assert_rel(rate, seed_formula(n, BASE, PEAK, step_size, mode))


def test_triangular_at_2_pow_24_plus_1_is_not_float32_rounded():
    # float32(2**24 + 1) == 2**24, which sits at a peak for step_size 2**23:
    # the exact position is one past it.
    s = 2**23
    rate = co.cyclical_learning_rate(2**24 + 1, 0.0, 1.0, s)
    assert_rel(rate, 1 / s)
    assert float(rate) != 0.0


@pytest.mark.parametrize("n", [2**24 + 1, 2**24 + 12345, FAR + 3])
def test_exp_range_exact_at_large_positions(n):
    gamma = 1 - 1e-7  # gamma**(2**24) is 0.19: still a visible amplitude
    rate = co.cyclical_learning_rate(n, BASE, PEAK, 1000, "exp_range", gamma)
    assert_rel(rate, seed_formula(n, BASE, PEAK, 1000, "exp_range", gamma))


def test_exp_range_does_not_drift():
    # float32 gamma**n is 4e-5 off by n=2000; ours must not be.
    n = np.arange(0, 20001, 250)
    rates = [
        co.cyclical_learning_rate(
            int(i), 0.01, 0.06, 2000, "exp_range", 0.99994
        )
        for i in n
    ]
    expected = [
        seed_formula(i, 0.01, 0.06, 2000, "exp_range", 0.99994) for i in n
    ]
    assert_rel(rates, expected, rtol=1e-6)


def test_no_nan_or_inf_far_out():
    for mode, gamma in [("triangular2", 1.0), ("exp_range", 0.9)]:
        for n in [2000 * 2 * 2100 + 1000, 10**9, FAR + 1000]:
            rate = float(
                co.cyclical_learning_rate(n, BASE, PEAK, 2000, mode, gamma)
            )
            assert math.isfinite(rate)
            assert_rel(rate, BASE)


def test_reference_function_is_the_formula():
    n = np.array([0, 500, 2000, 4100, 2**24 + 3])
    for mode, gamma in [
        ("triangular", 1.0),
        ("triangular2", 1.0),
        ("exp_range", 0.999),
    ]:
        got = co.reference_learning_rate(n, BASE, PEAK, 2000, mode, gamma)
        expected = [seed_formula(i, BASE, PEAK, 2000, mode, gamma) for i in n]
        assert_rel(got, expected, rtol=1e-9)


def test_float_step_is_floored():
    assert_rel(
        co.cyclical_learning_rate(np.float32(1000.7), BASE, PEAK, 2000), 0.0035
    )


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="Received: mode='sine'"):
        co.cyclical_learning_rate(0, BASE, PEAK, 10, "sine")


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, min(2**41, MAX_POSITION)),
    step_size=st.integers(1, 10**6),
    mode=st.sampled_from(co.MODES),
    gamma=st.floats(0.5, 1.0),
    base=st.floats(0.0, 1.0),
    peak=st.floats(0.0, 1.0),
)
def test_property_matches_formula(n, step_size, mode, gamma, base, peak):
    gamma = gamma if mode == "exp_range" else 1.0
    rate = co.cyclical_learning_rate(n, base, peak, step_size, mode, gamma)
    expected = seed_formula(n, base, peak, step_size, mode, gamma)
    assert_rel(rate, expected, rtol=1e-6, atol=1e-12)


def pytorch_cyclic_lr(
    n,
    base_lr,
    max_lr,
    step_size_up,
    step_size_down,
    scale=lambda c: 1.0,
    scale_mode="cycle",
):
    """PyTorch's CyclicLR.get_lr for one group, transcribed in float64."""
    total_size = float(step_size_up + step_size_down)
    step_ratio = step_size_up / total_size
    cycle = math.floor(1 + n / total_size)
    x = 1.0 + n / total_size - cycle
    if x <= step_ratio:
        scale_factor = x / step_ratio
    else:
        scale_factor = (x - 1) / (step_ratio - 1)
    base_height = (max_lr - base_lr) * scale_factor
    argument = cycle if scale_mode == "cycle" else n
    return base_lr + base_height * scale(argument)


@pytest.mark.parametrize(
    "up, down", [(3, 7), (7, 3), (2000, 500), (1, 1), (1, 4)]
)
def test_asymmetric_cycle_matches_pytorch(up, down):
    for n in list(range(0, 3 * (up + down) + 2)) + [10**6 + 3, 2**24 + 1]:
        rate = co.cyclical_learning_rate(n, BASE, PEAK, up, step_size_down=down)
        assert_rel(rate, pytorch_cyclic_lr(n, BASE, PEAK, up, down), atol=1e-12)
        ref = co.reference_learning_rate(n, BASE, PEAK, up, step_size_down=down)
        assert_rel(ref, pytorch_cyclic_lr(n, BASE, PEAK, up, down), rtol=1e-9)


def test_asymmetric_equal_halves_is_the_symmetric_cycle():
    for n in range(0, 50):
        assert float(
            co.cyclical_learning_rate(n, BASE, PEAK, 4, step_size_down=4)
        ) == float(co.cyclical_learning_rate(n, BASE, PEAK, 4))


def test_scale_fn_cycle_and_iterations_modes():
    from keras import ops

    def halving(c):
        return 1.0 / (2.0 ** (c - 1))

    def sine(x):
        return 0.5 * (1 + ops.sin(x * math.pi / 2.0))

    def exp_decay(x):
        return ops.power(0.999, x)

    for n in [0, 1, 5, 7, 8, 19, 40, 101]:
        assert_rel(
            co.cyclical_learning_rate(n, BASE, PEAK, 4, scale_fn=halving),
            pytorch_cyclic_lr(
                n, BASE, PEAK, 4, 4, lambda c: 1 / 2.0 ** (c - 1)
            ),
        )
        assert_rel(
            co.cyclical_learning_rate(n, BASE, PEAK, 4, scale_fn=sine),
            pytorch_cyclic_lr(
                n,
                BASE,
                PEAK,
                4,
                4,
                lambda c: 0.5 * (1 + math.sin(c * math.pi / 2)),
            ),
            atol=1e-12,
        )
        assert_rel(
            co.cyclical_learning_rate(
                n,
                BASE,
                PEAK,
                4,
                step_size_down=6,
                scale_fn=exp_decay,
                scale_mode="iterations",
            ),
            pytorch_cyclic_lr(
                n, BASE, PEAK, 4, 6, lambda i: 0.999**i, "iterations"
            ),
        )


def pytorch_one_cycle(
    n,
    max_lr,
    total_steps,
    div_factor,
    pct_start=0.3,
    final_div_factor=1e4,
    anneal="cos",
    three_phase=False,
):
    """PyTorch's OneCycleLR.get_lr for one group, transcribed in float64."""
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    if three_phase:
        phases = [
            (float(pct_start * total_steps) - 1, initial_lr, max_lr),
            (float(2 * pct_start * total_steps) - 2, max_lr, initial_lr),
            (total_steps - 1, initial_lr, min_lr),
        ]
    else:
        phases = [
            (float(pct_start * total_steps) - 1, initial_lr, max_lr),
            (total_steps - 1, max_lr, min_lr),
        ]

    def cos_anneal(start, end, pct):
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def linear_anneal(start, end, pct):
        return (end - start) * pct + start

    fn = cos_anneal if anneal == "cos" else linear_anneal
    start_step = 0
    for i, (end_step, start_lr, end_lr) in enumerate(phases):
        if n <= end_step or i == len(phases) - 1:
            pct = (n - start_step) / (end_step - start_step)
            return fn(start_lr, end_lr, pct)
        start_step = end_step


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize(
    "total_steps, pct_start", [(1000, 0.3), (97, 0.25), (10, 0.5)]
)
def test_one_cycle_matches_pytorch(anneal, three_phase, total_steps, pct_start):
    max_lr, div_factor, final_div = 0.1, 25.0, 1e4
    initial = max_lr / div_factor
    values = (
        (initial, max_lr, initial, initial / final_div)
        if three_phase
        else (initial, max_lr, initial / final_div)
    )
    for n in sorted(
        set(range(0, total_steps, max(1, total_steps // 50)))
        | {total_steps - 2, total_steps - 1}
    ):
        got = co.one_cycle_value(
            n, values, total_steps, pct_start, anneal, three_phase
        )
        assert_rel(
            got,
            pytorch_one_cycle(
                n,
                max_lr,
                total_steps,
                div_factor,
                pct_start,
                final_div,
                anneal,
                three_phase,
            ),
            rtol=1e-6,
        )


def test_one_cycle_holds_the_final_rate_past_total_steps():
    values = (0.004, 0.1, 0.004 / 1e4)
    for n in [100, 101, 5000, FAR]:
        assert_rel(co.one_cycle_value(n, values, 100), 0.004 / 1e4)
