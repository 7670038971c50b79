"""Lengths planned from `fit`, and every update's rate in the logs.

`FitSchedule` turns 1cycle's `total_steps="auto"` and lengths in epochs into
updates at the start of `fit`, and logs each update's rate and momentum. The
applied rates are read back from the weights: the model has one weight, the
loss is the prediction's mean and the inputs are ones, so every update moves
the weight by minus its rate (the averaged gradient is 1, also with gradient
accumulation).
"""

import csv
import math
import warnings

import keras
import numpy as np
import pytest
from helpers import BACKEND
from helpers import NOT_TORCH
from helpers import assert_rel
from helpers import linear_loss
from helpers import recorded_rates
from helpers import recorder_data
from helpers import recorder_model
from helpers import seed_formula
from helpers import spe
from test_policy import pytorch_one_cycle

import clr_optimizers as co

BASE, PEAK = 0.004, 0.1


def ones_model():
    """One weight, starting at 0, whose gradient is 1 for every batch."""
    return keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )


def ones_data(n):
    return np.ones((n, 1), "float32"), np.zeros((n, 1), "float32")


def fit_ones(opt, n, batch_size, epochs, callbacks, steps_per_execution=1):
    model = ones_model()
    model.compile(opt, linear_loss, steps_per_execution=steps_per_execution)
    x, y = ones_data(n)
    history = model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    return model, history


def one_cycle(**keys):
    return {"mode": "1cycle", "max_lr": PEAK, "total_steps": "auto", **keys}


# (samples, batch size, epochs, accumulation, steps per execution, the
# applied updates worked out by hand).
LENGTHS = [
    (40, 8, 3, None, 1, 15),  # 5 batches x 3 epochs
    (44, 8, 3, 3, 1, 6),  # 6 batches x 3 = 18 micro-batches / 3
    (56, 8, 2, 3, 1, 4),  # 14 micro-batches: the last 2 fill no window
    (36, 4, 2, None, spe(4), 18),  # 9 batches x 2, executions of 4
    (36, 4, 2, 4, spe(3), 4),  # 18 micro-batches // 4
]


@pytest.mark.parametrize(
    "n, batch, epochs, accumulation, execution, total", LENGTHS
)
def test_auto_length_is_every_applied_update(
    n, batch, epochs, accumulation, execution, total
):
    opt = co.SGD(
        learning_rate=BASE,
        clr=one_cycle(),
        gradient_accumulation_steps=accumulation,
    )
    monitor = co.FitSchedule()
    model, _ = fit_ones(opt, n, batch, epochs, [monitor], execution)
    assert int(opt.total_steps) == total
    assert int(opt.iterations) == total
    expected = [
        pytorch_one_cycle(k, PEAK, total, PEAK / BASE) for k in range(total)
    ]
    # Every update in the record, also several per execution.
    assert monitor.update_history["iterations"] == list(range(1, total + 1))
    assert_rel(monitor.update_history["learning_rate"], expected)
    # The last update applied 1cycle's final rate.
    assert_rel(monitor.update_history["learning_rate"][-1], BASE / 1e4)
    assert_rel(opt.current_lr, BASE / 1e4)
    # What the updates did to the weight: minus the sum of the rates.
    kernel = float(keras.ops.convert_to_numpy(model.weights[0])[0, 0])
    assert_rel(-kernel, math.fsum(expected), rtol=1e-5)


def test_final_rate_is_applied_by_the_last_update_exactly():
    # One weight per update (one-hot rows, batches of 1): each weight holds
    # minus the rate of its update, to float32's relative precision.
    model = recorder_model(12)
    opt = co.SGD(learning_rate=BASE, clr=one_cycle())
    model.compile(opt, linear_loss)
    x, y = recorder_data(12)
    model.fit(
        x,
        y,
        batch_size=1,
        shuffle=False,
        verbose=0,
        callbacks=[co.FitSchedule()],
    )
    rates = recorded_rates(model)
    assert_rel(rates[-1], BASE / 1e4)
    assert_rel(
        rates, [pytorch_one_cycle(k, PEAK, 12, PEAK / BASE) for k in range(12)]
    )


def test_step_size_and_warmup_in_epochs():
    clr = {
        "mode": "triangular",
        "max_lr": PEAK,
        "step_size": {"epochs": 1},
        "warmup_steps": {"epochs": 0.5},
    }
    opt = co.SGD(learning_rate=BASE, clr=clr)
    monitor = co.FitSchedule()
    fit_ones(opt, 48, 8, 4, [monitor])  # 6 updates per epoch
    assert int(opt.step_size) == 6
    assert int(opt.clr_warmup_steps) == 3
    expected = [BASE * k / 3 for k in range(3)] + [
        seed_formula(k, BASE, PEAK, 6) for k in range(21)
    ]
    assert_rel(monitor.update_history["learning_rate"], expected)
    # The config keeps the lengths as given; the variables hold the plan.
    assert opt.clr["step_size"] == {"epochs": 1.0}
    assert opt.get_config()["clr"]["warmup_steps"] == {"epochs": 0.5}


def test_a_reloaded_model_keeps_its_plan(tmp_path):
    model = ones_model()
    model.compile(co.SGD(learning_rate=BASE, clr=one_cycle()), linear_loss)
    x, y = ones_data(40)
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[co.FitSchedule(), StopAfter(epoch=1)],
    )
    path = tmp_path / "half.keras"
    model.save(path)
    loaded = keras.models.load_model(
        path, custom_objects={"linear_loss": linear_loss}
    )
    assert int(loaded.optimizer.total_steps) == 20  # the plan of epochs=4
    monitor = co.FitSchedule()
    # A fit to epoch 6 does not re-plan the cycle: it ends at update 20 and
    # holds the final rate after it.
    loaded.fit(
        x,
        y,
        batch_size=8,
        initial_epoch=2,
        epochs=6,
        shuffle=False,
        verbose=0,
        callbacks=[monitor],
    )
    assert int(loaded.optimizer.total_steps) == 20
    expected = [
        pytorch_one_cycle(min(k, 19), PEAK, 20, PEAK / BASE)
        for k in range(10, 30)
    ]
    assert monitor.update_history["iterations"] == list(range(11, 31))
    assert_rel(monitor.update_history["learning_rate"], expected)


def test_resumed_fit_equals_the_uninterrupted_one(tmp_path):
    x, y = ones_data(40)
    straight = co.SGD(learning_rate=BASE, clr=one_cycle())
    model_a, _ = fit_ones(straight, 40, 8, 4, [co.FitSchedule()])

    opt = co.SGD(learning_rate=BASE, clr=one_cycle())
    model_b = ones_model()
    model_b.compile(opt, linear_loss)
    model_b.fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[co.FitSchedule(), StopAfter(epoch=1)],
    )
    model_b.save(tmp_path / "b.keras")
    model_b = keras.models.load_model(
        tmp_path / "b.keras", custom_objects={"linear_loss": linear_loss}
    )
    model_b.fit(
        x,
        y,
        batch_size=8,
        initial_epoch=2,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[co.FitSchedule()],
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model_b.weights[0]),
        keras.ops.convert_to_numpy(model_a.weights[0]),
        rtol=1e-6,
    )
    assert_rel(model_b.optimizer.current_lr, straight.current_lr)


class StopAfter(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.stop_training = True


def test_logs_reach_history_csv_and_batch_callbacks(tmp_path):
    clr = one_cycle(base_momentum=0.85, max_momentum=0.95)
    opt = co.SGD(learning_rate=BASE, clr=clr)
    batch_logs = []
    seen = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_logs.append(dict(logs))
    )
    csv_path = tmp_path / "log.csv"
    monitor = co.FitSchedule()
    _, history = fit_ones(
        opt, 24, 8, 3, [monitor, seen, keras.callbacks.CSVLogger(csv_path)]
    )
    expected = [pytorch_one_cycle(k, PEAK, 9, PEAK / BASE) for k in range(9)]
    assert_rel([logs["learning_rate"] for logs in batch_logs], expected)
    momenta = [logs["momentum"] for logs in batch_logs]
    assert_rel(momenta, monitor.update_history["momentum"])
    assert_rel(momenta[0], 0.95)
    assert_rel(min(momenta), 0.85, rtol=1e-3)
    # Epoch logs: the last update of each epoch.
    assert_rel(history.history["learning_rate"], expected[2::3])
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert_rel([float(r["learning_rate"]) for r in rows], expected[2::3])
    assert "momentum" in rows[0]


def test_adam_logs_beta_1():
    clr = {
        "mode": "triangular",
        "max_lr": PEAK,
        "step_size": 2,
        "base_momentum": 0.8,
        "max_momentum": 0.9,
    }
    opt = co.Adam(learning_rate=BASE, clr=clr)
    monitor = co.FitSchedule()
    fit_ones(opt, 16, 8, 2, [monitor])
    assert_rel(monitor.update_history["beta_1"], [0.9, 0.85, 0.8, 0.85])


def test_plain_keras_optimizer_is_logged():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5)
    monitor = co.FitSchedule()
    fit_ones(keras.optimizers.SGD(schedule), 24, 8, 1, [monitor])
    assert_rel(monitor.update_history["learning_rate"], [0.1, 0.05, 0.025])


def test_unknown_length_without_steps_per_epoch_names_the_fix():
    def batches():
        while True:
            yield ones_data(8)

    model = ones_model()
    model.compile(co.SGD(learning_rate=BASE, clr=one_cycle()), linear_loss)
    with pytest.raises(ValueError, match=r"pass `steps_per_epoch`"):
        model.fit(batches(), epochs=2, verbose=0, callbacks=[co.FitSchedule()])
    # With it, the length is known.
    model.fit(
        batches(),
        epochs=2,
        steps_per_epoch=3,
        verbose=0,
        callbacks=[co.FitSchedule()],
    )
    assert int(model.optimizer.total_steps) == 6


def test_auto_without_the_callback_fails_at_the_first_update():
    model = ones_model()
    opt = co.SGD(learning_rate=BASE, clr=one_cycle())
    model.compile(opt, linear_loss)
    x, y = ones_data(8)
    with pytest.raises(ValueError, match=r"FitSchedule\(\)"):
        model.fit(x, y, epochs=1, verbose=0)
    if BACKEND != "jax":  # JAX's fit leaves variables detached on any error
        assert int(opt.iterations) == 0
        assert float(keras.ops.convert_to_numpy(model.weights[0])[0, 0]) == 0
    weight = keras.Variable(np.zeros(1, "float32"))
    with pytest.raises(ValueError, match=r"plan_schedule"):
        co.SGD(learning_rate=BASE, clr=one_cycle()).apply(
            [keras.ops.ones(1)], [weight]
        )


def test_plan_schedule_checks_its_numbers():
    opt = co.SGD(learning_rate=BASE, clr=one_cycle())
    with pytest.raises(ValueError, match=r"total_updates.*Received: "):
        opt.plan_schedule(total_updates=None)
    with pytest.raises(ValueError, match=r"at least one update"):
        opt.plan_schedule(total_updates=2)
    cyclic = co.SGD(clr={"max_lr": PEAK, "step_size": {"epochs": 2}})
    with pytest.raises(ValueError, match=r"updates_per_epoch"):
        cyclic.plan_schedule(total_updates=10)
    cyclic.plan_schedule(updates_per_epoch=2.5)
    assert int(cyclic.step_size) == 5


@pytest.mark.parametrize(
    "clr, pattern",
    [
        ({"max_lr": 0.1, "step_size": "auto"}, r"step_size.*of type str"),
        ({"max_lr": 0.1, "step_size": {"epochs": 0}}, r"x > 0"),
        ({"max_lr": 0.1, "step_size": {"epoch": 1}}, r"\{'epochs': x\}"),
        ({"max_lr": 0.1, "step_size": 4, "warmup_steps": -1}, r"warmup"),
        ({"max_lr": 0.1, "step_size": 4, "warmup_start_lr": 0.1}, r"only"),
        (one_cycle(total_steps="all"), r"'auto'"),
        (one_cycle(warmup_steps=3), r"cyclical modes"),
    ],
)
def test_bad_lengths_are_rejected(clr, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        co.SGD(clr=clr)


@NOT_TORCH
def test_record_is_exact_with_steps_per_execution():
    opt = co.SGD(learning_rate=BASE, clr=one_cycle())
    monitor = co.FitSchedule()
    fit_ones(opt, 40, 4, 1, [monitor], steps_per_execution=4)
    expected = [pytorch_one_cycle(k, PEAK, 10, PEAK / BASE) for k in range(10)]
    assert_rel(monitor.update_history["learning_rate"], expected)


class RaisePeak(keras.callbacks.Callback):
    """Assigns a new `max_lr` after a batch, through `self.model` (on JAX,
    which carries the state during `fit`, that writes it back first)."""

    def __init__(self, after_batch, peak):
        super().__init__()
        self.after_batch = after_batch
        self.peak = peak

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.after_batch:
            self.model.optimizer.max_lr.assign(self.peak)


def test_settings_assigned_mid_epoch_warn_at_the_epoch_end():
    opt = co.SGD(learning_rate=BASE, clr={"max_lr": PEAK, "step_size": 2})
    bump = RaisePeak(after_batch=1, peak=0.2)
    monitor = co.FitSchedule()
    with pytest.warns(RuntimeWarning, match=r"Epoch 0: the logged rates"):
        model, _ = fit_ones(opt, 32, 8, 1, [monitor, bump])
    # The next epoch reads the new settings: no warning, exact record.
    x, y = ones_data(32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(x, y, batch_size=8, verbose=0, callbacks=[monitor])
    assert_rel(
        monitor.update_history["learning_rate"][-4:],
        [seed_formula(k, BASE, 0.2, 2) for k in range(4, 8)],
    )


def test_epoch_logging_only():
    opt = co.SGD(learning_rate=BASE, clr=one_cycle())
    monitor = co.FitSchedule(log_updates=False)
    _, history = fit_ones(opt, 24, 8, 3, [monitor])
    expected = [pytorch_one_cycle(k, PEAK, 9, PEAK / BASE) for k in (2, 5, 8)]
    assert monitor.update_history["iterations"] == [3, 6, 9]
    assert_rel(monitor.update_history["learning_rate"], expected)
    assert_rel(history.history["learning_rate"], expected)
    with pytest.raises(TypeError, match=r"log_updates.*Received: "):
        co.FitSchedule(log_updates="yes")
