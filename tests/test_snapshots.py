"""`CycleSnapshots`: the model saved exactly when each cycle ends.

The model is the rate recorder of `helpers` (`y = x @ w`, one weight per
batch, batch `t` trains on the one-hot row `e_t` with plain SGD from zero
weights): weight `t` changes at batch `t` only, so after update `u` the
weights `u..` are still zero, and a snapshot shows by itself after which
update it was taken. Each snapshot is compared with the weights of an
independent run with `steps_per_execution=1`, recorded by a
`LambdaCallback` after every batch.
"""

import os
import pathlib
import re

import keras
import numpy as np
import pytest
from helpers import NOT_TORCH
from helpers import REPO_ROOT
from helpers import assert_rel
from helpers import linear_loss
from helpers import recorder_data
from helpers import recorder_model
from helpers import spe_param
from helpers import synced
from keras import ops

import clr_optimizers as co
from clr_optimizers._callbacks._snapshots import CycleSnapshots

BASE, PEAK = 0.01, 0.1


def cyclic_sgd(**clr):
    """`co.SGD` with a triangular cycle from BASE to PEAK."""
    accumulation = clr.pop("gradient_accumulation_steps", None)
    return co.SGD(
        learning_rate=BASE,
        clr={"mode": "triangular", "max_lr": PEAK, **clr},
        gradient_accumulation_steps=accumulation,
    )


def recorder(n, optimizer, steps_per_execution=1):
    model = recorder_model(n)
    model.compile(
        optimizer=optimizer,
        loss=linear_loss,
        steps_per_execution=steps_per_execution,
    )
    return model


def kernel(model):
    return ops.convert_to_numpy(model.weights[0])[:, 0].astype(np.float64)


def fit(model, x, callbacks, epochs=1):
    y = np.zeros((len(x), 1), "float32")
    model.fit(
        x,
        y,
        batch_size=1,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )


def weights_after_each_batch(model, x, callbacks=(), epochs=1):
    """The reference: the kernel after every batch of an uninterrupted
    `steps_per_execution=1` run, recorded by a LambdaCallback."""
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(
            kernel(synced(model))
        )
    )
    fit(model, x, [*callbacks, record], epochs)
    return seen


def saved_kernel(path, n):
    """The kernel in a snapshot file."""
    if path.endswith(".weights.h5"):
        model = recorder_model(n)
        model.load_weights(path)
        return kernel(model)
    # The recorder's loss is a plain function: load without compiling.
    return kernel(keras.models.load_model(path, compile=False))


def assert_snapshots(snapshots, directory, numbers, reference, updates, n):
    """The snapshots are the files of `numbers`, each the reference's
    weights right after its update (`updates`, counted in batches)."""
    extension = ".weights.h5" if snapshots.weights_only else ".keras"
    names = [f"snapshot-{k:03d}{extension}" for k in numbers]
    assert snapshots.paths == [os.path.join(directory, m) for m in names]
    for path, batches in zip(snapshots.paths, updates):
        saved = saved_kernel(path, n)
        assert_rel(saved, reference[batches - 1])
        # Weight t moves at batch t only: the snapshot shows its batch.
        assert np.count_nonzero(saved) == batches


@pytest.mark.parametrize("weights_only", [False, True])
def test_a_snapshot_at_each_cycle_end(tmp_path, weights_only):
    n = 14  # step_size 2: cycles end at updates 4, 8 and 12
    x, _ = recorder_data(n)
    reference = weights_after_each_batch(
        recorder(n, cyclic_sgd(step_size=2)), x
    )
    model = recorder(n, cyclic_sgd(step_size=2))
    snapshots = CycleSnapshots(tmp_path, weights_only=weights_only)
    fit(model, x, [snapshots])
    assert_snapshots(
        snapshots, str(tmp_path), [1, 2, 3], reference, [4, 8, 12], n
    )
    assert sorted(os.listdir(tmp_path)) == sorted(
        os.path.basename(p) for p in snapshots.paths
    )
    # Saving (on JAX, after writing the carried state back) left the
    # training as it was.
    assert_rel(kernel(model), reference[-1])


def test_asymmetric_cycle(tmp_path):
    n = 10  # step_size 1 up, 2 down: cycles end at updates 3, 6 and 9
    x, _ = recorder_data(n)

    def optimizer():
        return cyclic_sgd(step_size=1, step_size_down=2)

    reference = weights_after_each_batch(recorder(n, optimizer()), x)
    snapshots = CycleSnapshots(tmp_path)
    fit(recorder(n, optimizer()), x, [snapshots])
    assert_snapshots(
        snapshots, str(tmp_path), [1, 2, 3], reference, [3, 6, 9], n
    )


def test_keep_keeps_the_last_files(tmp_path):
    n = 14  # step_size 1: cycles end at updates 2, 4, ..., 14
    x, _ = recorder_data(n)
    reference = weights_after_each_batch(
        recorder(n, cyclic_sgd(step_size=1)), x
    )
    directory = tmp_path / "snapshots"
    directory.mkdir()
    (directory / "notes.txt").write_text("not a snapshot")
    snapshots = CycleSnapshots(str(directory), keep=2)
    fit(recorder(n, cyclic_sgd(step_size=1)), x, [snapshots])
    assert_snapshots(snapshots, str(directory), [6, 7], reference, [12, 14], n)
    # The older snapshots were deleted; other files stay.
    assert sorted(os.listdir(directory)) == [
        "notes.txt",
        "snapshot-006.keras",
        "snapshot-007.keras",
    ]


def test_the_directory_is_created(tmp_path):
    n = 4
    x, _ = recorder_data(n)
    directory = tmp_path / "a" / "b"
    snapshots = CycleSnapshots(directory)  # a pathlib.Path
    assert snapshots.directory == str(directory)
    fit(recorder(n, cyclic_sgd(step_size=2)), x, [snapshots])
    assert os.listdir(directory) == ["snapshot-001.keras"]


def test_warmup_shifts_the_cycle_ends(tmp_path):
    n = 16  # a warm-up of 3, step_size 2: cycles end at 7, 11 and 15

    def optimizer():
        return cyclic_sgd(step_size=2, warmup_steps=3, warmup_start_lr=0.005)

    x, _ = recorder_data(n)
    reference = weights_after_each_batch(recorder(n, optimizer()), x)
    snapshots = CycleSnapshots(tmp_path)
    fit(recorder(n, optimizer()), x, [snapshots])
    assert_snapshots(
        snapshots, str(tmp_path), [1, 2, 3], reference, [7, 11, 15], n
    )


def one_cycle_sgd(total_steps):
    return co.SGD(
        learning_rate=BASE,
        clr={"mode": "1cycle", "max_lr": PEAK, "total_steps": total_steps},
    )


def test_one_cycle_ends_at_total_steps(tmp_path):
    n = 14
    x, _ = recorder_data(n)
    reference = weights_after_each_batch(recorder(n, one_cycle_sgd(10)), x)
    snapshots = CycleSnapshots(tmp_path)
    fit(recorder(n, one_cycle_sgd(10)), x, [snapshots])
    assert_snapshots(snapshots, str(tmp_path), [1], reference, [10], n)


def test_one_cycle_planned_by_a_later_callback(tmp_path):
    # total_steps="auto" is planned by FitSchedule, listed after the
    # snapshots: the cycle ends with the fit, at update 12.
    n = 12
    x, _ = recorder_data(n)
    reference = weights_after_each_batch(
        recorder(n, one_cycle_sgd("auto")), x, [co.FitSchedule()]
    )
    snapshots = CycleSnapshots(tmp_path)
    fit(recorder(n, one_cycle_sgd("auto")), x, [snapshots, co.FitSchedule()])
    assert_snapshots(snapshots, str(tmp_path), [1], reference, [12], n)


def cyclic_lr(cls=co.CyclicLR):
    return cls(base_lr=BASE, max_lr=PEAK, step_size=2)


def test_cyclic_lr_callback_across_fits(tmp_path):
    # The CyclicLR's count goes on from one fit to the next: cycles end at
    # update 4 (first fit) and 8 and 12 (second fit).
    n = 12
    x, _ = recorder_data(n)
    plain = keras.optimizers.SGD
    reference = weights_after_each_batch(
        recorder(n, plain(learning_rate=BASE)), x, [cyclic_lr()]
    )
    model = recorder(n, plain(learning_rate=BASE))
    clr = cyclic_lr()
    snapshots = CycleSnapshots(tmp_path, cycle=clr)
    fit(model, x[:6], [clr, snapshots])
    assert len(snapshots.paths) == 1
    fit(model, x[6:], [snapshots, clr])  # either order
    assert_snapshots(
        snapshots, str(tmp_path), [1, 2, 3], reference, [4, 8, 12], n
    )


class WarmCyclicLR(co.CyclicLR):
    """A CyclicLR whose cycles start after 3 updates (the snapshots read
    `warmup_steps` where the callback has it)."""

    warmup_steps = 3


def test_cyclic_lr_callback_with_a_warmup(tmp_path):
    n = 12  # cycles end at 3 + 4 and 3 + 8
    x, _ = recorder_data(n)
    plain = keras.optimizers.SGD
    reference = weights_after_each_batch(
        recorder(n, plain(learning_rate=BASE)), x, [cyclic_lr(WarmCyclicLR)]
    )
    clr = cyclic_lr(WarmCyclicLR)
    snapshots = CycleSnapshots(tmp_path, cycle=clr)
    fit(recorder(n, plain(learning_rate=BASE)), x, [clr, snapshots])
    assert_snapshots(snapshots, str(tmp_path), [1, 2], reference, [7, 11], n)


@NOT_TORCH
@pytest.mark.parametrize(
    "spe, rows, epochs",
    [
        (4, 16, 1),  # cycles end at batches 4, 8, 12, 16
        (2, 6, 2),  # at batch 4 of epoch 1, 2 of epoch 2, and 6 of epoch 2
    ],
)
def test_steps_per_execution_that_divides_is_exact(tmp_path, spe, rows, epochs):
    x, _ = recorder_data(rows)
    updates = rows * epochs
    reference = weights_after_each_batch(
        recorder(rows, cyclic_sgd(step_size=2)), x, epochs=epochs
    )
    model = recorder(rows, cyclic_sgd(step_size=2), steps_per_execution=spe)
    snapshots = CycleSnapshots(tmp_path)
    fit(model, x, [snapshots], epochs)
    ends = list(range(4, updates + 1, 4))
    numbers = list(range(1, len(ends) + 1))
    assert snapshots.paths == [
        os.path.join(str(tmp_path), f"snapshot-{k:03d}.keras") for k in numbers
    ]
    for path, end in zip(snapshots.paths, ends):
        assert_rel(saved_kernel(path, rows), reference[end - 1])


@NOT_TORCH
@pytest.mark.parametrize(
    "spe, rows, epochs, accumulation, fitting",
    [
        # Batches from 0: the end at update 4 is batch 3, run in 3 to 5.
        (3, 12, 1, None, 2),
        # The end at update 8 is batch 1 of the second epoch, run in 0 to 3.
        (4, 6, 2, None, 2),
        # 4 updates of 2 batches: batch 7, run in 6 to 8.
        (3, 16, 1, 2, 2),
    ],
)
def test_steps_per_execution_that_cannot_fit_raises_before_training(
    tmp_path, spe, rows, epochs, accumulation, fitting
):
    x, _ = recorder_data(rows)
    optimizer = cyclic_sgd(
        step_size=2, gradient_accumulation_steps=accumulation
    )
    model = recorder(rows, optimizer, steps_per_execution=spe)
    snapshots = CycleSnapshots(tmp_path)
    with pytest.raises(ValueError) as error:
        fit(model, x, [snapshots], epochs)
    message = str(error.value)
    assert f"with `steps_per_execution={spe}` cycle" in message
    assert "would end inside an execution" in message
    assert "Use a `steps_per_execution` that divides" in message
    assert f"`steps_per_execution={fitting}` saves every" in message
    assert int(ops.convert_to_numpy(optimizer.iterations)) == 0
    assert os.listdir(tmp_path) == []


@NOT_TORCH
def test_a_crossing_seen_during_training_raises(tmp_path):
    # From a generator, the epoch's length is unknown at the start: the
    # execution of batches 3 to 5 runs past the cycle's end at update 4.
    rows = 12
    x, y = recorder_data(rows)

    def batches():
        for i in range(rows):
            yield x[i : i + 1], y[i : i + 1]

    optimizer = cyclic_sgd(step_size=2)
    model = recorder(rows, optimizer, steps_per_execution=3)
    snapshots = CycleSnapshots(tmp_path)
    with pytest.raises(RuntimeError, match=re.escape("from 3 to 6 updates")):
        model.fit(
            batches(), epochs=1, shuffle=False, verbose=0, callbacks=[snapshots]
        )
    assert snapshots.paths == []
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("spe", [1, spe_param(4)])
def test_gradient_accumulation_counts_applied_updates(tmp_path, spe):
    # 2 batches per update, step_size 2: cycles end at updates 4 and 8,
    # batches 8 and 16.
    n = 20

    def optimizer():
        return cyclic_sgd(step_size=2, gradient_accumulation_steps=2)

    x, _ = recorder_data(n)
    reference = weights_after_each_batch(recorder(n, optimizer()), x)
    model = recorder(n, optimizer(), steps_per_execution=spe)
    snapshots = CycleSnapshots(tmp_path)
    fit(model, x, [snapshots])
    assert_snapshots(snapshots, str(tmp_path), [1, 2], reference, [8, 16], n)


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"directory": 3}, TypeError, "`directory` must be a str"),
        ({"directory": ""}, ValueError, "`directory` must be a directory"),
        ({"keep": 0}, ValueError, "`keep` must be None or an integer >= 1"),
        ({"keep": 1.5}, ValueError, "Received: keep=1.5"),
        ({"keep": True}, ValueError, "Received: keep=True"),
        ({"weights_only": "yes"}, TypeError, "`weights_only` must be True"),
        ({"cycle": object()}, TypeError, "`cycle` must be None or the"),
        (
            {"cycle": keras.callbacks.History()},
            TypeError,
            "`cycle` must be None or the",
        ),
    ],
)
def test_bad_arguments(tmp_path, kwargs, error, text):
    kwargs = {"directory": str(tmp_path), **kwargs}
    with pytest.raises(error, match=re.escape(text)):
        CycleSnapshots(**kwargs)


def test_an_optimizer_without_a_cycle_is_refused(tmp_path):
    n = 4
    x, _ = recorder_data(n)
    model = recorder(n, keras.optimizers.SGD(learning_rate=BASE))
    with pytest.raises(ValueError, match="has no cycle"):
        fit(model, x, [CycleSnapshots(tmp_path)])
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 0


def test_a_cycle_callback_outside_the_fit_is_refused(tmp_path):
    n = 4
    x, _ = recorder_data(n)
    model = recorder(n, keras.optimizers.SGD(learning_rate=BASE))
    snapshots = CycleSnapshots(tmp_path, cycle=cyclic_lr())
    with pytest.raises(ValueError, match="not in this `fit`"):
        fit(model, x, [snapshots])


# The snapshot ensemble of docs/snapshots.md.


def classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def test_snapshot_ensemble_averages_the_models_at_cycle_ends(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8)).astype("float32")
    y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
    x_test = rng.normal(size=(32, 8)).astype("float32")
    # 128 / 16 = 8 updates per epoch, a cycle of 8 updates: 3 snapshots.
    model = classifier()
    model.compile(
        optimizer=co.SGD(
            learning_rate=0.01,
            clr={"mode": "triangular", "step_size": 4, "max_lr": 0.2},
        ),
        loss="binary_crossentropy",
    )
    weights = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: weights.append(
            synced(model).get_weights()
        )
    )
    snapshots = CycleSnapshots(tmp_path)
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[snapshots, record],
    )
    # The docs' recipe: load each snapshot, average the predictions.
    members = [keras.models.load_model(path) for path in snapshots.paths]
    ensemble = np.mean([m.predict(x_test, verbose=0) for m in members], axis=0)
    # The reference: the network, in NumPy, with the weights recorded after
    # updates 8, 16 and 24.
    expected = []
    for update in (8, 16, 24):
        w1, b1, w2, b2 = (w.astype(np.float64) for w in weights[update - 1])
        logits = np.maximum(x_test @ w1 + b1, 0.0) @ w2 + b2
        expected.append(1.0 / (1.0 + np.exp(-logits)))
    assert len(members) == 3
    assert_rel(ensemble, np.mean(expected, axis=0), rtol=1e-5)


def docs_example():
    """The first Python block of docs/snapshots.md."""
    text = pathlib.Path(REPO_ROOT, "docs", "snapshots.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_the_docs_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Until the package exports it (a no-op once it does).
    monkeypatch.setattr(co, "CycleSnapshots", CycleSnapshots, raising=False)
    namespace = {}
    exec(compile(docs_example(), "docs/snapshots.md", "exec"), namespace)
    snapshots = namespace["snapshots"]
    assert [os.path.basename(p) for p in snapshots.paths] == [
        "snapshot-002.keras",
        "snapshot-003.keras",
        "snapshot-004.keras",
    ]
    ensemble = namespace["ensemble"]
    assert ensemble.shape == (len(namespace["x_test"]), 1)
    assert np.all((ensemble > 0) & (ensemble < 1))


def one_cycle_callback(total_steps):
    module = pytest.importorskip("clr_optimizers._callbacks._one_cycle")
    return module.OneCycle(max_lr=PEAK, total_steps=total_steps)


@pytest.mark.parametrize(
    "total_steps, rows, epochs", [(10, 14, 1), ("auto", 6, 2)]
)
def test_one_cycle_callback(tmp_path, total_steps, rows, epochs):
    # The cycle ends once the optimizer's iterations reach total_steps (12
    # with "auto": the fit's updates, planned by the OneCycle listed after
    # the snapshots).
    x, _ = recorder_data(rows)
    plain = keras.optimizers.SGD
    reference = weights_after_each_batch(
        recorder(rows, plain(learning_rate=BASE)),
        x,
        [one_cycle_callback(total_steps)],
        epochs,
    )
    one_cycle = one_cycle_callback(total_steps)
    snapshots = CycleSnapshots(tmp_path, cycle=one_cycle)
    fit(
        recorder(rows, plain(learning_rate=BASE)),
        x,
        [snapshots, one_cycle],
        epochs,
    )
    end = 10 if total_steps == 10 else 12
    assert snapshots.paths == [
        os.path.join(str(tmp_path), "snapshot-001.keras")
    ]
    assert_rel(saved_kernel(snapshots.paths[0], rows), reference[end - 1])
