"""The linear warm-up before a cyclical policy, in the optimizers.

Update `n < b` applies `start + (base - start) * n / b`; update `n >= b` the
cycle at position `n - b`. The references are written out here in float64.
"""

import keras
import numpy as np
import pytest
from helpers import assert_rel
from helpers import linear_loss
from helpers import seed_formula
from helpers import tensor
from test_policies_in_optimizers import step_rates

import clr_optimizers as co

BASE, PEAK, STEP = 0.01, 0.1, 4


def warmup_reference(n, b, start, cycle):
    """The rate of update `n` after a warm-up of `b` updates from `start`."""
    if n < b:
        return start + (BASE - start) * n / b
    return cycle(n - b)


def triangular(k):
    return seed_formula(k, BASE, PEAK, STEP)


@pytest.mark.parametrize("b", [0, 1, 5])
@pytest.mark.parametrize("start", [0.0, 0.002])
def test_warmup_boundaries(b, start):
    clr = {
        "mode": "triangular",
        "max_lr": PEAK,
        "step_size": STEP,
        "warmup_steps": b,
        "warmup_start_lr": start,
    }
    opt = co.SGD(learning_rate=BASE, clr=clr)
    n = b + 2 * STEP + 2
    rates = step_rates(opt, n)
    expected = [warmup_reference(k, b, start, triangular) for k in range(n)]
    assert_rel(rates, expected, atol=1e-9)
    # The boundaries: the last warm-up update, the first of the cycle (the
    # base rate) and the one after it.
    if b:
        assert_rel(rates[b - 1], start + (BASE - start) * (b - 1) / b)
    assert_rel(rates[b], BASE)
    assert_rel(rates[b + 1], BASE + (PEAK - BASE) / STEP)


def test_no_warmup_equals_the_cycle_alone():
    plain = co.SGD(learning_rate=BASE, clr={"max_lr": PEAK, "step_size": STEP})
    warm = co.SGD(
        learning_rate=BASE,
        clr={"max_lr": PEAK, "step_size": STEP, "warmup_steps": 0},
    )
    assert step_rates(plain, 12) == step_rates(warm, 12)


def test_warmup_with_scale_fn_asymmetric_and_momentum():
    def halves(cycle):
        return keras.ops.power(0.5, cycle - 1.0)

    clr = {
        "scale_fn": halves,
        "max_lr": PEAK,
        "step_size": 2,
        "step_size_down": 3,
        "warmup_steps": 3,
        "base_momentum": 0.8,
        "max_momentum": 0.9,
    }
    opt = co.SGD(learning_rate=BASE, clr=clr)
    weight = keras.Variable(np.zeros(1, "float32"))
    rates, momenta = [], []
    for _ in range(14):
        opt.apply([tensor(np.ones(1, "float32"))], [weight])
        rates.append(float(opt.current_lr))
        momenta.append(float(opt.current_momentum))

    def cycle(k):
        period = 5
        cycle_number, x = divmod(k, period)
        height = x / 2 if x < 2 else (period - x) / 3
        return BASE + (PEAK - BASE) * height * 0.5**cycle_number

    def momentum(k):
        if k < 3:
            return 0.9
        cycle_number, x = divmod(k - 3, 5)
        height = x / 2 if x < 2 else (5 - x) / 3
        return 0.9 - (0.9 - 0.8) * height * 0.5**cycle_number

    assert_rel(
        rates,
        [warmup_reference(k, 3, 0.0, cycle) for k in range(14)],
        atol=1e-9,
    )
    assert_rel(momenta, [momentum(k) for k in range(14)])


def test_resumed_mid_warmup_equals_uninterrupted(tmp_path):
    clr = {"max_lr": PEAK, "step_size": STEP, "warmup_steps": 6}
    x, y = np.ones((12, 1), "float32"), np.zeros((12, 1), "float32")

    def model_with(opt):
        model = keras.Sequential(
            [
                keras.Input((1,)),
                keras.layers.Dense(
                    1, use_bias=False, kernel_initializer="zeros"
                ),
            ]
        )
        model.compile(opt, linear_loss)
        return model

    straight = model_with(co.SGD(learning_rate=BASE, clr=clr))
    straight.fit(x, y, batch_size=1, shuffle=False, verbose=0)
    first = model_with(co.SGD(learning_rate=BASE, clr=clr))
    first.fit(x[:3], y[:3], batch_size=1, verbose=0)  # stopped mid-warm-up
    first.save(tmp_path / "warm.keras")
    loaded = keras.models.load_model(
        tmp_path / "warm.keras", custom_objects={"linear_loss": linear_loss}
    )
    assert loaded.optimizer.clr == first.optimizer.clr
    assert int(loaded.optimizer.clr_iterations) == 3
    loaded.fit(x[3:], y[3:], batch_size=1, shuffle=False, verbose=0)
    rates = [warmup_reference(k, 6, 0.0, triangular) for k in range(12)]
    kernel = keras.ops.convert_to_numpy(loaded.weights[0])[0, 0]
    assert_rel(-kernel, sum(rates), rtol=1e-6)
    assert_rel(kernel, keras.ops.convert_to_numpy(straight.weights[0])[0, 0])
    assert_rel(loaded.optimizer.current_lr, straight.optimizer.current_lr)


def test_warmup_config_round_trip():
    clr = {
        "mode": "exp_range",
        "max_lr": PEAK,
        "step_size": STEP,
        "clr_gamma": 0.99,
        "warmup_steps": 7,
        "warmup_start_lr": 0.001,
    }
    opt = co.Adam(learning_rate=BASE, clr=clr)
    assert opt.clr == {**clr, "max_lr": pytest.approx(PEAK)}
    clone = co.Adam.from_config(opt.get_config())
    assert clone.clr == opt.clr
    assert int(clone.clr_warmup_steps) == 7


def test_warmup_variable_is_assignable_without_retracing():
    clr = {"max_lr": PEAK, "step_size": STEP, "warmup_steps": 2}
    opt = co.SGD(learning_rate=BASE, clr=clr)
    opt.clr_warmup_steps.assign(4)
    rates = step_rates(opt, 6)
    assert_rel(rates[:4], [BASE * k / 4 for k in range(4)], atol=1e-12)
    assert_rel(rates[4], BASE)


@pytest.mark.parametrize(
    "clr, error, pattern",
    [
        (
            {"max_lr": 0.1, "step_size": 4, "warmup_steps": 2.5},
            ValueError,
            r"clr\['warmup_steps'\].*Received: clr\['warmup_steps'\]=2.5",
        ),
        (
            {"max_lr": 0.1, "step_size": 4, "warmup_steps": "3"},
            TypeError,
            r"of type str",
        ),
        (
            {
                "max_lr": 0.1,
                "step_size": 4,
                "warmup_steps": 3,
                "warmup_start_lr": -1.0,
            },
            ValueError,
            r"warmup_start_lr.*>= 0",
        ),
    ],
)
def test_bad_warmup_is_rejected(clr, error, pattern):
    with pytest.raises(error, match=pattern):
        co.SGD(clr=clr)
