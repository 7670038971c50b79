"""The cycle under tf.distribute: one machine with two devices, two workers.

Marked `distributed` (CI runs them as a step of their own, on every run).
The strategies need process-global setup (logical devices, TF_CONFIG), so
the training runs in fresh interpreters (tests/scripts/mirrored.py and
tests/scripts/multi_worker.py).

Expectation: the same rates and, to 1e-5, the same final weights as one
device training with the same global batch, and `clr_iterations` counting
global steps (once per update of all replicas, not once per replica).
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import SCRIPTS_DIR
from helpers import assert_rel
from helpers import reference_rates
from helpers import run_script
from helpers import script_env
from helpers import seed_formula

pytestmark = [pytest.mark.distributed, pytest.mark.tensorflow_only]

BASE, PEAK, STEP = 0.001, 0.01, 3
GLOBAL_STEPS = 16  # 256 samples, global batch 32, 2 epochs
WORKER_TIMEOUT_S = 180


def assert_same_training(distributed, single, replicas):
    assert distributed["replicas"] == replicas
    for a, b in zip(distributed["weights"], single["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=0, atol=1e-5)
    expected = reference_rates(GLOBAL_STEPS, BASE, PEAK, STEP, "triangular2")
    assert_rel(distributed["rates"], expected)
    assert_rel(single["rates"], expected)
    assert distributed["clr_iterations"] == GLOBAL_STEPS
    assert distributed["iterations"] == GLOBAL_STEPS
    assert_rel(
        distributed["next_rate"],
        seed_formula(GLOBAL_STEPS, BASE, PEAK, STEP, "triangular2"),
    )


@pytest.fixture(scope="module")
def mirrored():
    return run_script("mirrored.py", timeout=300)


def test_two_logical_devices(mirrored):
    assert mirrored["logical_devices"] == 2


@pytest.mark.parametrize("case", ["fit_sgd", "fit_adamw"])
def test_mirrored_fit_matches_single_device(mirrored, case):
    # SGD with momentum; AdamW, whose weight decay reads the rate in the
    # cross-replica context.
    runs = mirrored[case]
    assert runs["single"]["replicas"] == 1
    assert_same_training(runs["mirrored"], runs["single"], replicas=2)


def test_mirrored_custom_loop_matches_single_device(mirrored):
    runs = mirrored["custom_loop"]
    for a, b in zip(runs["mirrored"]["weights"], runs["single"]["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=0, atol=1e-5)
    expected = reference_rates(GLOBAL_STEPS, BASE, PEAK, STEP, "triangular2")
    assert_rel(runs["mirrored"]["rates"], expected)
    assert runs["mirrored"]["clr_iterations"] == GLOBAL_STEPS
    assert runs["mirrored"]["iterations"] == GLOBAL_STEPS


def test_mirrored_applies_one_rate_per_global_step(mirrored):
    run = mirrored["recorder"]
    per_step = reference_rates(16, BASE, PEAK, STEP, "triangular2")
    assert_rel(run["rates"], np.repeat(per_step, 2) / 2)
    assert run["clr_iterations"] == run["iterations"] == 16


def test_mirrored_bad_setting_holds_the_rate_once_per_global_step(mirrored):
    # 2 updates, then max_lr = NaN for 2 more (AdamW: the weight decay reads
    # the rate in the cross-replica context): both held at the rate of
    # update 1, as on one device.
    runs = mirrored["guard"]
    for run in runs.values():
        assert run["finite"]
        assert run["held_updates"] == 2
        assert run["clr_iterations"] == 2
        assert run["iterations"] == 4
        assert_rel(
            run["current_lr"], seed_formula(1, BASE, PEAK, STEP, "triangular2")
        )
    for a, b in zip(runs["mirrored"]["weights"], runs["single"]["weights"]):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=0, atol=1e-5)


def free_ports(n):
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_workers(tmp_path, n_workers=2):
    cluster = {
        "worker": [f"127.0.0.1:{port}" for port in free_ports(n_workers)]
    }
    workers = []
    for index in range(n_workers):
        task = {"type": "worker", "index": index}
        tf_config = {"cluster": cluster, "task": task}
        log = open(tmp_path / f"worker{index}.log", "w")
        process = subprocess.Popen(
            [
                sys.executable,
                os.path.join(SCRIPTS_DIR, "multi_worker.py"),
                str(tmp_path / f"worker{index}.json"),
            ],
            env=script_env({"TF_CONFIG": json.dumps(tf_config)}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append((process, log))
    return workers


def wait_for_workers(workers, timeout_s):
    """Waits for all workers; stops every one still running on a failure
    or past the deadline. Returns the exit codes."""
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            codes = [process.poll() for process, _ in workers]
            if all(code is not None for code in codes):
                return codes
            if any(code not in (None, 0) for code in codes):
                break  # the others would wait for it forever
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        for process, log in workers:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
            log.close()
    return [process.returncode for process, _ in workers]


def single_device_reference():
    spec = importlib.util.spec_from_file_location(
        "clr_multi_worker_script", os.path.join(SCRIPTS_DIR, "multi_worker.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import tensorflow as tf

    return module.train(tf.distribute.get_strategy())


def test_multi_worker_matches_single_device(tmp_path):
    started = time.monotonic()
    workers = start_workers(tmp_path)
    single = single_device_reference()  # while the workers start
    codes = wait_for_workers(workers, WORKER_TIMEOUT_S)
    elapsed = time.monotonic() - started
    logs = "\n".join(
        f"--- worker{i} (exit {code}) ---\n"
        + (tmp_path / f"worker{i}.log").read_text()[-4000:]
        for i, code in enumerate(codes)
    )
    assert codes == [0, 0], f"workers failed or timed out:\n{logs}"
    assert elapsed < WORKER_TIMEOUT_S + 60
    results = [
        json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)
    ]
    assert [r["task"]["index"] for r in results] == [0, 1]
    assert single["replicas"] == 1
    for result in results:
        assert_same_training(result, single, replicas=2)
    # Both workers hold the same state.
    for a, b in zip(results[0]["weights"], results[1]["weights"]):
        np.testing.assert_array_equal(np.array(a), np.array(b))
