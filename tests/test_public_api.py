"""The public names of 0.1.0 stay, with the same meaning."""

import importlib.metadata

import keras
import pytest

import clr_optimizers as co

# `clr_optimizers.__all__` as released in 0.1.0, written out here.
RELEASED_NAMES = (
    "MODES",
    "OPTIMIZERS",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "CyclicalLearningRate",
    "CyclicalLearningRateMixin",
    "CyclicalLR",
    "CyclicLR",
    "Ftrl",
    "Lamb",
    "Lion",
    "LRRangeTestResult",
    "Nadam",
    "RMSprop",
    "cyclical_learning_rate",
    "lr_range_test",
    "plot_schedule",
    "one_cycle_value",
    "reference_learning_rate",
    "with_clr",
)


# Added since 0.1.0.
ADDED_NAMES = (
    "CycleSnapshots",
    "FitSchedule",
    "OneCycle",
    "plot_history",
)


@pytest.mark.parametrize("name", RELEASED_NAMES + ADDED_NAMES)
def test_released_name_is_public(name):
    assert name in co.__all__
    assert getattr(co, name) is not None


def test_every_public_name_exists():
    for name in co.__all__:
        assert hasattr(co, name), name


def test_modes():
    assert co.MODES == ("triangular", "triangular2", "exp_range")
    assert co.CLR_MODES == ("triangular", "triangular2", "exp_range", "1cycle")


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_every_clr_mode_constructs(mode):
    opt = co.SGD(
        learning_rate=0.01, clr={"mode": mode, "step_size": 4, "max_lr": 0.1}
    )
    assert opt.clr["mode"] == mode


def test_one_cycle_is_a_clr_mode():
    assert "1cycle" in co.CLR_MODES
    opt = co.SGD(
        learning_rate=0.01,
        clr={"mode": "1cycle", "max_lr": 0.1, "total_steps": 20},
    )
    assert opt.clr["mode"] == "1cycle"


def test_version_comes_from_the_package_metadata():
    assert co.__version__ == importlib.metadata.version("clr_optimizers")


def test_optimizer_classes_subclass_their_keras_class():
    for cls in co.OPTIMIZERS:
        assert issubclass(cls, getattr(keras.optimizers, cls.__name__))
        assert issubclass(cls, co.CyclicalLearningRateMixin)
