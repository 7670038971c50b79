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
