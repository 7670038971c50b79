"""Configs round-trip; saved models resume mid-cycle as if never stopped."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from helpers import assert_rel
from helpers import seed_data
from helpers import seed_formula
from helpers import seed_model

import clr_optimizers as co

CLR = {"mode": "triangular2", "step_size": 3, "max_lr": 0.02}


@pytest.mark.parametrize("cls", co.OPTIMIZERS, ids=lambda c: c.__name__)
def test_config_round_trip(cls):
    opt = cls(
        learning_rate=0.001,
        decay=1e-4,
        clr={
            "mode": "exp_range",
            "step_size": 7,
            "max_lr": 0.01,
            "gamma": 0.99,
        },
    )
    opt.max_lr.assign(0.02)  # the config reports the variable's value
    config = opt.get_config()
    assert config["clr"] == {
        "mode": "exp_range",
        "step_size": 7,
        "max_lr": pytest.approx(0.02),
        "clr_gamma": 0.99,
    }
    assert config["decay"] == 1e-4
    clone = cls.from_config(config)
    assert type(clone) is cls
    assert clone.get_config() == config
    revived = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(revived) is cls
    assert revived.get_config() == config


def fit_steps(model, x, y, epochs, initial_epoch=0):
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
    )


def test_load_model_resumes_mid_cycle(tmp_path):
    x, y = seed_data(
        40
    )  # 5 updates per epoch; step_size 3: epochs end mid-cycle

    def fresh():
        model = seed_model(seed=3)
        model.compile(
            co.Adam(learning_rate=0.001, clr=CLR), "binary_crossentropy"
        )
        return model

    uninterrupted = fresh()
    fit_steps(uninterrupted, x, y, 2)
    uninterrupted.optimizer.max_lr.assign(0.03)
    fit_steps(uninterrupted, x, y, 5, initial_epoch=2)

    first = fresh()
    fit_steps(first, x, y, 2)
    first.optimizer.max_lr.assign(0.03)
    path = tmp_path / "m.keras"
    first.save(path)
    resumed = keras.models.load_model(path)
    opt = resumed.optimizer
    assert type(opt) is co.Adam
    assert int(opt.clr_iterations) == 10 and int(opt.iterations) == 10
    assert float(opt.max_lr) == pytest.approx(0.03)
    assert_rel(
        opt.learning_rate, seed_formula(10, 0.001, 0.03, 3, "triangular2")
    )
    fit_steps(resumed, x, y, 5, initial_epoch=2)

    for a, b in zip(uninterrupted.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(uninterrupted.optimizer.variables, opt.variables):
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7
        )
    assert int(opt.clr_iterations) == 25


def test_load_model_after_a_plain_import(tmp_path):
    x, y = seed_data(40)
    model = seed_model()
    model.compile(
        co.RMSprop(learning_rate=0.001, clr=CLR), "binary_crossentropy"
    )
    fit_steps(model, x, y, 1)
    model.optimizer.clr_iterations.assign(4)
    path = tmp_path / "m.keras"
    model.save(path)
    script = textwrap.dedent(
        f"""
        import clr_optimizers, keras
        model = keras.models.load_model({str(path)!r})
        opt = model.optimizer
        print(type(opt).__name__, int(opt.clr_iterations), """
        """float(opt.learning_rate))
    """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    name, n, rate = out.stdout.split()[-3:]
    assert name == "RMSprop" and n == "4"
    assert_rel(float(rate), seed_formula(4, 0.001, 0.02, 3, "triangular2"))


def test_plain_keras_state_restores_into_a_clr_optimizer(tmp_path):
    x, y = seed_data(40)
    plain = seed_model(seed=5)
    plain.compile(
        keras.optimizers.Adam(learning_rate=0.002), "binary_crossentropy"
    )
    fit_steps(plain, x, y, 2)
    path = tmp_path / "plain.weights.h5"
    plain.save_weights(path)

    model = seed_model(seed=6)
    model.compile(co.Adam(learning_rate=0.001, clr=CLR), "binary_crossentropy")
    model.optimizer.build(model.trainable_variables)
    model.load_weights(path)
    opt = model.optimizer
    assert int(opt.iterations) == 10
    assert float(opt.lr) == pytest.approx(0.002)
    plain_slots = [np.asarray(v) for v in plain.optimizer.variables[2:]]
    clr_slots = [np.asarray(v) for v in opt.variables[7:]]
    assert len(plain_slots) == len(clr_slots) > 0
    for a, b in zip(plain_slots, clr_slots):
        np.testing.assert_array_equal(a, b)
    # The cycle is as constructed: it starts at its bottom.
    assert int(opt.clr_iterations) == 0
    assert float(opt.max_lr) == pytest.approx(0.02)


def test_clr_state_into_clr_none_restores_shared_and_warns(tmp_path):
    x, y = seed_data(40)
    model = seed_model()
    model.compile(co.Adam(learning_rate=0.002, clr=CLR), "binary_crossentropy")
    fit_steps(model, x, y, 1)
    path = tmp_path / "clr.weights.h5"
    model.save_weights(path)

    other = seed_model()
    other.compile(co.Adam(learning_rate=0.001), "binary_crossentropy")
    other.optimizer.build(other.trainable_variables)
    with pytest.warns(UserWarning, match="has no cycle.*was not restored"):
        other.load_weights(path)
    assert int(other.optimizer.iterations) == 5
    assert float(other.optimizer.lr) == pytest.approx(0.002)
    for a, b in zip(
        model.optimizer.variables[7:], other.optimizer.variables[2:]
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_clr_state_into_a_plain_keras_optimizer_is_not_dropped_silently(
    tmp_path,
):
    x, y = seed_data(40)
    model = seed_model()
    model.compile(co.Adam(learning_rate=0.002, clr=CLR), "binary_crossentropy")
    fit_steps(model, x, y, 1)
    path = tmp_path / "clr.weights.h5"
    model.save_weights(path)

    other = seed_model()
    other.compile(
        keras.optimizers.Adam(learning_rate=0.001), "binary_crossentropy"
    )
    other.optimizer.build(other.trainable_variables)
    with pytest.warns(
        UserWarning, match="Skipping variable loading for optimizer"
    ):
        other.load_weights(path)


def test_mismatched_shapes_raise_a_clear_error(tmp_path):
    x, y = seed_data(40)
    plain = seed_model()
    plain.compile(
        keras.optimizers.Adam(learning_rate=0.002), "binary_crossentropy"
    )
    fit_steps(plain, x, y, 1)
    store = {
        str(i): np.asarray(v) for i, v in enumerate(plain.optimizer.variables)
    }
    store["2"] = np.zeros((99,), "float32")

    model = seed_model()
    model.compile(co.Adam(learning_rate=0.001, clr=CLR), "binary_crossentropy")
    model.optimizer.build(model.trainable_variables)
    before = [np.asarray(v) for v in model.optimizer.variables]
    with pytest.raises(
        ValueError,
        match=(
            r"has shape \(15, 10\) and dtype float32, "
            r"but the saved value has shape \(99,\).*Nothing was restored"
        ),
    ):
        model.optimizer.load_own_variables(store)
    # Nothing was half-restored.
    for a, b in zip(before, model.optimizer.variables):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_schedule_round_trip_and_saving(tmp_path):
    schedule = co.CyclicalLearningRate(
        0.001, 0.006, 5, mode="exp_range", gamma=0.99
    )
    assert (
        co.CyclicalLearningRate.from_config(schedule.get_config()).get_config()
        == schedule.get_config()
    )
    x, y = seed_data(40)
    model = seed_model()
    model.compile(
        keras.optimizers.SGD(learning_rate=schedule), "binary_crossentropy"
    )
    fit_steps(model, x, y, 1)
    path = tmp_path / "s.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer._learning_rate, co.CyclicalLearningRate)
    assert_rel(
        loaded.optimizer.learning_rate,
        seed_formula(5, 0.001, 0.006, 5, "exp_range", 0.99),
    )


def _store(optimizer):
    return {str(i): np.asarray(v) for i, v in enumerate(optimizer.variables)}


def _built(optimizer, model=None):
    model = model or seed_model()
    model.compile(optimizer, "binary_crossentropy")
    optimizer.build(model.trainable_variables)
    return optimizer


def test_same_count_other_layout_raises_and_writes_nothing():
    # Both cycles keep 6 variables, in another order: clr_iterations (int)
    # would land on a float variable.
    saved = _built(
        co.Adam(
            learning_rate=0.01,
            clr={"step_size": 2, "step_size_down": 5, "max_lr": 0.1},
        )
    )
    saved.iterations.assign(7)
    target = _built(
        co.Adam(
            learning_rate=0.02,
            clr={
                "step_size": 2,
                "max_lr": 0.1,
                "base_momentum": 0.8,
                "max_momentum": 0.9,
            },
        )
    )
    store = _store(saved)
    assert len(store) == len(target.variables)
    before = [np.asarray(v) for v in target.variables]
    with pytest.raises(
        ValueError, match=r"another layout.*Nothing was restored"
    ):
        target.load_own_variables(store)
    for a, b in zip(before, target.variables):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_one_cycle_state_into_clr_none_restores_shared_and_warns():
    saved = _built(
        co.Adam(
            learning_rate=0.004,
            clr={"mode": "1cycle", "max_lr": 0.1, "total_steps": 50},
        )
    )
    saved.iterations.assign(9)
    target = _built(co.Adam(learning_rate=0.001))
    with pytest.warns(UserWarning, match="has no cycle"):
        target.load_own_variables(_store(saved))
    assert int(target.iterations) == 9
    assert float(target.lr) == pytest.approx(0.004)


def test_plain_momentum_slots_are_not_taken_for_a_cycle():
    # Plain SGD(momentum=0.9) keeps its momentum slots after iterations and
    # learning_rate; loaded into SGD without momentum the counts differ and
    # Keras skips with its warning, never a partial restore.
    saved = _built(keras.optimizers.SGD(learning_rate=0.01, momentum=0.9))
    target = _built(co.SGD(learning_rate=0.02))
    before = [np.asarray(v) for v in target.variables]
    with pytest.warns(UserWarning, match="Skipping variable loading"):
        target.load_own_variables(_store(saved))
    for a, b in zip(before, target.variables):
        np.testing.assert_array_equal(a, np.asarray(b))
