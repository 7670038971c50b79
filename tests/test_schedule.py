"""The LearningRateSchedule gives the formula's rate to any Keras optimizer."""

import keras
import numpy as np
import pytest
from helpers import FAR
from helpers import assert_rel
from helpers import seed_formula
from helpers import tensor
from keras import ops

import clr_optimizers as co


@pytest.mark.parametrize(
    "mode, gamma",
    [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.999)],
)
def test_schedule_matches_formula(mode, gamma):
    schedule = co.CyclicalLearningRate(0.001, 0.006, 50, mode=mode, gamma=gamma)
    for n in [0, 1, 25, 50, 99, 100, 151, 777, 2**24 + 1, FAR + 5]:
        assert_rel(schedule(n), seed_formula(n, 0.001, 0.006, 50, mode, gamma))


def test_schedule_and_optimizer_give_identical_rates():
    schedule = co.CyclicalLearningRate(
        0.001, 0.006, 7, mode="exp_range", gamma=0.97
    )
    opt = co.SGD(
        learning_rate=0.001,
        clr={
            "mode": "exp_range",
            "step_size": 7,
            "max_lr": 0.006,
            "clr_gamma": 0.97,
        },
    )
    for n in range(0, 60, 3):
        opt.clr_iterations.assign(n)
        assert float(schedule(n)) == float(opt.learning_rate)


def test_schedule_drives_a_plain_keras_sgd():
    schedule = co.CyclicalLearningRate(0.01, 0.05, 3, mode="triangular2")
    opt = keras.optimizers.SGD(learning_rate=schedule)
    weight = keras.Variable(np.zeros(1, "float32"))
    for n in range(15):
        weight.assign([0.0])
        opt.apply([tensor(np.ones(1, "float32"))], [weight])
        assert_rel(
            -ops.convert_to_numpy(weight)[0],
            seed_formula(n, 0.01, 0.05, 3, "triangular2"),
        )


def test_schedule_config():
    schedule = co.CyclicalLearningRate(0.001, 0.006, 2000.0, mode="triangular2")
    assert schedule.get_config() == {
        "base_lr": 0.001,
        "max_lr": 0.006,
        "step_size": 2000,
        "mode": "triangular2",
        "gamma": 1.0,
        "name": "CyclicalLearningRate",
    }
    assert (
        keras.optimizers.schedules.deserialize(
            keras.optimizers.schedules.serialize(schedule)
        ).get_config()
        == schedule.get_config()
    )


def test_schedule_asymmetric_and_scale_fn():
    import math

    from test_policies_in_optimizers import sine_scale
    from test_policy import pytorch_cyclic_lr

    asymmetric = co.CyclicalLearningRate(0.001, 0.006, 3, step_size_down=7)
    scaled = co.CyclicalLearningRate(0.001, 0.006, 3, scale_fn=sine_scale)
    for n in range(0, 45):
        assert_rel(
            asymmetric(n), pytorch_cyclic_lr(n, 0.001, 0.006, 3, 7), atol=1e-12
        )
        assert_rel(
            scaled(n),
            pytorch_cyclic_lr(
                n,
                0.001,
                0.006,
                3,
                3,
                lambda c: 0.5 * (1 + math.sin(c * math.pi / 2)),
            ),
            atol=1e-10,
        )
    for schedule in (asymmetric, scaled):
        clone = keras.optimizers.schedules.deserialize(
            keras.optimizers.schedules.serialize(schedule)
        )
        assert clone.get_config() == schedule.get_config()
        assert (
            clone.scale_fn is schedule.scale_fn
            and clone.step_size_down == schedule.step_size_down
        )
    with pytest.raises(ValueError, match=r"`scale_fn` replaces `mode`"):
        co.CyclicalLearningRate(
            0.001, 0.006, 3, mode="triangular2", scale_fn=sine_scale
        )
    with pytest.raises(ValueError, match=r"Received: step_size_down=0"):
        co.CyclicalLearningRate(0.001, 0.006, 3, step_size_down=0)
    with pytest.raises(ValueError, match=r"register_keras_serializable"):
        co.CyclicalLearningRate(
            0.001, 0.006, 3, scale_fn=lambda x: 1 / x
        ).get_config()


# The warm-up, as the optimizers' `clr` key "warmup_steps".


def _warmup_formula(n, b, start, base, peak, step_size, mode, gamma=1.0):
    """By hand, in float64: linear from `start` to `base` over updates
    0..b-1, then the paper's cycle at position n - b."""
    if n < b:
        return start + (base - start) * n / b
    return seed_formula(n - b, base, peak, step_size, mode, gamma)


@pytest.mark.parametrize("b", [0, 1, 7])
@pytest.mark.parametrize(
    "mode, gamma", [("triangular2", 1.0), ("exp_range", 0.97)]
)
def test_schedule_warmup_matches_the_formula_at_its_boundaries(b, mode, gamma):
    start = 0.0004 if b else 0.0
    schedule = co.CyclicalLearningRate(
        0.002,
        0.01,
        5,
        mode=mode,
        gamma=gamma,
        warmup_steps=b,
        warmup_start_lr=start,
    )
    for n in sorted({0, max(b - 1, 0), b, b + 1, b + 5, b + 10, b + 23}):
        assert_rel(
            schedule(n),
            _warmup_formula(n, b, start, 0.002, 0.01, 5, mode, gamma),
        )
    if b:
        assert_rel(schedule(0), start)
        assert_rel(schedule(b - 1), start + (0.002 - start) * (b - 1) / b)
    assert_rel(schedule(b), 0.002)  # the cycle's bottom
    assert_rel(schedule(b + 5), 0.01 * gamma**5 + 0.002 * (1 - gamma**5))


def test_schedule_warmup_far_past_float32_integers():
    schedule = co.CyclicalLearningRate(
        0.001, 0.006, 3, mode="triangular", warmup_steps=10
    )
    for n in (FAR, FAR + 1, FAR + 2):
        assert_rel(
            schedule(n + 10), seed_formula(n, 0.001, 0.006, 3, "triangular")
        )


@pytest.mark.parametrize("b", [0, 6])
def test_schedule_warmup_equals_a_stepped_optimizer(b):
    clr = {
        "mode": "triangular2",
        "step_size": 4,
        "max_lr": 0.01,
        "warmup_steps": b,
        "warmup_start_lr": 0.0005 if b else 0.0,
    }
    schedule = co.CyclicalLearningRate(
        0.002,
        0.01,
        4,
        mode="triangular2",
        warmup_steps=b,
        warmup_start_lr=clr["warmup_start_lr"],
    )
    opt = co.SGD(learning_rate=0.002, clr=clr)
    variable = keras.Variable(np.zeros(1, "float32"))
    gradient = tensor(np.zeros(1, "float32"))
    for n in range(b + 20):
        opt.apply([gradient], [variable])
        assert_rel(schedule(n), ops.convert_to_numpy(opt.current_lr), rtol=1e-6)
    # And as the schedule of a plain Keras SGD: weight -= rate * 1.
    plain = keras.optimizers.SGD(learning_rate=schedule)
    weight = keras.Variable(np.zeros(1, "float32"))
    for n in range(b + 3):
        weight.assign([0.0])
        plain.apply([tensor(np.ones(1, "float32"))], [weight])
        assert_rel(
            -ops.convert_to_numpy(weight)[0],
            _warmup_formula(
                n, b, clr["warmup_start_lr"], 0.002, 0.01, 4, "triangular2"
            ),
        )


def test_schedule_warmup_config_round_trip():
    schedule = co.CyclicalLearningRate(
        0.001, 0.006, 20, warmup_steps=8.0, warmup_start_lr=0.0002
    )
    config = schedule.get_config()
    assert config == {
        "base_lr": 0.001,
        "max_lr": 0.006,
        "step_size": 20,
        "mode": "triangular",
        "gamma": 1.0,
        "name": "CyclicalLearningRate",
        "warmup_steps": 8,
        "warmup_start_lr": 0.0002,
    }
    clone = co.CyclicalLearningRate.from_config(config)
    assert clone.get_config() == config
    deserialized = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert deserialized.get_config() == config
    for n in (0, 7, 8, 9, 40):
        assert float(deserialized(n)) == float(schedule(n))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"warmup_steps": -1}, ValueError, "Received: warmup_steps=-1"),
        ({"warmup_steps": 2.5}, ValueError, "Received: warmup_steps=2.5"),
        ({"warmup_steps": True}, TypeError, "Received: warmup_steps=True"),
        ({"warmup_steps": "5"}, TypeError, "Received: warmup_steps='5'"),
        (
            {"warmup_steps": 5, "warmup_start_lr": -0.1},
            ValueError,
            "Received: warmup_start_lr=-0.1",
        ),
        (
            {"warmup_start_lr": 0.1},
            ValueError,
            "Received: warmup_start_lr=0.1, warmup_steps=0",
        ),
    ],
)
def test_schedule_bad_warmup_is_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        co.CyclicalLearningRate(0.001, 0.006, 20, **kwargs)
