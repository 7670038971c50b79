"""Numerics at the edges, and bad settings assigned at run time.

Edges: far-out positions where `2**cycle` overflows or `gamma**n`
underflows, step_size 1, max_lr equal to or below the base (an inverted
cycle, allowed), float16 and bfloat16 model variables. No rate may be NaN
or infinite, and each must match the float64 `seed_formula`.

Bad settings at run time (a NaN or infinite `max_lr` or base rate, a
negative one, a step size below 1): every update applies the held rate,
`current_lr` (the last rate applied from valid settings), the cycle pauses,
`held_updates` counts the update, and `fit` ends with a `RuntimeWarning`.
No NaN, infinite or negative rate ever reaches the weights.
"""

import warnings

import keras
import numpy as np
import pytest
from helpers import BACKEND
from helpers import INT64
from helpers import JIT_COMPILE
from helpers import assert_rel
from helpers import compiled
from helpers import linear_loss
from helpers import needs_optimizer
from helpers import recorded_rates
from helpers import recorder_data
from helpers import recorder_model
from helpers import reference_rates
from helpers import seed_formula
from helpers import spe
from helpers import tensor

import clr_optimizers as co


def record(n, clr, base, start=0, dtype=None, steps_per_execution=None):
    """Rates of `n` updates from cycle position `start`, read from weights."""
    if steps_per_execution is None:
        steps_per_execution = spe(8)
    model = recorder_model(n, dtype=dtype)
    opt = co.SGD(learning_rate=base, clr=clr)
    model.compile(opt, linear_loss, steps_per_execution=steps_per_execution)
    opt.clr_iterations.assign(start)
    x, y = recorder_data(n)
    model.fit(x, y, batch_size=1, shuffle=False, verbose=0)
    rates = recorded_rates(model)
    assert np.all(np.isfinite(rates))
    assert np.isfinite(float(opt.learning_rate))
    assert np.isfinite(float(opt.current_lr))
    assert int(opt.clr_iterations) == start + n
    return rates, opt


def test_triangular2_after_2000_cycles():
    # 2**(cycle - 1) overflows float32 past cycle 129 and float64 past 1025.
    step = 3
    start = 2 * step * 2100 - 2  # across the start of cycle 2101
    rates, _ = record(
        12,
        {"mode": "triangular2", "step_size": step, "max_lr": 0.05},
        0.01,
        start,
    )
    assert_rel(
        rates,
        reference_rates(
            range(start, start + 12), 0.01, 0.05, step, "triangular2"
        ),
    )
    assert_rel(rates, 0.01)  # the amplitude is long gone


def test_triangular2_as_the_amplitude_fades():
    # Cycles 20..30: the amplitude 2**-(cycle-1) shrinks below float32 eps
    # relative to the base, and the rate must follow it exactly down.
    step = 2
    start = 2 * step * 19
    rates, _ = record(
        44,
        {"mode": "triangular2", "step_size": step, "max_lr": 1.0},
        1e-6,
        start,
    )
    assert_rel(
        rates,
        reference_rates(
            range(start, start + 44), 1e-6, 1.0, step, "triangular2"
        ),
    )


@pytest.mark.parametrize("start", [0, 200, 10**6, 2**31 - 20])
def test_exp_range_long_after_gamma_pow_n_underflows(start):
    # gamma**n is below the smallest float32 from n = 150 and below the
    # smallest float64 from n = 1075.
    clr = {"mode": "exp_range", "step_size": 4, "max_lr": 0.05, "gamma": 0.5}
    rates, _ = record(16, clr, 0.01, start)
    assert_rel(
        rates,
        reference_rates(
            range(start, start + 16), 0.01, 0.05, 4, "exp_range", 0.5
        ),
    )


@pytest.mark.parametrize("mode", co.MODES)
def test_step_size_one(mode):
    gamma = 0.9 if mode == "exp_range" else 1.0
    clr = {"mode": mode, "step_size": 1, "max_lr": 0.05, "gamma": gamma}
    rates, _ = record(16, clr, 0.01)
    assert_rel(rates, reference_rates(16, 0.01, 0.05, 1, mode, gamma))
    assert_rel(rates[0::2], 0.01)  # every even update is at the bottom


@pytest.mark.parametrize("mode", co.MODES)
def test_max_lr_equal_to_the_base(mode):
    gamma = 0.9 if mode == "exp_range" else 1.0
    clr = {"mode": mode, "step_size": 3, "max_lr": 0.02, "gamma": gamma}
    rates, _ = record(24, clr, 0.02)
    assert_rel(rates, 0.02)  # to float32 rounding


@pytest.mark.parametrize("mode", co.MODES)
def test_max_lr_below_the_base_is_an_inverted_cycle(mode):
    gamma = 0.95 if mode == "exp_range" else 1.0
    clr = {"mode": mode, "step_size": 3, "max_lr": 0.001, "gamma": gamma}
    rates, _ = record(24, clr, 0.01)
    assert_rel(rates, reference_rates(24, 0.01, 0.001, 3, mode, gamma))
    assert np.all(rates <= 0.01 * (1 + 1e-6))
    assert np.all(rates >= 0.001 * (1 - 1e-6))


def test_max_lr_zero_inverted_cycle_reaches_zero():
    rates, _ = record(12, {"step_size": 3, "max_lr": 0.0}, 0.01)
    assert_rel(rates, reference_rates(12, 0.01, 0.0, 3), atol=1e-12)
    assert rates[3] == 0.0 and rates[9] == 0.0


@pytest.mark.parametrize("dtype,rtol", [("float16", 1e-3), ("bfloat16", 8e-3)])
@pytest.mark.parametrize("mode", co.MODES)
def test_low_precision_model_variables(dtype, rtol, mode):
    gamma = 0.97 if mode == "exp_range" else 1.0
    clr = {"mode": mode, "step_size": 4, "max_lr": 0.05, "gamma": gamma}
    rates, opt = record(40, clr, 0.01, dtype=dtype)
    assert_rel(
        rates, reference_rates(40, 0.01, 0.05, 4, mode, gamma), rtol=rtol
    )
    # The cycle's own state stays in full precision.
    assert opt.current_lr.dtype == "float32"
    assert opt.max_lr.dtype == "float32"


def test_low_precision_variables_with_adam_stay_finite():
    model = keras.Sequential(
        [
            keras.Input((15,)),
            keras.layers.Dense(10, dtype="float16"),
            keras.layers.Dense(1, activation="sigmoid", dtype="float16"),
        ]
    )
    opt = co.Adam(
        learning_rate=0.001,
        epsilon=1e-4,
        clr={"mode": "triangular2", "step_size": 2, "max_lr": 0.01},
    )
    model.compile(opt, "binary_crossentropy", steps_per_execution=spe(8))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 15)).astype("float32")
    y = (rng.random((256, 1)) > 0.5).astype("float32")
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for w in model.get_weights():
        assert np.all(np.isfinite(w.astype(np.float32)))
    assert_rel(opt.current_lr, seed_formula(31, 0.001, 0.01, 2, "triangular2"))


# Bad settings assigned at run time.

CLR = {"mode": "triangular", "step_size": 4, "max_lr": 0.05}
BASE = 0.01
GOOD = {"max_lr": 0.05, "step_size": 4, "lr": BASE}
BAD_SETTINGS = [
    ("max_lr", float("nan")),
    ("max_lr", float("inf")),
    ("max_lr", -0.01),
    ("step_size", 0),
    ("step_size", -4),
    ("lr", float("nan")),
    ("lr", float("inf")),
    ("lr", -0.01),
]
BAD_IDS = [f"{name}={value}" for name, value in BAD_SETTINGS]


class TableSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The rate of update `n` is `rates[n]`: a plain Keras reference."""

    def __init__(self, rates):
        self.rates = np.asarray(rates, "float32")

    def __call__(self, step):
        return keras.ops.take(keras.ops.convert_to_tensor(self.rates), step)


OPTIMIZERS = {
    # Momentum and Adam's moments carry state across updates; AdamW's
    # weight decay reads the rate outside update_step; Ftrl divides by it.
    "SGD": (co.SGD, keras.optimizers.SGD, {"momentum": 0.9}),
    "AdamW": (co.AdamW, keras.optimizers.AdamW, {"weight_decay": 0.1}),
    "Ftrl": (co.Ftrl, keras.optimizers.Ftrl, {}),
}


@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("name,value", BAD_SETTINGS, ids=BAD_IDS)
def test_bad_setting_holds_the_last_valid_rate(opt_name, name, value):
    # 5 updates, 3 with the bad setting, then 4 repaired: the held updates
    # apply the rate of update 4, and the cycle resumes at position 5.
    clr_class, keras_class, options = OPTIMIZERS[opt_name]
    good, held, repaired = 5, 3, 4
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(good + held + repaired, 4)).astype("float32")
    w0 = np.linspace(0.5, 1.5, 4).astype("float32")

    weight = keras.Variable(w0)
    opt = clr_class(learning_rate=BASE, clr=CLR, **options)

    @compiled
    def step(g):
        opt.apply_gradients([(tensor(g), weight)])

    for g in grads[:good]:
        step(g)
    getattr(opt, name).assign(value)
    for g in grads[good : good + held]:
        step(g)
    assert int(opt.held_updates) == held
    assert int(opt.clr_iterations) == good  # paused
    assert int(opt.iterations) == good + held  # Keras's counter counts
    held_rate = seed_formula(good - 1, BASE, 0.05, 4)
    assert_rel(opt.current_lr, held_rate)
    assert_rel(opt.learning_rate, held_rate)  # what the next update applies
    settings = ("learning_rate", "max_lr", "step_size")
    for v in [weight] + [v for v in opt.variables if v.name not in settings]:
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(v)))
    getattr(opt, name).assign(GOOD[name])
    for g in grads[good + held :]:
        step(g)
    assert int(opt.clr_iterations) == good + repaired
    assert int(opt.held_updates) == held

    # Independent expectation: the plain Keras optimizer with the applied
    # rates written out.
    rates = np.concatenate(
        [
            reference_rates(good, BASE, 0.05, 4),
            np.full(held, held_rate),
            reference_rates(range(good, good + repaired), BASE, 0.05, 4),
        ]
    )
    reference_weight = keras.Variable(w0)
    reference = keras_class(learning_rate=TableSchedule(rates), **options)
    for g in grads:
        reference.apply_gradients([(tensor(g), reference_weight)])
    assert_rel(weight, reference_weight, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("jit_compile", JIT_COMPILE)
@pytest.mark.parametrize(
    "name,value",
    [("max_lr", float("nan")), ("step_size", 0), ("lr", -1.0)],
    ids=["max_lr=nan", "step_size=0", "lr=-1"],
)
def test_bad_setting_in_fit_holds_the_rate_and_warns(jit_compile, name, value):
    n = 24
    model = recorder_model(n)
    opt = co.SGD(learning_rate=BASE, clr=CLR)
    model.compile(
        opt, linear_loss, jit_compile=jit_compile, steps_per_execution=spe(4)
    )
    x, y = recorder_data(n)
    model.fit(x[:8], y[:8], batch_size=1, shuffle=False, verbose=0)
    getattr(opt, name).assign(value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x[8:16], y[8:16], batch_size=1, shuffle=False, verbose=0)
    messages = [
        str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)
    ]
    assert len(messages) == 1, messages
    assert "held its learning rate for 8 update(s)" in messages[0]
    assert "Received: " in messages[0]
    shown = "learning_rate" if name == "lr" else name
    assert f"{shown}={value}" in messages[0]
    assert int(opt.held_updates) == 8
    # Repaired: no new held updates, no new warning, the cycle resumes.
    getattr(opt, name).assign(GOOD[name])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x[16:], y[16:], batch_size=1, shuffle=False, verbose=0)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    rates = recorded_rates(model)
    assert np.all(np.isfinite(rates))
    assert_rel(rates[:8], reference_rates(8, BASE, 0.05, 4))
    assert_rel(rates[8:16], seed_formula(7, BASE, 0.05, 4))  # held
    assert_rel(rates[16:], reference_rates(range(8, 16), BASE, 0.05, 4))
    assert int(opt.clr_iterations) == 16
    assert int(opt.held_updates) == 8


def test_bad_setting_with_gradient_accumulation():
    # Held updates count once per applied update, not per micro-batch.
    n = 24
    model = recorder_model(n)
    opt = co.SGD(learning_rate=BASE, clr=CLR, gradient_accumulation_steps=4)
    model.compile(opt, linear_loss)
    x, y = recorder_data(n)
    model.fit(x[:8], y[:8], batch_size=1, shuffle=False, verbose=0)
    opt.max_lr.assign(float("nan"))
    with pytest.warns(RuntimeWarning, match="held its learning rate for 2"):
        model.fit(x[8:16], y[8:16], batch_size=1, shuffle=False, verbose=0)
    assert int(opt.held_updates) == 2
    assert int(opt.clr_iterations) == 2
    opt.max_lr.assign(0.05)
    model.fit(x[16:], y[16:], batch_size=1, shuffle=False, verbose=0)
    per_update = np.concatenate(
        [
            reference_rates(2, BASE, 0.05, 4),
            [seed_formula(1, BASE, 0.05, 4)] * 2,
            reference_rates(range(2, 4), BASE, 0.05, 4),
        ]
    )
    assert_rel(recorded_rates(model), np.repeat(per_update, 4) / 4)
    assert int(opt.clr_iterations) == 4


def test_bad_setting_before_the_first_update_holds_the_initial_rate():
    # current_lr starts as the rate the first update would apply.
    weight = keras.Variable(np.ones(2, "float32"))
    opt = co.SGD(learning_rate=BASE, clr=CLR)
    opt.step_size.assign(0)
    opt.apply_gradients([(tensor(np.ones(2, "float32")), weight)])
    assert_rel(weight, 1 - BASE)
    assert int(opt.held_updates) == 1 and int(opt.clr_iterations) == 0


def test_without_a_cycle_there_is_no_guard():
    opt = co.SGD(learning_rate=BASE)
    assert opt.held_updates is None
    assert [v.name for v in opt.variables] == [
        v.name for v in keras.optimizers.SGD(learning_rate=BASE).variables
    ]


def test_bad_base_rate_at_construction_is_rejected():
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match=r"Received: learning_rate="):
            co.SGD(learning_rate=bad, clr={"step_size": 2, "max_lr": 0.1})
        with pytest.raises(ValueError, match=r"Received: learning_rate="):
            co.SGD(learning_rate=bad, decay=0.1)


def test_schedule_giving_a_bad_first_rate_is_rejected():
    with pytest.raises(ValueError, match=r"first rate must be a finite number"):
        co.SGD(
            learning_rate=keras.optimizers.schedules.ExponentialDecay(
                -0.1, 10, 0.5
            ),
            clr={"step_size": 2, "max_lr": 0.1},
        )


def _held_run(opt, steps):
    weight = keras.Variable(np.ones(2, "float32"))
    for _ in range(steps):
        opt.apply([tensor(np.ones(2, "float32"))], [weight])
    return keras.ops.convert_to_numpy(weight)


def test_bad_rate_from_a_scale_fn_is_held():
    # A scale_fn of -10 makes every rate but the first (height 0) negative.
    opt = co.SGD(
        learning_rate=0.1,
        clr={
            "step_size": 2,
            "max_lr": 0.2,
            "scale_fn": lambda x: -10.0 + 0 * x,
        },
    )
    weight = _held_run(opt, 4)
    assert int(opt.held_updates) == 3 and int(opt.clr_iterations) == 1
    np.testing.assert_allclose(
        weight, 1 - 4 * 0.1, rtol=1e-6
    )  # the first rate, held


def test_negative_clr_iterations_never_reach_the_weights():
    opt = co.SGD(
        learning_rate=0.1,
        clr={"mode": "triangular2", "step_size": 2, "max_lr": 0.2},
    )
    opt.clr_iterations.assign(-1000)  # 0.5**(-k) overflows: the rate is NaN
    weight = _held_run(opt, 3)
    assert np.all(np.isfinite(weight))
    assert int(opt.held_updates) == 3
    np.testing.assert_allclose(weight, 1 - 3 * 0.1, rtol=1e-6)


def test_momentum_passed_by_position_with_momentum_keys_is_rejected():
    with pytest.raises(
        ValueError, match=r"`momentum` is cycled.*Received: momentum=0.9"
    ):
        co.SGD(
            0.01,
            0.9,
            clr={
                "step_size": 2,
                "max_lr": 0.1,
                "base_momentum": 0.8,
                "max_momentum": 0.9,
            },
        )
    with pytest.raises(
        ValueError, match=r"`beta_1` is cycled.*Received: beta_1=0.5"
    ):
        co.Adam(
            0.01,
            0.5,
            clr={
                "step_size": 2,
                "max_lr": 0.1,
                "base_momentum": 0.8,
                "max_momentum": 0.9,
            },
        )


@needs_optimizer("ScheduleFreeAdamW")
def test_schedule_free_adamw_refuses_momentum_keys():
    with pytest.raises(
        ValueError, match=r"ScheduleFreeAdamW rebuilds its iterate"
    ):
        co.ScheduleFreeAdamW(
            0.01,
            clr={
                "step_size": 2,
                "max_lr": 0.1,
                "base_momentum": 0.8,
                "max_momentum": 0.9,
            },
        )


@pytest.mark.skipif(
    INT64,
    reason=f"pins JAX's 32-bit counters; this backend ({BACKEND}) keeps int64",
)
def test_jax_counters_stop_at_int32():
    # JAX in its default 32-bit mode holds the cycle's counters in int32: the
    # largest position is 2**31 - 1. The update there advances the counter,
    # which wraps to -2**31, where the formula (periodic in the position)
    # goes on: a triangular cycle stays valid, its phase shifted.
    opt = co.SGD(learning_rate=0.01, clr={"step_size": 4, "max_lr": 0.05})
    with pytest.raises(OverflowError):
        opt.clr_iterations.assign(2**31)
    opt.clr_iterations.assign(2**31 - 1)
    weight = keras.Variable(np.zeros(1, "float32"))
    opt.apply([keras.ops.ones((1,))], [weight])
    first = seed_formula(2**31 - 1, 0.01, 0.05, 4)
    assert_rel(-np.asarray(weight)[0], first, rtol=1e-5)
    assert int(opt.clr_iterations) == -(2**31)  # wrapped
    opt.apply([keras.ops.ones((1,))], [weight])
    assert int(opt.held_updates) == 0
    assert_rel(
        -np.asarray(weight)[0],
        first + seed_formula(-(2**31), 0.01, 0.05, 4),
        rtol=1e-5,
    )
