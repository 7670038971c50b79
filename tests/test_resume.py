"""Crash and resume: the cycle's state survives a kill and a restore.

A training process (tests/scripts/resume_train.py) under
`keras.callbacks.BackupAndRestore` is killed with SIGKILL in the middle of
an epoch and restarted. `BackupAndRestore` saves the optimizer's variables
with the model (`max_lr`, `step_size`, `clr_iterations`, `current_lr`, ...),
so the restarted run resumes the cycle where the backup left it.
"""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from helpers import SCRIPTS_DIR
from helpers import assert_rel
from helpers import reference_rates
from helpers import script_env
from helpers import seed_data
from helpers import seed_formula
from helpers import seed_model
from test_policy import pytorch_one_cycle

import clr_optimizers as co

# As in resume_train.py.
BASE, PEAK, STEP = 0.001, 0.01, 5
STEPS_PER_EPOCH, EPOCHS = 8, 4
TOTAL = STEPS_PER_EPOCH * EPOCHS
KILL_AT = (2, 4)  # epoch 2 (of 0..3), after batch 4 (of 0..7)
BATCH_SAVE_FREQ = 2  # backups after batches 1, 3, 5, 7 of each epoch
LAST_BACKED_UP_BATCH = 3  # the last backup before the kill
TIMEOUT_S = 180


def start(tmp_path, name, save_freq, kill_at=None, policy=None):
    args = [
        sys.executable,
        os.path.join(SCRIPTS_DIR, "resume_train.py"),
        str(tmp_path / f"{name}.json"),
        str(tmp_path / f"{name}_backup"),
        str(save_freq),
    ]
    if kill_at:
        args += [str(kill_at[0]), str(kill_at[1])]
    log = open(tmp_path / f"{name}.log", "w")
    env = script_env({"RESUME_POLICY": policy} if policy else None)
    process = subprocess.Popen(
        args, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    return process, log


def finish(tmp_path, name, started):
    process, log = started
    try:
        code = process.wait(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        log.close()
    output = (tmp_path / f"{name}.log").read_text()[-6000:]
    assert code == 0, f"{name} exited with {code}:\n{output}"
    return json.loads((tmp_path / f"{name}.json").read_text())


def kill_when_ready(tmp_path, name, started):
    """SIGKILLs the run once it reached its kill point."""
    process, log = started
    ready = tmp_path / f"{name}_backup.ready"
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not ready.exists():
            if process.poll() is not None:
                output = (tmp_path / f"{name}.log").read_text()[-6000:]
                raise AssertionError(
                    f"{name} exited with {process.returncode} before its "
                    f"kill point:\n{output}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} did not reach its kill point")
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        log.close()
    ready.unlink()
    assert not (tmp_path / f"{name}.json").exists()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("resume")
    # Two processes at a time: uninterrupted beside the first to be killed.
    uninterrupted = start(tmp_path, "uninterrupted", "epoch")
    killed = start(tmp_path, "epoch", "epoch", KILL_AT)
    kill_when_ready(tmp_path, "epoch", killed)
    backups_after_kill = sorted(os.listdir(tmp_path / "epoch_backup"))
    restarted = start(tmp_path, "epoch", "epoch")
    killed_b = start(tmp_path, "batch", BATCH_SAVE_FREQ, KILL_AT)
    kill_when_ready(tmp_path, "batch", killed_b)
    with open(tmp_path / "batch_backup" / "training_metadata.json") as f:
        batch_metadata = json.load(f)
    results = {
        "uninterrupted": finish(tmp_path, "uninterrupted", uninterrupted),
        "epoch": finish(tmp_path, "epoch", restarted),
        "backups_after_kill": backups_after_kill,
        "batch_metadata": batch_metadata,
    }
    restarted_b = start(tmp_path, "batch", BATCH_SAVE_FREQ)
    replay = start(
        tmp_path, "replay", f"replay:{KILL_AT[0]}:{LAST_BACKED_UP_BATCH}"
    )
    results["batch"] = finish(tmp_path, "batch", restarted_b)
    results["replay"] = finish(tmp_path, "replay", replay)
    results["backup_left"] = (tmp_path / "epoch_backup").exists()
    return results


@pytest.fixture(scope="module")
def one_cycle_runs(tmp_path_factory):
    """1cycle with total_steps="auto": uninterrupted, and killed mid-epoch
    and restarted from the epoch-level backup."""
    tmp_path = tmp_path_factory.mktemp("resume_one_cycle")
    policy = "auto_one_cycle"
    uninterrupted = start(tmp_path, "uninterrupted", "epoch", policy=policy)
    killed = start(tmp_path, "epoch", "epoch", KILL_AT, policy=policy)
    kill_when_ready(tmp_path, "epoch", killed)
    restarted = start(tmp_path, "epoch", "epoch", policy=policy)
    return {
        "uninterrupted": finish(tmp_path, "uninterrupted", uninterrupted),
        "epoch": finish(tmp_path, "epoch", restarted),
    }


def test_auto_one_cycle_killed_and_restarted_keeps_its_plan(one_cycle_runs):
    uninterrupted = one_cycle_runs["uninterrupted"]
    restarted = one_cycle_runs["epoch"]
    # 4 epochs of 8 batches: the plan, in both processes.
    assert uninterrupted["total_steps"] == restarted["total_steps"] == TOTAL
    expected = [
        pytorch_one_cycle(n, PEAK, TOTAL, PEAK / BASE) for n in range(TOTAL)
    ]
    assert_rel(uninterrupted["rates"], expected)
    # The last update applied 1cycle's final rate, initial / 1e4.
    assert_rel(uninterrupted["rates"][-1], BASE / 1e4)
    resumed_from = KILL_AT[0] * STEPS_PER_EPOCH
    assert_rel(restarted["rates"], expected[resumed_from:])
    assert restarted["iterations"] == restarted["clr_iterations"] == TOTAL
    assert_same_weights(restarted["weights"], uninterrupted["weights"])


def assert_same_weights(actual, expected):
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected):
        np.testing.assert_allclose(
            np.array(a), np.array(b), rtol=1e-6, atol=1e-7
        )


def test_uninterrupted_run_follows_the_formula(runs):
    run = runs["uninterrupted"]
    expected = reference_rates(TOTAL, BASE, PEAK, STEP, "triangular2")
    assert_rel(run["rates"], expected)
    assert run["clr_iterations"] == run["iterations"] == TOTAL


def test_killed_mid_epoch_and_restarted_equals_uninterrupted(runs):
    assert "latest.weights.h5" in runs["backups_after_kill"]
    restarted, uninterrupted = runs["epoch"], runs["uninterrupted"]
    assert_same_weights(restarted["weights"], uninterrupted["weights"])
    assert restarted["clr_iterations"] == TOTAL
    assert uninterrupted["clr_iterations"] == TOTAL
    assert restarted["iterations"] == TOTAL
    assert_rel(restarted["next_rate"], uninterrupted["next_rate"])
    assert_rel(
        restarted["next_rate"],
        seed_formula(TOTAL, BASE, PEAK, STEP, "triangular2"),
    )
    # The restarted process redid the interrupted epoch 2, then epoch 3, at
    # the cycle positions the uninterrupted run had there.
    resumed_from = KILL_AT[0] * STEPS_PER_EPOCH
    assert_rel(restarted["rates"], uninterrupted["rates"][resumed_from:])
    assert not runs["backup_left"]  # BackupAndRestore deletes it at the end


def test_batch_level_backup_replays_the_epoch_start_and_keeps_counting(runs):
    # Keras restarts the interrupted epoch from its first batch, on top of
    # the state of the last mid-epoch backup (after batch 3 of epoch 2):
    # batches 0..3 of epoch 2 are trained twice. The cycle does not rewind:
    # it continues from the backed-up clr_iterations and counts every update
    # applied, in step with `iterations`.
    assert runs["batch_metadata"] == {
        "epoch": KILL_AT[0],
        "batch": LAST_BACKED_UP_BATCH,
    }
    backed_up = KILL_AT[0] * STEPS_PER_EPOCH + LAST_BACKED_UP_BATCH + 1
    rerun = (EPOCHS - KILL_AT[0]) * STEPS_PER_EPOCH
    run = runs["batch"]
    assert run["clr_iterations"] == run["iterations"] == backed_up + rerun
    assert_rel(
        run["rates"],
        reference_rates(
            range(backed_up, backed_up + rerun), BASE, PEAK, STEP, "triangular2"
        ),
    )
    assert_rel(
        run["next_rate"],
        seed_formula(backed_up + rerun, BASE, PEAK, STEP, "triangular2"),
    )
    # Independent expectation: one uninterrupted process that trains exactly
    # those batches in that order.
    replay = runs["replay"]
    assert replay["clr_iterations"] == backed_up + rerun
    assert_same_weights(run["weights"], replay["weights"])
    assert_rel(run["rates"], replay["rates"][backed_up:])


def train_steps(model, x, y, steps):
    model.fit(
        x[: 32 * steps],
        y[: 32 * steps],
        batch_size=32,
        shuffle=False,
        verbose=0,
    )


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("jit_compile", [False, True])
def test_tf_train_checkpoint_restores_mid_cycle(tmp_path, jit_compile):
    import tensorflow as tf

    x, y = seed_data(32 * 13)
    clr = {
        "mode": "exp_range",
        "step_size": 4,
        "max_lr": 0.01,
        "clr_gamma": 0.97,
    }

    def build():
        model = seed_model(0)
        opt = co.Adam(learning_rate=0.001, clr=clr)
        model.compile(opt, "binary_crossentropy", jit_compile=jit_compile)
        opt.build(model.trainable_variables)
        return model, opt

    model, opt = build()
    train_steps(model, x, y, 11)  # mid-cycle: 11 = a rising leg
    opt.max_lr.assign(0.02)  # settings changed at run time are restored too
    opt.step_size.assign(3)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=opt)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    train_steps(model, x, y, 13)
    expected_weights = model.get_weights()
    expected_state = [keras.ops.convert_to_numpy(v) for v in opt.variables]

    restored_model, restored = build()
    tf.train.Checkpoint(model=restored_model, optimizer=restored).restore(
        path
    ).assert_consumed()
    assert int(restored.clr_iterations) == 11
    assert float(restored.max_lr) == pytest.approx(0.02)
    assert int(restored.step_size) == 3
    assert_rel(
        restored.current_lr,
        seed_formula(10, 0.001, 0.01, 4, "exp_range", 0.97),
    )
    assert_rel(
        restored.learning_rate,
        seed_formula(11, 0.001, 0.02, 3, "exp_range", 0.97),
    )
    train_steps(restored_model, x, y, 13)
    for a, b in zip(restored_model.get_weights(), expected_weights):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    for a, b in zip(restored.variables, expected_state):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), b, rtol=1e-6, atol=1e-7
        )
    assert int(restored.clr_iterations) == 24
