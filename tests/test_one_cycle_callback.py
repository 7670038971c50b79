"""`OneCycle`: the rates and momenta it makes any optimizer apply.

Every check reads what the updates did to the weights where it can, and
compares against PyTorch's `OneCycleLR` formula written out below in
float64 (`one_cycle_reference`), not against the package's own policy code.
The probe model has one weight per row of its data: row `j` (the one-hot
`e_j`) has the gradient `e_j`, so plain SGD from zero weights moves weight
`j` by minus the rate of each update that trained on row `j`.
"""

import csv
import math

import keras
import numpy as np
import pytest
from helpers import JIT_COMPILE
from helpers import assert_rel
from helpers import seed_data
from helpers import seed_model
from helpers import spe
from helpers import spe_param
from keras import ops

import clr_optimizers as co
from clr_optimizers._callbacks._one_cycle import OneCycle

MAX_LR = 0.1


def one_cycle_reference(
    n,
    total_steps,
    max_lr=MAX_LR,
    pct_start=0.25,
    div_factor=25.0,
    final_div_factor=1e5,
    anneal="cos",
    three_phase=False,
    momentum=False,
    base_momentum=0.85,
    max_momentum=0.95,
):
    """PyTorch's `OneCycleLR.get_lr` (or its momentum) at step `n`, float64.

    Transcribed from torch.optim.lr_scheduler.OneCycleLR; past the last step
    it holds the last value (PyTorch raises there).
    """
    initial = max_lr / div_factor
    final = initial / final_div_factor
    rise_end = float(pct_start * total_steps) - 1
    if three_phase:
        ends = [rise_end, 2 * pct_start * total_steps - 2, total_steps - 1]
        rates = [(initial, max_lr), (max_lr, initial), (initial, final)]
        momenta = [
            (max_momentum, base_momentum),
            (base_momentum, max_momentum),
            (max_momentum, max_momentum),
        ]
    else:
        ends = [rise_end, total_steps - 1]
        rates = [(initial, max_lr), (max_lr, final)]
        momenta = [(max_momentum, base_momentum), (base_momentum, max_momentum)]
    values = momenta if momentum else rates
    step = min(n, total_steps - 1)
    start_step = 0.0
    for i, end_step in enumerate(ends):
        if step <= end_step or i == len(ends) - 1:
            pct = (step - start_step) / (end_step - start_step)
            start, end = values[i]
            if anneal == "cos":
                return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
            return (end - start) * pct + start
        start_step = end_step
    raise AssertionError("unreachable")


def reference(updates, total_steps, **kwargs):
    """`one_cycle_reference` at each of `range(updates)`, as an array."""
    return np.array(
        [one_cycle_reference(n, total_steps, **kwargs) for n in range(updates)]
    )


def probe_loss(y_true, y_pred):
    """The sum of the predictions: the gradient of a row is the row."""
    return ops.sum(y_pred, axis=-1)


def probe_model(
    rows, optimizer=None, steps_per_execution=1, jit_compile="auto"
):
    """`Input(rows) -> Dense(1, no bias, zeros)`, compiled."""
    model = keras.Sequential(
        [
            keras.Input((rows,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(learning_rate=0.5),
        loss=probe_loss,
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    return model


def fit_probe(model, callbacks, epochs=1, initial_epoch=0, rows=None):
    """Fits the probe on its one-hot rows, in order, one row a batch."""
    rows = rows or model.inputs[0].shape[-1]
    x = np.eye(rows, dtype="float32")
    return model.fit(
        x,
        np.zeros((rows, 1), "float32"),
        batch_size=1,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )


def kernel(model):
    return np.asarray(model.get_weights()[0][:, 0], dtype=np.float64)


def rates_by_row(rates, rows, accumulation=1):
    """Minus the SGD probe's weights after updates at `rates`.

    Micro-batch `i` trains on row `i % rows`; with gradient accumulation it
    adds `1 / accumulation` of the gradient to update `i // accumulation`.
    """
    total = np.zeros(rows)
    for i in range(len(rates) * accumulation):
        total[i % rows] += rates[i // accumulation] / accumulation
    return total


def sgd_momentum_weights(rates, momenta, rows):
    """Keras's SGD with momentum on the probe, in float64."""
    velocity = np.zeros(rows)
    weights = np.zeros(rows)
    for t, (rate, momentum) in enumerate(zip(rates, momenta)):
        gradient = np.eye(rows)[t % rows]
        velocity = momentum * velocity - rate * gradient
        weights += velocity
    return weights


def adam_weights(rates, betas_1, rows, beta_2=0.999, epsilon=1e-7):
    """Keras's Adam on the probe (`beta_1` of each update given), float64."""
    m = np.zeros(rows)
    v = np.zeros(rows)
    weights = np.zeros(rows)
    for t, (rate, beta_1) in enumerate(zip(rates, betas_1)):
        gradient = np.eye(rows)[t % rows]
        step = t + 1
        alpha = rate * math.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        m += (gradient - m) * (1 - beta_1)
        v += (gradient**2 - v) * (1 - beta_2)
        weights -= alpha * m / (np.sqrt(v) + epsilon)
    return weights


# The rate of every update.


@pytest.mark.parametrize("steps_per_execution", [1, spe_param(3)])
@pytest.mark.parametrize(
    "anneal, three_phase",
    [("cos", False), ("linear", False), ("cos", True), ("linear", True)],
)
def test_applied_rates_match_pytorch_formula(
    anneal, three_phase, steps_per_execution
):
    rows = 40
    model = probe_model(rows, steps_per_execution=steps_per_execution)
    one_cycle = OneCycle(MAX_LR, anneal=anneal, three_phase=three_phase)
    fit_probe(model, [one_cycle])
    expected = reference(rows, rows, anneal=anneal, three_phase=three_phase)
    applied = -kernel(model)
    assert_rel(applied, expected, rtol=1e-5)
    # The peak is max_lr, and the last update applies the final rate.
    assert_rel(max(applied), MAX_LR, rtol=1e-5)
    assert_rel(applied[-1], MAX_LR / (25.0 * 1e5), rtol=1e-6)
    assert one_cycle.total_steps == rows
    assert one_cycle.update_history["iterations"] == list(range(1, rows + 1))
    assert_rel(one_cycle.update_history["learning_rate"], expected, rtol=1e-9)
    assert "momentum" not in one_cycle.update_history  # SGD's momentum is 0


def test_hand_checked_values():
    """The first, peak and last rates of a 12-update cycle, by hand."""
    model = probe_model(12)
    one_cycle = OneCycle(0.2, pct_start=0.25, div_factor=10.0)
    fit_probe(model, [one_cycle])
    applied = -kernel(model)
    # Update 0: 0.2 / 10; update 2 (= 0.25 * 12 - 1): 0.2; update 11:
    # 0.02 / 1e5; update 1, halfway up the cosine: (0.02 + 0.2) / 2.
    assert_rel(applied[[0, 1, 2, 11]], [0.02, 0.11, 0.2, 2e-7], rtol=1e-6)


def test_fixed_total_steps_holds_the_final_rate_past_the_end():
    model = probe_model(40, steps_per_execution=spe(3))
    fit_probe(model, [OneCycle(MAX_LR, total_steps=30)])
    expected = reference(40, 30)
    assert_rel(-kernel(model), expected, rtol=1e-5)
    assert_rel(-kernel(model)[29:], [MAX_LR / 2.5e6] * 11, rtol=1e-6)


@pytest.mark.parametrize("steps_per_execution", [1, spe_param(3)])
def test_several_epochs_logs_and_history(steps_per_execution, tmp_path):
    rows, epochs = 10, 3
    model = probe_model(rows, steps_per_execution=steps_per_execution)
    one_cycle = OneCycle(MAX_LR)
    batch_logs = []
    logger = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_logs.append(dict(logs))
    )
    csv_path = tmp_path / "log.csv"
    history = fit_probe(
        model,
        [one_cycle, logger, keras.callbacks.CSVLogger(str(csv_path))],
        epochs=epochs,
    )
    total = rows * epochs
    expected = reference(total, total)
    assert one_cycle.total_steps == total
    assert_rel(-kernel(model), rates_by_row(expected, rows), rtol=1e-5)
    assert one_cycle.update_history["iterations"] == list(range(1, total + 1))
    assert_rel(one_cycle.update_history["learning_rate"], expected, rtol=1e-9)
    assert_rel(expected[-1], MAX_LR / 2.5e6, rtol=1e-12)

    # Batch logs: one per execution, with its last update's rate.
    k = steps_per_execution
    last = [
        e * rows + min(b + k - 1, rows - 1)
        for e in range(epochs)
        for b in range(0, rows, k)
    ]
    assert_rel([logs["learning_rate"] for logs in batch_logs], expected[last])
    # Epoch logs: History and CSVLogger, the epoch's last update's rate.
    epoch_ends = expected[rows - 1 :: rows]
    assert_rel(history.history["learning_rate"], epoch_ends)
    with open(csv_path, newline="") as file:
        written = [float(row["learning_rate"]) for row in csv.DictReader(file)]
    assert_rel(written, epoch_ends)


@pytest.mark.parametrize("steps_per_execution", [1, spe_param(3)])
def test_gradient_accumulation_counts_applied_updates(steps_per_execution):
    # 2 epochs of 10 micro-batches, windows of 3: 6 updates; the window of
    # micro-batches 18 and 19 is never completed.
    rows, epochs, accumulation = 10, 2, 3
    optimizer = keras.optimizers.SGD(
        learning_rate=0.5, gradient_accumulation_steps=accumulation
    )
    model = probe_model(rows, optimizer, steps_per_execution)
    one_cycle = OneCycle(MAX_LR)
    fit_probe(model, [one_cycle], epochs=epochs)
    updates = epochs * rows // accumulation
    assert updates == 6
    assert one_cycle.total_steps == updates
    expected = reference(updates, updates)
    assert_rel(
        -kernel(model),
        rates_by_row(expected, rows, accumulation),
        rtol=1e-5,
    )
    assert one_cycle.update_history["iterations"] == list(range(1, 7))
    assert_rel(one_cycle.update_history["learning_rate"], expected, rtol=1e-9)
    assert_rel(one_cycle.update_history["learning_rate"][-1], MAX_LR / 2.5e6)
    assert int(ops.convert_to_numpy(optimizer.iterations)) == updates


# Momentum.


@pytest.mark.parametrize("jit_compile", JIT_COMPILE)
@pytest.mark.parametrize("steps_per_execution", [1, spe_param(3)])
def test_sgd_momentum_cycles_per_update(steps_per_execution, jit_compile):
    rows = 32  # The peak rate, and lowest momentum, at 0.25 * 32 - 1 = 7.
    optimizer = keras.optimizers.SGD(learning_rate=0.5, momentum=0.9)
    model = probe_model(rows, optimizer, steps_per_execution, jit_compile)
    one_cycle = OneCycle(MAX_LR)
    history = fit_probe(model, [one_cycle])
    rates = reference(rows, rows)
    momenta = reference(rows, rows, momentum=True)
    assert_rel(momenta[[0, 7, rows - 1]], [0.95, 0.85, 0.95], rtol=1e-12)
    assert_rel(
        kernel(model), sgd_momentum_weights(rates, momenta, rows), rtol=1e-5
    )
    assert_rel(one_cycle.update_history["momentum"], momenta, rtol=1e-9)
    assert_rel(history.history["momentum"], [0.95], rtol=1e-9)
    # The optimizer's own value is back.
    assert type(optimizer.momentum) is float and optimizer.momentum == 0.9


@pytest.mark.parametrize("steps_per_execution", [1, spe_param(3)])
def test_adam_beta_1_cycles_per_update(steps_per_execution):
    rows = 30
    optimizer = keras.optimizers.Adam(learning_rate=0.5)
    model = probe_model(rows, optimizer, steps_per_execution)
    seen = []

    def look(batch, logs):
        # During the fit, the config reports the optimizer's own beta_1.
        seen.append(optimizer.get_config()["beta_1"])

    one_cycle = OneCycle(MAX_LR)
    fit_probe(
        model,
        [one_cycle, keras.callbacks.LambdaCallback(on_train_batch_end=look)],
    )
    rates = reference(rows, rows)
    betas = reference(rows, rows, momentum=True)
    expected = adam_weights(rates, betas, rows)
    assert_rel(kernel(model), expected, rtol=1e-4)
    # A beta_1 held at 0.9 would give other weights.
    held = adam_weights(rates, [0.9] * rows, rows)
    assert np.max(np.abs(held / expected - 1)) > 1e-2
    assert_rel(one_cycle.update_history["beta_1"], betas, rtol=1e-9)
    assert set(seen) == {0.9}
    assert optimizer.beta_1 == 0.9 and type(optimizer.beta_1) is float


@pytest.mark.parametrize(
    "make_optimizer, cycle_momentum, simulate",
    [
        (lambda: keras.optimizers.SGD(learning_rate=0.5), True, "sgd"),
        (lambda: keras.optimizers.Adagrad(learning_rate=0.5), True, "adagrad"),
        (lambda: keras.optimizers.Adam(learning_rate=0.5), False, "adam"),
        (
            lambda: keras.optimizers.SGD(learning_rate=0.5, momentum=0.9),
            False,
            "sgd_momentum",
        ),
    ],
    ids=["sgd", "adagrad", "adam-no_cycle", "sgd_momentum-no_cycle"],
)
def test_rate_alone_without_a_cycled_momentum(
    make_optimizer, cycle_momentum, simulate
):
    rows = 20
    optimizer = make_optimizer()
    model = probe_model(rows, optimizer)
    kinds = set()

    def look(batch, logs):
        for name in ("momentum", "beta_1"):
            if hasattr(optimizer, name):
                kinds.add(type(getattr(optimizer, name)))

    one_cycle = OneCycle(MAX_LR, cycle_momentum=cycle_momentum)
    history = fit_probe(
        model,
        [one_cycle, keras.callbacks.LambdaCallback(on_train_batch_end=look)],
    )
    rates = reference(rows, rows)
    if simulate == "sgd":
        expected = -rates
    elif simulate == "adagrad":
        # Accumulator 0.1 + 1 after the row's only gradient.
        expected = -rates / np.sqrt(1.1 + 1e-7)
    elif simulate == "adam":
        expected = adam_weights(rates, [0.9] * rows, rows)
    else:
        expected = sgd_momentum_weights(rates, [0.9] * rows, rows)
    assert_rel(kernel(model), expected, rtol=1e-4)
    assert sorted(one_cycle.update_history) == ["iterations", "learning_rate"]
    assert sorted(history.history) == ["learning_rate", "loss"]
    assert kinds <= {float, int}


def test_loss_scale_optimizer_with_momentum():
    rows = 24
    inner = keras.optimizers.SGD(learning_rate=0.5, momentum=0.9)
    optimizer = keras.optimizers.LossScaleOptimizer(inner)
    model = probe_model(rows, optimizer, steps_per_execution=spe(3))
    one_cycle = OneCycle(MAX_LR)
    fit_probe(model, [one_cycle])
    rates = reference(rows, rows)
    momenta = reference(rows, rows, momentum=True)
    assert_rel(
        kernel(model), sgd_momentum_weights(rates, momenta, rows), rtol=1e-5
    )
    assert_rel(one_cycle.update_history["momentum"], momenta, rtol=1e-9)
    assert inner.momentum == 0.9


# Resuming.


@pytest.mark.parametrize("steps_per_execution", [1, spe_param(3)])
def test_resume_from_initial_epoch_continues_the_cycle(steps_per_execution):
    rows, epochs = 10, 5
    total = rows * epochs
    expected = reference(total, total)

    whole = probe_model(rows, steps_per_execution=steps_per_execution)
    uninterrupted = OneCycle(MAX_LR)
    fit_probe(whole, [uninterrupted], epochs=epochs)
    assert_rel(-kernel(whole), rates_by_row(expected, rows), rtol=1e-5)

    # A fit planned for 5 epochs and stopped after 2, then resumed from
    # initial_epoch=2 with a fresh callback: the same plan, the same count.
    class StopAfter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    split = probe_model(rows, steps_per_execution=steps_per_execution)
    first, second = OneCycle(MAX_LR), OneCycle(MAX_LR)
    fit_probe(split, [first, StopAfter()], epochs=epochs)
    assert len(first.update_history["iterations"]) == 2 * rows
    fit_probe(split, [second], epochs=epochs, initial_epoch=2)
    assert_rel(kernel(split), kernel(whole), rtol=1e-6)
    assert second.total_steps == total
    history = {
        key: first.update_history[key] + second.update_history[key]
        for key in first.update_history
    }
    assert history == uninterrupted.update_history

    # Split as fit(epochs=2), then fit(initial_epoch=2, epochs=5): with the
    # cycle's length given, the first fit follows the same plan.
    split = probe_model(rows, steps_per_execution=steps_per_execution)
    fit_probe(split, [OneCycle(MAX_LR, total_steps=total)], epochs=2)
    fit_probe(
        split, [OneCycle(MAX_LR, total_steps=total)], epochs=5, initial_epoch=2
    )
    assert_rel(kernel(split), kernel(whole), rtol=1e-6)

    # With "auto", fit(epochs=2) plans a cycle of its own 20 updates.
    short = probe_model(rows, steps_per_execution=steps_per_execution)
    own = OneCycle(MAX_LR)
    fit_probe(short, [own], epochs=2)
    assert own.total_steps == 2 * rows
    assert_rel(own.update_history["learning_rate"][-1], MAX_LR / 2.5e6)


def seed_fit(model, callbacks, epochs, initial_epoch=0):
    x, y = seed_data(n=96)
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )


def seed_adam_model(steps_per_execution=1):
    model = seed_model(seed=3)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.123),
        loss="binary_crossentropy",
        steps_per_execution=steps_per_execution,
    )
    return model


def test_model_saved_mid_training_resumes(tmp_path):
    """A `.keras` file saved during the fit, reloaded, continues the cycle."""
    path = str(tmp_path / "mid.keras")
    epochs = 4
    whole = seed_adam_model(spe(3))
    seed_fit(whole, [OneCycle(0.01)], epochs)

    class SaveAndStop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.save(path)
                self.model.stop_training = True

    first = seed_adam_model(spe(3))
    seed_fit(first, [OneCycle(0.01), SaveAndStop()], epochs)
    reloaded = keras.models.load_model(path)
    optimizer = reloaded.optimizer
    # Saved with the optimizer's own beta_1, and its count of updates.
    assert optimizer.beta_1 == 0.9
    assert int(ops.convert_to_numpy(optimizer.iterations)) == 2 * 6
    one_cycle = OneCycle(0.01)
    seed_fit(reloaded, [one_cycle], epochs, initial_epoch=2)
    assert one_cycle.update_history["iterations"] == list(range(13, 25))
    assert_rel(
        one_cycle.update_history["learning_rate"][-1], 0.01 / 2.5e6, rtol=1e-9
    )
    for resumed, expected in zip(reloaded.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(resumed, expected, rtol=1e-5, atol=1e-7)


def test_backup_and_restore_resumes(tmp_path):
    backup = str(tmp_path / "backup")
    epochs = 4
    whole = seed_adam_model()
    seed_fit(whole, [OneCycle(0.01)], epochs)

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("interrupted")

    crashed = seed_adam_model()
    restore = keras.callbacks.BackupAndRestore(backup)
    with pytest.raises(RuntimeError, match="interrupted"):
        seed_fit(crashed, [OneCycle(0.01), restore, Crash()], epochs)
    # A new process: a new model and optimizer, restored from the backup.
    restarted = seed_adam_model()
    one_cycle = OneCycle(0.01)
    restore = keras.callbacks.BackupAndRestore(backup)
    seed_fit(restarted, [one_cycle, restore], epochs)
    assert one_cycle.update_history["iterations"] == list(range(13, 25))
    for resumed, expected in zip(restarted.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(resumed, expected, rtol=1e-5, atol=1e-7)


def test_callback_reused_after_a_failed_fit():
    rows = 12
    optimizer = keras.optimizers.SGD(learning_rate=0.5, momentum=0.9)
    model = probe_model(rows, optimizer)
    one_cycle = OneCycle(MAX_LR)

    def fail(batch, logs):
        if batch == 3:
            raise RuntimeError("failed")

    failing = keras.callbacks.LambdaCallback(on_train_batch_end=fail)
    with pytest.raises(RuntimeError, match="failed"):
        fit_probe(model, [one_cycle, failing])
    fit_probe(model, [one_cycle])
    assert optimizer.momentum == 0.9
    assert "_get_current_learning_rate" not in vars(optimizer)
    # The second fit planned 12 updates and counts from the 4 applied.
    expected = reference(rows + 4, rows)[4:]
    assert_rel(one_cycle.update_history["learning_rate"][4:], expected)


# Errors.


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"max_lr": -0.1}, ValueError, "Received: max_lr=-0.1"),
        ({"max_lr": "0.1"}, TypeError, "Received: max_lr='0.1'"),
        ({"total_steps": 0}, ValueError, "Received: total_steps=0"),
        ({"total_steps": 10.5}, ValueError, "Received: total_steps=10.5"),
        ({"total_steps": "all"}, ValueError, "Received: total_steps='all'"),
        ({"total_steps": None}, TypeError, "Received: total_steps=None"),
        ({"pct_start": 0}, ValueError, "Received: pct_start=0.0"),
        ({"pct_start": 1.0}, ValueError, "Received: pct_start=1.0"),
        ({"div_factor": 0}, ValueError, "Received: div_factor=0.0"),
        (
            {"final_div_factor": math.inf},
            ValueError,
            "Received: final_div_factor=inf",
        ),
        ({"anneal": "cosine"}, ValueError, "Received: anneal='cosine'"),
        ({"three_phase": 1}, TypeError, "Received: three_phase=1"),
        ({"base_momentum": 1.0}, ValueError, "Received: base_momentum=1.0"),
        ({"max_momentum": -0.5}, ValueError, "Received: max_momentum=-0.5"),
        ({"cycle_momentum": "yes"}, TypeError, "cycle_momentum='yes'"),
        ({"total_steps": 4}, ValueError, "total_steps=4"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    kwargs.setdefault("max_lr", MAX_LR)
    with pytest.raises(error, match=match):
        OneCycle(**kwargs)


def batches(count):
    """A generator of `count` probe batches: data of unknown length."""
    x = np.eye(count, dtype="float32")
    for i in range(count):
        yield x[i : i + 1], np.zeros((1, 1), "float32")


# A generator of unknown length ends the epoch by running out, and Keras
# warns of it.
@pytest.mark.filterwarnings("ignore:Your input ran out of data:UserWarning")
def test_data_of_unknown_length_needs_steps_per_epoch():
    model = probe_model(12)
    fit = dict(verbose=0, shuffle=False)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(batches(12), callbacks=[OneCycle(MAX_LR)], **fit)
    one_cycle = OneCycle(MAX_LR)
    model.fit(batches(12), steps_per_epoch=12, callbacks=[one_cycle], **fit)
    assert one_cycle.total_steps == 12
    assert_rel(-kernel(model), reference(12, 12), rtol=1e-5)
    # A given length needs no steps_per_epoch.
    model = probe_model(12)
    model.fit(batches(12), callbacks=[OneCycle(MAX_LR, 12)], **fit)
    assert_rel(-kernel(model), reference(12, 12), rtol=1e-5)


def test_a_fit_too_short_for_the_phases():
    # 4 updates: the rise would end at update 0.25 * 4 - 1 = 0.
    model = probe_model(4)
    with pytest.raises(ValueError, match=r"pct_start=0\.25, total_steps=4"):
        fit_probe(model, [OneCycle(MAX_LR)])


def test_refuses_an_optimizer_with_its_own_schedule():
    model = probe_model(
        8,
        co.SGD(learning_rate=0.001, clr={"step_size": 10, "max_lr": 0.006}),
    )
    with pytest.raises(ValueError, match="two schedules at once"):
        fit_probe(model, [OneCycle(MAX_LR)])
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    model = probe_model(8, keras.optimizers.SGD(learning_rate=schedule))
    with pytest.raises(TypeError, match="float `learning_rate`"):
        fit_probe(model, [OneCycle(MAX_LR)])
    # With CyclicLR on the same optimizer: one schedule at a time.
    model = probe_model(8)
    with pytest.raises(ValueError, match="one schedule at a time"):
        fit_probe(model, [OneCycle(MAX_LR), co.CyclicLR()])


def test_an_optimizer_of_the_package_without_a_cycle():
    model = probe_model(20, co.Adam(learning_rate=0.5))
    one_cycle = OneCycle(MAX_LR)
    fit_probe(model, [one_cycle])
    rates = reference(20, 20)
    betas = reference(20, 20, momentum=True)
    assert_rel(kernel(model), adam_weights(rates, betas, 20), rtol=1e-4)
    assert model.optimizer.beta_1 == 0.9


def test_settings_are_read_back():
    one_cycle = OneCycle(0.01, total_steps=100.0, three_phase=True)
    assert (one_cycle.max_lr, one_cycle.total_steps) == (0.01, 100)
    assert type(one_cycle.total_steps) is int
    assert (one_cycle.pct_start, one_cycle.div_factor) == (0.25, 25.0)
    assert (one_cycle.final_div_factor, one_cycle.anneal) == (1e5, "cos")
    assert (one_cycle.base_momentum, one_cycle.max_momentum) == (0.85, 0.95)
    assert one_cycle.three_phase and one_cycle.cycle_momentum
    assert OneCycle(0.01).total_steps == "auto"
