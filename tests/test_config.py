"""Bad input is rejected at construction, naming the key, the value and
the rule."""

import math

import numpy as np
import pytest

import clr_optimizers as co

GOOD = {"mode": "triangular", "step_size": 2000, "max_lr": 0.006}


def make(clr, **kwargs):
    return co.Adam(learning_rate=0.001, clr=clr, **kwargs)


@pytest.mark.parametrize(
    "clr, error, pattern",
    [
        (
            {**GOOD, "mode": "sine"},
            ValueError,
            r"clr\['mode'\].*'triangular'.*Received: clr\['mode'\]='sine'",
        ),
        ({**GOOD, "mode": None}, ValueError, r"Received: clr\['mode'\]=None"),
        (
            {**GOOD, "clr_gama": 0.9},
            ValueError,
            r"Unknown key 'clr_gama'.*Did you mean 'clr_gamma'\?",
        ),
        (
            {**GOOD, "base_lr": 0.1},
            ValueError,
            r"Unknown key 'base_lr'.*Allowed keys",
        ),
        (
            {"mode": "triangular", "step_size": 2000},
            ValueError,
            r"must give 'max_lr'",
        ),
        (
            {"mode": "triangular", "max_lr": 0.006},
            ValueError,
            r"must give 'step_size'",
        ),
        (
            {**GOOD, "step_size": 0},
            ValueError,
            r"whole number in \[1, .*Received: clr\['step_size'\]=0",
        ),
        (
            {**GOOD, "step_size": -5},
            ValueError,
            r"Received: clr\['step_size'\]=-5",
        ),
        (
            {**GOOD, "step_size": 2.5},
            ValueError,
            r"Received: clr\['step_size'\]=2.5",
        ),
        (
            {**GOOD, "step_size": float("nan")},
            ValueError,
            r"Received: clr\['step_size'\]=nan",
        ),
        (
            {**GOOD, "step_size": "2000"},
            TypeError,
            r"Received: clr\['step_size'\]='2000' of type str",
        ),
        ({**GOOD, "step_size": True}, TypeError, r"of type bool"),
        (
            {**GOOD, "max_lr": float("nan")},
            ValueError,
            r"finite number >= 0.*Received: clr\['max_lr'\]=nan",
        ),
        (
            {**GOOD, "max_lr": float("inf")},
            ValueError,
            r"Received: clr\['max_lr'\]=inf",
        ),
        (
            {**GOOD, "max_lr": -0.1},
            ValueError,
            r"Received: clr\['max_lr'\]=-0.1",
        ),
        (
            {**GOOD, "max_lr": None},
            TypeError,
            r"Received: clr\['max_lr'\]=None",
        ),
        (
            {**GOOD, "mode": "exp_range", "clr_gamma": 0.0},
            ValueError,
            r"\(0, 1\].*Received: clr\['clr_gamma'\]=0.0",
        ),
        (
            {**GOOD, "mode": "exp_range", "clr_gamma": 1.5},
            ValueError,
            r"Received: clr\['clr_gamma'\]=1.5",
        ),
        (
            {**GOOD, "mode": "exp_range", "gamma": -0.5},
            ValueError,
            r"Received: clr\['clr_gamma'\]=-0.5",
        ),
        (
            {**GOOD, "mode": "exp_range", "clr_gamma": math.nan},
            ValueError,
            r"Received: clr\['clr_gamma'\]=nan",
        ),
        (
            {**GOOD, "clr_gamma": 0.99},
            ValueError,
            r"only applies to mode 'exp_range'",
        ),
        (
            {**GOOD, "mode": "exp_range", "gamma": 0.9, "clr_gamma": 0.9},
            ValueError,
            r"not both",
        ),
    ],
)
def test_bad_clr_is_rejected(clr, error, pattern):
    with pytest.raises(error, match=pattern):
        make(clr)


@pytest.mark.parametrize("clr", [[("mode", "triangular")], "triangular", 0.006])
def test_clr_must_be_a_dict(clr):
    with pytest.raises(
        TypeError, match=r"`clr` must be a dict.*Received: clr="
    ):
        make(clr)


@pytest.mark.parametrize("decay", [-0.1, float("nan"), float("inf")])
def test_bad_decay_is_rejected(decay):
    with pytest.raises(ValueError, match=r"`decay`.*Received: decay="):
        make(GOOD, decay=decay)


def test_lr_and_learning_rate_together_are_rejected():
    with pytest.raises(
        ValueError, match=r"not both. Received: lr=0.1, learning_rate=0.2"
    ):
        co.SGD(learning_rate=0.2, lr=0.1)


def test_valid_spellings_are_normalized():
    opt = co.SGD(
        lr=0.01,
        clr={
            "mode": "exp_range",
            "step_size": 2000.0,
            "max_lr": np.float32(0.06),
            "gamma": 0.999,
        },
    )
    assert opt.clr == {
        "mode": "exp_range",
        "step_size": 2000,
        "max_lr": pytest.approx(0.06),
        "clr_gamma": 0.999,
    }
    assert float(opt.lr) == pytest.approx(0.01)
    # mode defaults to triangular
    assert (
        co.SGD(clr={"step_size": 10, "max_lr": 0.1}).clr["mode"] == "triangular"
    )


def test_rejected_input_leaves_nothing_half_built():
    # A failed construction raises before any Keras state is created, so a
    # retry with good input works and is unaffected.
    with pytest.raises(ValueError):
        co.SGD(learning_rate=0.01, clr={"step_size": 0, "max_lr": 0.1})
    opt = co.SGD(learning_rate=0.01, clr={"step_size": 4, "max_lr": 0.1})
    assert int(opt.clr_iterations) == 0


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match=r"Received: step_size=0"):
        co.CyclicalLearningRate(0.001, 0.006, 0)
    with pytest.raises(ValueError, match=r"Received: mode='cosine'"):
        co.CyclicalLearningRate(0.001, 0.006, 10, mode="cosine")
    with pytest.raises(ValueError, match=r"Received: base_lr=-1.0"):
        co.CyclicalLearningRate(-1.0, 0.006, 10)
    with pytest.raises(ValueError, match=r"Received: gamma=2.0"):
        co.CyclicalLearningRate(0.001, 0.006, 10, mode="exp_range", gamma=2.0)


def test_with_clr_rejects_non_optimizers():
    import keras

    with pytest.raises(
        TypeError, match=r"subclass of keras.optimizers.Optimizer"
    ):
        co.with_clr(object)
    with pytest.raises(TypeError, match=r"wraps other optimizers"):
        co.with_clr(keras.optimizers.LossScaleOptimizer)


def test_out_of_range_numbers_name_the_key():
    with pytest.raises(ValueError, match=r"Received: clr\['max_lr'\]=inf"):
        make({**GOOD, "max_lr": 10**400})
    with pytest.raises(
        ValueError,
        match=r"2147483647\].*Received: clr\['step_size'\]=4611686018427387904",
    ):
        make({**GOOD, "step_size": 2**62})
    with pytest.raises(
        TypeError, match=r"Received: clr\['final_div_factor'\]='10' of type str"
    ):
        make(
            {
                "mode": "1cycle",
                "max_lr": 0.1,
                "total_steps": 100,
                "final_div_factor": "10",
            }
        )
