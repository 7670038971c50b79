"""Custom scale functions, asymmetric cycles, cyclical momentum and 1cycle, in
the optimizers."""

import math

import keras
import numpy as np
import pytest
from helpers import assert_rel
from helpers import seed_data
from helpers import seed_model
from helpers import spe
from helpers import tensor
from keras import ops
from test_policy import pytorch_cyclic_lr
from test_policy import pytorch_one_cycle

import clr_optimizers as co

_weights = {}


def step_rates(opt, steps, gradient=1.0):
    """Rates applied by `steps` updates of a no-momentum SGD-like optimizer."""
    weight = _weights.setdefault(
        id(opt), keras.Variable(np.zeros(1, "float32"))
    )
    rates = []
    for _ in range(steps):
        weight.assign([0.0])
        opt.apply([tensor(np.full(1, gradient, "float32"))], [weight])
        rates.append(-float(ops.convert_to_numpy(weight)[0]) / gradient)
    return rates


def test_asymmetric_cycle_in_an_optimizer():
    opt = co.SGD(
        learning_rate=0.01,
        clr={"step_size": 2, "step_size_down": 5, "max_lr": 0.05},
    )
    assert int(opt.step_size_down) == 5
    rates = step_rates(opt, 20)
    assert_rel(
        rates, [pytorch_cyclic_lr(n, 0.01, 0.05, 2, 5) for n in range(20)]
    )
    assert opt.clr == {
        "mode": "triangular",
        "step_size": 2,
        "step_size_down": 5,
        "max_lr": pytest.approx(0.05),
    }
    opt.step_size_down.assign(1)
    opt.clr_iterations.assign(0)
    assert_rel(
        step_rates(opt, 9),
        [pytorch_cyclic_lr(n, 0.01, 0.05, 2, 1) for n in range(9)],
    )


@keras.saving.register_keras_serializable(package="clr_optimizers_tests")
def sine_scale(x):
    return 0.5 * (1 + ops.sin(x * math.pi / 2.0))


def test_scale_fn_in_an_optimizer_and_saving(tmp_path):
    clr = {"step_size": 3, "max_lr": 0.05, "scale_fn": sine_scale}
    opt = co.SGD(learning_rate=0.01, clr=clr)
    expected = [
        pytorch_cyclic_lr(
            n, 0.01, 0.05, 3, 3, lambda c: 0.5 * (1 + math.sin(c * math.pi / 2))
        )
        for n in range(25)
    ]
    assert_rel(step_rates(opt, 25), expected, atol=1e-10)
    x, y = seed_data(32)
    model = seed_model()
    model.compile(
        co.Adam(learning_rate=0.001, clr={**clr, "scale_mode": "iterations"}),
        "binary_crossentropy",
    )
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.clr["scale_fn"] is sine_scale
    assert loaded.optimizer.clr["scale_mode"] == "iterations"
    assert_rel(
        loaded.optimizer.learning_rate,
        pytorch_cyclic_lr(
            4,
            0.001,
            0.05,
            3,
            3,
            lambda i: 0.5 * (1 + math.sin(i * math.pi / 2)),
            "iterations",
        ),
        atol=1e-10,
    )


def test_unregistered_scale_fn_fails_at_save_time_with_advice(tmp_path):
    model = seed_model()
    model.compile(
        co.SGD(
            learning_rate=0.01,
            clr={"step_size": 3, "max_lr": 0.05, "scale_fn": lambda x: 1 / x},
        ),
        "mse",
    )
    with pytest.raises(ValueError, match=r"register_keras_serializable"):
        model.save(tmp_path / "m.keras")


def test_numpy_scale_fn_is_rejected_at_construction_with_advice():
    with pytest.raises(
        TypeError,
        match=r"write it with keras.ops.*Received: clr\['scale_fn'\]=",
    ):
        co.SGD(
            learning_rate=0.01,
            clr={
                "step_size": 3,
                "max_lr": 0.05,
                "scale_fn": lambda x: 0.5 * (1 + np.sin(x * np.pi / 2.0)),
            },
        )
    with pytest.raises(ValueError, match=r"'mode' or a 'scale_fn'"):
        co.SGD(
            clr={
                "mode": "triangular",
                "step_size": 3,
                "max_lr": 0.05,
                "scale_fn": sine_scale,
            }
        )
    with pytest.raises(
        ValueError, match=r"'scale_mode'\]` applies only with a 'scale_fn'"
    ):
        co.SGD(clr={"step_size": 3, "max_lr": 0.05, "scale_mode": "cycle"})


def momentum_of(n, base_m, max_m, up, down=None):
    """Momentum at max_m at the bottom of the rate cycle, base_m at the top."""
    h = pytorch_cyclic_lr(n, 0.0, 1.0, up, down or up)
    return max_m - (max_m - base_m) * h


def test_sgd_cyclical_momentum():
    lr = lambda n: pytorch_cyclic_lr(n, 0.01, 0.05, 3, 3)  # noqa: E731
    opt = co.SGD(
        learning_rate=0.01,
        clr={
            "step_size": 3,
            "max_lr": 0.05,
            "base_momentum": 0.8,
            "max_momentum": 0.95,
        },
    )
    weight = keras.Variable(np.zeros(2, "float32"))
    g = np.array([1.0, -0.5])
    w, m = np.zeros(2), np.zeros(2)
    for n in range(14):
        opt.apply([tensor(g.astype("float32"))], [weight])
        mu = momentum_of(n, 0.8, 0.95, 3)
        m = mu * m - lr(n) * g
        w = w + m
        assert_rel(opt.current_momentum, mu)
        np.testing.assert_allclose(ops.convert_to_numpy(weight), w, rtol=1e-5)
    assert opt.get_config()["clr"]["base_momentum"] == 0.8


def test_rmsprop_cyclical_momentum():
    opt = co.RMSprop(
        learning_rate=0.01,
        rho=0.9,
        epsilon=1e-7,
        clr={
            "step_size": 2,
            "max_lr": 0.03,
            "base_momentum": 0.85,
            "max_momentum": 0.9,
        },
    )
    weight = keras.Variable(np.zeros(1, "float32"))
    w, v, mom = 0.0, 0.0, 0.0
    for n in range(10):
        g = 1.0 + 0.1 * n
        opt.apply([tensor(np.array([g], "float32"))], [weight])
        v = 0.9 * v + 0.1 * g * g
        inc = pytorch_cyclic_lr(n, 0.01, 0.03, 2, 2) * g / math.sqrt(v + 1e-7)
        mom = momentum_of(n, 0.85, 0.9, 2) * mom + inc
        w -= mom
        np.testing.assert_allclose(
            ops.convert_to_numpy(weight)[0], w, rtol=1e-5
        )


@pytest.mark.parametrize(
    "cls",
    [
        c
        for c in co.OPTIMIZERS
        if c.__name__
        in ("Adam", "AdamW", "Adamax", "Nadam", "Lamb", "Lion", "Muon")
    ],
    ids=lambda c: c.__name__,
)
def test_adam_family_cycles_beta_1(cls):
    opt = cls(
        learning_rate=0.001,
        clr={
            "step_size": 2,
            "max_lr": 0.004,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        },
    )
    weight = keras.Variable(np.ones((3, 2), "float32"))
    for n in range(7):
        opt.apply([tensor(np.full((3, 2), 0.3, "float32"))], [weight])
        assert_rel(opt.current_momentum, momentum_of(n, 0.85, 0.95, 2))
        assert np.all(np.isfinite(ops.convert_to_numpy(weight)))
    assert "beta_1" not in opt.get_config() or opt.get_config()["beta_1"] == 0.9


def test_adam_beta_1_is_the_cycled_value():
    opt = co.Adam(
        learning_rate=0.001,
        epsilon=1e-12,
        clr={
            "step_size": 2,
            "max_lr": 0.004,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        },
    )
    weight = keras.Variable(np.zeros(1, "float32"))
    w, m, v = 0.0, 0.0, 0.0
    for n in range(8):
        g = 1.0 if n % 3 else -2.0
        opt.apply([tensor(np.array([g], "float32"))], [weight])
        b1, b2, t = momentum_of(n, 0.85, 0.95, 2), 0.999, n + 1
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        alpha = (
            pytorch_cyclic_lr(n, 0.001, 0.004, 2, 2)
            * math.sqrt(1 - b2**t)
            / (1 - b1**t)
        )
        w -= m * alpha / (math.sqrt(v) + 1e-12)
        # Steps are ~1e-3; a fixed beta_1 would be off by ~1e-5.
        np.testing.assert_allclose(
            ops.convert_to_numpy(weight)[0], w, rtol=1e-4, atol=1e-8
        )


@pytest.mark.parametrize(
    "cls", [co.Adagrad, co.Adadelta, co.Adafactor, co.Ftrl]
)
def test_momentum_keys_need_a_momentum_term(cls):
    with pytest.raises(
        ValueError,
        match=r"has no momentum term.*Received: clr\['base_momentum'\]=0.85",
    ):
        cls(
            learning_rate=0.01,
            clr={
                "step_size": 2,
                "max_lr": 0.04,
                "base_momentum": 0.85,
                "max_momentum": 0.95,
            },
        )


def test_momentum_key_errors():
    with pytest.raises(
        ValueError, match=r"needs both 'base_momentum' and 'max_momentum'"
    ):
        co.SGD(clr={"step_size": 2, "max_lr": 0.04, "base_momentum": 0.85})
    with pytest.raises(
        ValueError, match=r"clr\['max_momentum'\]` must be in \(0, 1\)"
    ):
        co.SGD(
            clr={
                "step_size": 2,
                "max_lr": 0.04,
                "base_momentum": 0.85,
                "max_momentum": 1.0,
            }
        )
    with pytest.raises(
        ValueError, match=r"`momentum` is cycled.*Received: momentum=0.5"
    ):
        co.SGD(
            momentum=0.5,
            clr={
                "step_size": 2,
                "max_lr": 0.04,
                "base_momentum": 0.85,
                "max_momentum": 0.9,
            },
        )


def test_momentum_cycling_in_fit_and_saving(tmp_path):
    x, y = seed_data(64)
    clr = {
        "step_size": 3,
        "max_lr": 0.05,
        "base_momentum": 0.8,
        "max_momentum": 0.9,
    }
    model = seed_model()
    model.compile(
        co.SGD(learning_rate=0.01, clr=clr),
        "binary_crossentropy",
        steps_per_execution=spe(4),
    )
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    opt = model.optimizer
    assert_rel(opt.current_momentum, momentum_of(7, 0.8, 0.9, 3))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.clr == opt.clr
    assert_rel(loaded.optimizer.current_momentum, momentum_of(7, 0.8, 0.9, 3))


@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
def test_one_cycle_in_an_optimizer(three_phase, anneal):
    total, max_lr, div = 40, 0.1, 25.0
    clr = {
        "mode": "1cycle",
        "max_lr": max_lr,
        "total_steps": total,
        "pct_start": 0.3,
        "anneal": anneal,
        "three_phase": three_phase,
    }
    opt = co.SGD(learning_rate=max_lr / div, clr=clr)
    rates = step_rates(opt, total + 5)
    expected = [
        pytorch_one_cycle(
            min(n, total - 1), max_lr, total, div, 0.3, 1e4, anneal, three_phase
        )
        for n in range(total + 5)
    ]
    assert_rel(rates, expected, rtol=1e-6)
    assert opt.clr == {
        "mode": "1cycle",
        "max_lr": pytest.approx(max_lr),
        "total_steps": total,
        "pct_start": 0.3,
        "final_div_factor": 1e4,
        "anneal": anneal,
        "three_phase": three_phase,
    }
    assert co.SGD.from_config(opt.get_config()).clr == opt.clr


def test_one_cycle_momentum_matches_pytorch():
    # PyTorch: momentum falls max -> base while the rate rises, then rises back.
    total = 30
    opt = co.Adam(
        learning_rate=0.004,
        clr={
            "mode": "1cycle",
            "max_lr": 0.1,
            "total_steps": total,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        },
    )
    weight = keras.Variable(np.zeros(1, "float32"))
    for n in range(total):
        opt.apply([tensor(np.ones(1, "float32"))], [weight])
        assert_rel(
            opt.current_momentum,
            pytorch_one_cycle_momentum(n, total, 0.85, 0.95),
            rtol=1e-6,
        )
        assert_rel(
            opt.current_lr, pytorch_one_cycle(n, 0.1, total, 25.0), rtol=1e-6
        )


def pytorch_one_cycle_momentum(n, total_steps, base_m, max_m, pct_start=0.3):
    """PyTorch's OneCycleLR momentum (two phases, cosine), transcribed in
    float64."""
    end1 = float(pct_start * total_steps) - 1
    if n <= end1:
        pct, start, end = n / end1, max_m, base_m
    else:
        pct, start, end = (n - end1) / (total_steps - 1 - end1), base_m, max_m
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def test_one_cycle_key_errors():
    with pytest.raises(ValueError, match=r"must give 'total_steps'"):
        co.SGD(clr={"mode": "1cycle", "max_lr": 0.1})
    with pytest.raises(
        ValueError, match=r"'step_size'\]` applies only to the cyclical modes"
    ):
        co.SGD(
            clr={
                "mode": "1cycle",
                "max_lr": 0.1,
                "total_steps": 100,
                "step_size": 10,
            }
        )
    with pytest.raises(
        ValueError, match=r"'total_steps'\]` applies only to mode '1cycle'"
    ):
        co.SGD(clr={"max_lr": 0.1, "step_size": 10, "total_steps": 100})
    with pytest.raises(ValueError, match=r"Received: clr\['anneal'\]='cosine'"):
        co.SGD(
            clr={
                "mode": "1cycle",
                "max_lr": 0.1,
                "total_steps": 100,
                "anneal": "cosine",
            }
        )
    with pytest.raises(ValueError, match=r"at least one update"):
        co.SGD(
            clr={
                "mode": "1cycle",
                "max_lr": 0.1,
                "total_steps": 3,
                "pct_start": 0.3,
            }
        )
    with pytest.raises(
        ValueError, match=r"Received: clr\['final_div_factor'\]=0.5"
    ):
        co.SGD(
            clr={
                "mode": "1cycle",
                "max_lr": 0.1,
                "total_steps": 100,
                "final_div_factor": 0.5,
            }
        )
