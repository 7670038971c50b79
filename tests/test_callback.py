"""`CyclicLR`: the rates it makes the optimizer apply, against float64 math."""

import math

import keras
import numpy as np
import pytest
from helpers import BACKEND
from helpers import NOT_TORCH
from helpers import assert_rel
from helpers import seed_data
from helpers import seed_formula
from helpers import seed_model
from helpers import spe
from helpers import spe_param
from keras import ops

import clr_optimizers as co

N = 40  # Updates per probe fit.


def seed_scale_fn(x):
    """The seed README's example scale function."""
    return 0.5 * (1 + np.sin(x * np.pi / 2.0))


def old_callback_rate(n, base, peak, step, scale_fn, scale_mode):
    """`CyclicLR.clr()` of the original callback, in float64."""
    cycle = np.floor(1 + n / (2 * step))
    x = np.abs(n / step - 2 * cycle + 1)
    arg = cycle if scale_mode == "cycle" else float(n)
    return base + (peak - base) * np.maximum(0, (1 - x)) * scale_fn(arg)


def probe_model(size=N, optimizer=None, steps_per_execution=1, **compile_kw):
    """A model whose batch i (x = e_i) has gradient e_i on weight i alone.

    With SGD without momentum from zero weights, weight i ends at
    -(rate of update i): fitting `size` batches of one sample without
    shuffling reads back every rate applied, also from inside an execution.
    """
    model = keras.Sequential(
        [
            keras.Input((size,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(learning_rate=0.5),
        loss=lambda y_true, y_pred: ops.sum(y_pred, axis=-1),
        steps_per_execution=steps_per_execution,
        **compile_kw,
    )
    return model


def probe_data(size=N):
    return np.eye(size, dtype="float32"), np.zeros((size, 1), "float32")


def fit_probe(model, callback, start=0, stop=N):
    x, y = probe_data(model.inputs[0].shape[-1])
    model.fit(
        x[start:stop],
        y[start:stop],
        batch_size=1,
        shuffle=False,
        verbose=0,
        callbacks=[callback] if callback else None,
    )
    return -model.get_weights()[0][start:stop, 0].astype(np.float64)


@pytest.mark.parametrize("steps_per_execution", [1, spe_param(8)])
@pytest.mark.parametrize(
    "mode, gamma",
    [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.97)],
)
def test_applied_rates_match_formula(mode, gamma, steps_per_execution):
    model = probe_model(steps_per_execution=steps_per_execution)
    clr = co.CyclicLR(
        base_lr=0.001, max_lr=0.006, step_size=5.0, mode=mode, gamma=gamma
    )
    applied = fit_probe(model, clr)
    expected = [seed_formula(n, 0.001, 0.006, 5, mode, gamma) for n in range(N)]
    assert_rel(applied, expected)

    # One history entry per batch callback: per batch, or per execution.
    k = steps_per_execution
    last = np.arange(k - 1, N, k)
    assert list(clr.history) == ["lr", "iterations", "loss"]
    assert clr.history["iterations"] == list(last + 1)
    assert_rel(clr.history["lr"], [expected[n] for n in last])
    assert len(clr.history["loss"]) == len(last)
    assert clr.clr_iterations == N
    assert clr.trn_iterations == N


@pytest.mark.parametrize("steps_per_execution", [1, spe_param(8)])
@pytest.mark.parametrize("scale_mode", ["cycle", "iterations"])
def test_seed_sine_scale_fn(scale_mode, steps_per_execution):
    model = probe_model(steps_per_execution=steps_per_execution)
    clr = co.CyclicLR(
        base_lr=0.001,
        max_lr=0.006,
        step_size=3,
        scale_fn=lambda x: 0.5 * (1 + np.sin(x * np.pi / 2.0)),
        scale_mode=scale_mode,
    )
    applied = fit_probe(model, clr)
    expected = [
        old_callback_rate(n, 0.001, 0.006, 3, seed_scale_fn, scale_mode)
        for n in range(N)
    ]
    # Hand check of two values, scale_mode="cycle": the second cycle
    # (n = 6..11) has scale (1 + sin(pi)) / 2 = 0.5, its peak is n = 9.
    if scale_mode == "cycle":
        assert math.isclose(expected[9], 0.001 + 0.005 * 0.5, rel_tol=1e-12)
        assert math.isclose(expected[3], 0.006, rel_tol=1e-12)
    assert_rel(applied, expected, atol=1e-10)
    k = steps_per_execution
    last = np.arange(k - 1, N, k)
    assert_rel(clr.history["lr"], [expected[n] for n in last], atol=1e-10)


def test_scale_fn_sees_numpy_float64_arguments():
    seen = []

    def scale_fn(x):
        seen.append(x)
        return 1.0

    model = probe_model(size=12, steps_per_execution=spe(4))
    clr = co.CyclicLR(0.001, 0.002, 2, scale_fn=scale_fn, scale_mode="cycle")
    fit_probe(model, clr, stop=12)
    assert all(type(x) is np.float64 for x in seen)
    # Updates 0..11 use cycles 1..3 (4 updates a cycle); before each
    # execution, the cycles its updates can reach (up to 4 updates on, and
    # the rate read after it) are evaluated: after the last, cycles 4 and 5.
    # Each cycle is evaluated once.
    if BACKEND == "tensorflow":
        assert seen == [1.0, 2.0, 3.0, 4.0, 5.0]
    else:
        # One step per execution (PyTorch), or every update of the fit
        # before it starts (JAX): cycles 1 to 4, each once.
        assert seen[:4] == [1.0, 2.0, 3.0, 4.0]
        assert len(set(seen)) == len(seen)


def test_scale_fn_must_return_a_finite_number():
    model = probe_model(size=4)
    clr = co.CyclicLR(scale_fn=lambda x: float("nan"))
    with pytest.raises(ValueError, match=r"scale_fn\(1\.0\)=nan"):
        fit_probe(model, clr, stop=4)
    clr = co.CyclicLR(scale_fn=lambda x: np.ones(3))
    with pytest.raises(ValueError, match="must return a real number"):
        fit_probe(probe_model(size=4), clr, stop=4)


def test_cycle_goes_on_across_fits_and_reset_restarts_it():
    model = probe_model(size=36)
    clr = co.CyclicLR(base_lr=0.001, max_lr=0.006, step_size=5)
    first = fit_probe(model, clr, 0, 12)
    second = fit_probe(model, clr, 12, 24)
    expected = [seed_formula(n, 0.001, 0.006, 5) for n in range(24)]
    assert_rel(np.concatenate([first, second]), expected)
    assert clr.clr_iterations == 24

    clr._reset(new_base_lr=0.002, new_max_lr=0.01, new_step_size=4)
    assert clr.clr_iterations == 0
    assert (clr.base_lr, clr.max_lr, clr.step_size) == (
        pytest.approx(0.002),
        pytest.approx(0.01),
        4,
    )
    assert clr.clr() == pytest.approx(0.002)
    third = fit_probe(model, clr, 24, 36)
    assert_rel(third, [seed_formula(n, 0.002, 0.01, 4) for n in range(12)])
    assert clr.history["iterations"] == list(range(1, 37))
    # _reset keeps what is not given.
    clr._reset()
    assert (clr.base_lr, clr.step_size) == (pytest.approx(0.002), 4)


def test_reset_during_fit_applies_to_the_next_update():
    class ResetAt(keras.callbacks.Callback):
        def __init__(self, clr):
            super().__init__()
            self.clr = clr

        def on_train_batch_end(self, batch, logs=None):
            if batch == 6:
                self.clr._reset(new_max_lr=0.004)

    model = probe_model(size=20)
    clr = co.CyclicLR(base_lr=0.001, max_lr=0.006, step_size=4)
    x, y = probe_data(20)
    model.fit(
        x,
        y,
        batch_size=1,
        shuffle=False,
        verbose=0,
        callbacks=[clr, ResetAt(clr)],
    )
    applied = -model.get_weights()[0][:, 0]
    expected = [seed_formula(n, 0.001, 0.006, 4) for n in range(7)] + [
        seed_formula(n, 0.001, 0.004, 4) for n in range(13)
    ]
    assert_rel(applied, expected)


def test_settings_are_assignable_between_fits():
    model = probe_model(size=16)
    clr = co.CyclicLR(base_lr=0.001, max_lr=0.006, step_size=4)
    fit_probe(model, clr, 0, 8)
    clr.max_lr = 0.01
    clr.step_size = 2
    applied = fit_probe(model, clr, 8, 16)
    assert_rel(applied, [seed_formula(n, 0.001, 0.01, 2) for n in range(8, 16)])


def test_optimizer_variables_are_unchanged_and_lr_holds_the_next_rate():
    optimizer = keras.optimizers.SGD(learning_rate=0.5)
    model = probe_model(optimizer=optimizer)
    model.optimizer.build(model.trainable_variables)
    before = [(v.path, tuple(v.shape)) for v in optimizer.variables]
    clr = co.CyclicLR(base_lr=0.001, max_lr=0.006, step_size=5)
    fit_probe(model, clr, 0, 20)
    assert [(v.path, tuple(v.shape)) for v in optimizer.variables] == before
    assert optimizer._learning_rate in optimizer.variables
    # As with the original callback, the learning rate variable holds the
    # rate of the next update after training.
    assert_rel(optimizer.learning_rate, seed_formula(20, 0.001, 0.006, 5))
    assert "_get_current_learning_rate" not in vars(optimizer)

    # Without the callback, the optimizer trains with its own rate again.
    after = fit_probe(model, None, 20, 30)
    assert_rel(after, [seed_formula(20, 0.001, 0.006, 5)] * 10)


@pytest.mark.parametrize(
    "make_optimizer, steps_per_execution",
    [
        (lambda lr: keras.optimizers.Adam(learning_rate=lr), 1),
        (lambda lr: keras.optimizers.Adam(learning_rate=lr), 4),
        (lambda lr: keras.optimizers.RMSprop(learning_rate=lr), 4),
        (
            lambda lr: keras.optimizers.SGD(learning_rate=lr, momentum=0.9),
            1,
        ),
        (lambda lr: keras.optimizers.AdamW(learning_rate=lr), 4),
        (lambda lr: co.Adam(learning_rate=lr), 1),
    ],
    ids=[
        "adam-spe1",
        "adam-spe4",
        "rmsprop-spe4",
        "sgd_momentum-spe1",
        "adamw-spe4",
        "clr_adam_without_cycle-spe1",
    ],
)
def test_any_optimizer_matches_the_same_cycle_as_a_schedule(
    make_optimizer, steps_per_execution
):
    """Training with the callback equals training with the schedule."""
    x, y = seed_data(n=160)
    settings = dict(base_lr=0.001, max_lr=0.02, step_size=3, mode="triangular2")
    weights = []
    for use_callback in (True, False):
        model = seed_model(seed=1)
        if use_callback:
            optimizer = make_optimizer(0.123)
            callbacks = [co.CyclicLR(**settings)]
        else:
            optimizer = make_optimizer(co.CyclicalLearningRate(**settings))
            callbacks = None
        model.compile(
            optimizer=optimizer,
            loss="binary_crossentropy",
            steps_per_execution=spe(steps_per_execution),
        )
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=callbacks,
        )
        weights.append(model.get_weights())
    for with_callback, with_schedule in zip(*weights):
        np.testing.assert_allclose(
            with_callback, with_schedule, rtol=1e-5, atol=1e-7
        )


def test_loss_scale_optimizer():
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(learning_rate=0.5)
    )
    model = probe_model(optimizer=optimizer, steps_per_execution=spe(8))
    clr = co.CyclicLR(base_lr=0.001, max_lr=0.006, step_size=5)
    applied = fit_probe(model, clr)
    assert_rel(applied, [seed_formula(n, 0.001, 0.006, 5) for n in range(N)])


@NOT_TORCH
def test_gradient_accumulation_counts_applied_updates():
    # Batches 2k and 2k+1 make one update with the mean gradient, so
    # weights 2k and 2k+1 each move by half the rate of update k.
    optimizer = keras.optimizers.SGD(0.5, gradient_accumulation_steps=2)
    model = probe_model(size=24, optimizer=optimizer, steps_per_execution=4)
    clr = co.CyclicLR(base_lr=0.001, max_lr=0.006, step_size=3)
    applied = fit_probe(model, clr, stop=24)
    rates = [seed_formula(k, 0.001, 0.006, 3) for k in range(12)]
    assert_rel(applied, np.repeat(rates, 2) / 2)
    assert (clr.clr_iterations, clr.trn_iterations) == (12, 24)
    assert clr.history["iterations"] == [4, 8, 12, 16, 20, 24]
    assert_rel(clr.history["lr"], [rates[k] for k in (1, 3, 5, 7, 9, 11)])


@NOT_TORCH
def test_partial_last_execution():
    model = probe_model(size=20, steps_per_execution=8)
    clr = co.CyclicLR(base_lr=0.001, max_lr=0.006, step_size=5)
    applied = fit_probe(model, clr, stop=20)
    assert_rel(applied, [seed_formula(n, 0.001, 0.006, 5) for n in range(20)])
    assert clr.history["iterations"] == [8, 16, 20]
    assert_rel(
        clr.history["lr"],
        [seed_formula(n, 0.001, 0.006, 5) for n in (7, 15, 19)],
    )


@NOT_TORCH
def test_jit_compiled_with_steps_per_execution():
    model = probe_model(steps_per_execution=8, jit_compile=True)
    clr = co.CyclicLR(
        base_lr=0.001, max_lr=0.006, step_size=5, mode="exp_range", gamma=0.99
    )
    applied = fit_probe(model, clr)
    expected = [
        seed_formula(n, 0.001, 0.006, 5, "exp_range", 0.99) for n in range(N)
    ]
    assert_rel(applied, expected)


def test_refuses_an_optimizer_with_its_own_cycle():
    model = probe_model(
        size=4,
        optimizer=co.SGD(
            learning_rate=0.001, clr={"step_size": 10, "max_lr": 0.006}
        ),
    )
    with pytest.raises(ValueError, match="two schedules at once"):
        fit_probe(model, co.CyclicLR(), stop=4)
    model = probe_model(size=4, optimizer=co.SGD(decay=0.01))
    with pytest.raises(ValueError, match="decay=0.01"):
        fit_probe(model, co.CyclicLR(), stop=4)


def test_accepts_a_clr_optimizer_without_cycle():
    model = probe_model(optimizer=co.SGD(learning_rate=0.5))
    applied = fit_probe(model, co.CyclicLR(0.001, 0.006, 5))
    assert_rel(applied, [seed_formula(n, 0.001, 0.006, 5) for n in range(N)])


def test_refuses_a_schedule_optimizer():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    model = probe_model(
        size=4, optimizer=keras.optimizers.SGD(learning_rate=schedule)
    )
    with pytest.raises(TypeError, match="float `learning_rate`"):
        fit_probe(model, co.CyclicLR(), stop=4)


def test_refuses_two_callbacks_on_one_optimizer():
    model = probe_model(size=4)
    x, y = probe_data(4)
    with pytest.raises(ValueError, match="one schedule at a time"):
        model.fit(
            x,
            y,
            batch_size=1,
            verbose=0,
            callbacks=[co.CyclicLR(), co.CyclicLR()],
        )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"base_lr": -0.1}, ValueError, "Received: base_lr=-0.1"),
        ({"max_lr": "0.1"}, TypeError, "Received: max_lr='0.1'"),
        ({"step_size": 2.5}, ValueError, "Received: step_size=2.5"),
        ({"step_size": 0}, ValueError, "Received: step_size=0"),
        ({"mode": "sine"}, ValueError, "Received: mode='sine'"),
        ({"gamma": 0.9}, ValueError, "Received: gamma=0.9"),
        ({"scale_fn": 0.5}, TypeError, "Received: scale_fn=0.5"),
        (
            {"scale_fn": seed_scale_fn, "scale_mode": "epochs"},
            ValueError,
            "Received: scale_mode='epochs'",
        ),
        ({"warmup_steps": -1}, ValueError, "Received: warmup_steps=-1"),
        ({"warmup_steps": 2.5}, ValueError, "Received: warmup_steps=2.5"),
        ({"warmup_steps": "3"}, TypeError, "Received: warmup_steps='3'"),
        (
            {"warmup_start_lr": -0.1},
            ValueError,
            "Received: warmup_start_lr=-0.1",
        ),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        co.CyclicLR(**kwargs)


def test_old_callback_interface():
    assert co.CyclicalLR is co.CyclicLR
    clr = co.CyclicLR()
    assert (clr.base_lr, clr.max_lr, clr.step_size) == (
        pytest.approx(0.001),
        pytest.approx(0.006),
        2000,
    )
    assert (clr.mode, clr.gamma, clr.scale_fn) == ("triangular", 1.0, None)
    assert clr.history == {}
    assert clr.clr_iterations == 0
    assert clr.clr() == pytest.approx(0.001)
    clr.clr_iterations = 1000
    assert clr.clr() == pytest.approx(0.0035)
    # exp_range scales per iteration, as in the original callback.
    assert co.CyclicLR(mode="exp_range", gamma=0.999).scale_mode == "iterations"
    with pytest.raises(ValueError, match="Received: new_step_size=-1"):
        clr._reset(new_step_size=-1)
    with pytest.raises(ValueError, match="Received: clr_iterations=-3"):
        clr.clr_iterations = -3


# The warm-up, and the record of every update.


def warmup_reference(n, b, start, base, peak, step_size, mode, gamma):
    """A linear rise over updates 0..b-1, then the cycle from position 0."""
    if n < b:
        return start + (base - start) * n / b
    return seed_formula(n - b, base, peak, step_size, mode, gamma)


@pytest.mark.parametrize("steps_per_execution", [1, spe_param(4)])
@pytest.mark.parametrize(
    "warmup_steps, warmup_start_lr, mode, gamma",
    [
        (0, 0.0, "triangular", 1.0),
        (1, 0.0, "triangular", 1.0),
        (7, 0.0, "triangular", 1.0),
        (7, 0.0004, "exp_range", 0.97),
    ],
)
def test_warmup_rises_linearly_then_cycles(
    warmup_steps, warmup_start_lr, mode, gamma, steps_per_execution
):
    b, start = warmup_steps, warmup_start_lr
    model = probe_model(steps_per_execution=steps_per_execution)
    clr = co.CyclicLR(
        base_lr=0.001,
        max_lr=0.006,
        step_size=5,
        mode=mode,
        gamma=gamma,
        warmup_steps=b,
        warmup_start_lr=start,
    )
    applied = fit_probe(model, clr)
    expected = [
        warmup_reference(n, b, start, 0.001, 0.006, 5, mode, gamma)
        for n in range(N)
    ]
    assert_rel(applied, expected)
    if b:
        # Update b - 1 is the last of the rise, b the cycle's bottom, b + 1
        # its first step up (a fifth of the way, exp_range's amplitude
        # scaled once by gamma).
        scale = gamma if mode == "exp_range" else 1.0
        assert_rel(
            applied[[b - 1, b, b + 1]],
            [
                start + (0.001 - start) * (b - 1) / b,
                0.001,
                0.001 + 0.005 / 5 * scale,
            ],
        )
    else:
        # No warm-up: the plain cycle.
        assert_rel(
            applied,
            [seed_formula(n, 0.001, 0.006, 5, mode, gamma) for n in range(N)],
        )
    assert_rel(clr.update_history["learning_rate"], expected)
    assert (clr.warmup_steps, clr.warmup_start_lr) == (b, start)
    # The warm-up is part of the count: _reset starts it again.
    clr._reset()
    assert clr.clr() == pytest.approx(start if b else 0.001)


@pytest.mark.parametrize("steps_per_execution", [1, spe_param(4)])
def test_warmup_with_a_custom_scale_fn(steps_per_execution):
    b = 5
    model = probe_model(steps_per_execution=steps_per_execution)
    clr = co.CyclicLR(
        base_lr=0.001,
        max_lr=0.006,
        step_size=3,
        scale_fn=seed_scale_fn,
        warmup_steps=b,
        warmup_start_lr=0.0002,
    )
    applied = fit_probe(model, clr)
    expected = [
        0.0002 + 0.0008 * n / b
        if n < b
        else old_callback_rate(n - b, 0.001, 0.006, 3, seed_scale_fn, "cycle")
        for n in range(N)
    ]
    assert_rel(applied, expected, atol=1e-10)


@pytest.mark.parametrize("steps_per_execution", [1, spe_param(3)])
def test_update_history_and_logs(steps_per_execution):
    size, epochs = 20, 2
    model = probe_model(size=size, steps_per_execution=steps_per_execution)
    clr = co.CyclicLR(base_lr=0.001, max_lr=0.006, step_size=3)
    batch_logs = []
    logger = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_logs.append(dict(logs))
    )
    x, y = probe_data(size)
    history = model.fit(
        x,
        y,
        batch_size=1,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[clr, logger],
    )
    total = size * epochs
    expected = np.array(
        [seed_formula(n, 0.001, 0.006, 3) for n in range(total)]
    )
    applied = -model.get_weights()[0][:, 0].astype(np.float64)
    assert_rel(applied, expected[:size] + expected[size:])
    # Every update, also inside an execution of several.
    assert clr.update_history["iterations"] == list(range(1, total + 1))
    assert_rel(clr.update_history["learning_rate"], expected)
    # The batch logs: each execution's last update; the epoch logs: the
    # epoch's last.
    k = steps_per_execution
    last = [
        e * size + min(b + k - 1, size - 1)
        for e in range(epochs)
        for b in range(0, size, k)
    ]
    assert_rel([logs["learning_rate"] for logs in batch_logs], expected[last])
    assert_rel(history.history["learning_rate"], expected[[19, 39]])
    # The legacy history is unchanged: no "learning_rate" in it.
    assert list(clr.history) == ["lr", "iterations", "loss"]
    assert_rel(clr.history["lr"], expected[last])
