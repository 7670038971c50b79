"""The same optimizers on Keras's JAX and PyTorch backends, in subprocesses."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_rel
from conftest import seed_formula
from test_policy import pytorch_cyclic_lr

SCRIPT = Path(__file__).parent / "scripts" / "other_backend.py"


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backend_applies_the_formula(backend):
    tests_dir = str(Path(__file__).parent)
    root = str(Path(__file__).parent.parent)
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([tests_dir, root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                         timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["backend"] == backend
    eager = result["eager"]
    assert_rel(eager["rates"], [seed_formula(n, 0.01, 0.05, 4) for n in range(10)])
    assert_rel(eager["held_rate"], seed_formula(9, 0.01, 0.05, 4))  # NaN max_lr: held
    assert eager["held_updates"] == 1
    expected = {
        "sgd_triangular2": lambda n: seed_formula(n, 0.01, 0.05, 3, "triangular2"),
        "adam_exp_range": lambda n: seed_formula(n, 0.01, 0.05, 3, "exp_range", 0.99),
        "adamw_asymmetric": lambda n: pytorch_cyclic_lr(n, 0.01, 0.05, 2, 5),
    }
    for key, rate in expected.items():
        for spe in (1,) if backend == "torch" else (1, 4):
            case = result[f"{key}_spe{spe}"]
            assert case["clr_iterations"] == case["iterations"] == 16
            assert case["finite"]
            assert_rel(case["epoch_end_rates"], [rate(7), rate(15)])
            assert_rel(case["next_rate"], rate(16))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_import_leaves_tensorflow_out_under_other_backends(backend):
    # Keras imports no TensorFlow under these backends; neither may we.
    code = (
        "import sys, json, keras, clr_optimizers\n"
        "json.dump({'backend': keras.backend.backend(), "
        "'tf': sorted(m for m in sys.modules if m.split('.')[0] == "
        "'tensorflow')}, sys.stdout)"
    )
    root = str(Path(__file__).parent.parent)
    env = {**os.environ, "KERAS_BACKEND": backend,
           "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result == {"backend": backend, "tf": []}



def test_jax_data_parallel_matches_one_device():
    # keras.distribution.DataParallel over 2 host devices: the same rates,
    # counters and weights as one device with the same global batch.
    tests_dir = str(Path(__file__).parent)
    root = str(Path(__file__).parent.parent)
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "PYTHONPATH": os.pathsep.join([tests_dir, root, os.environ.get("PYTHONPATH", "")])}
    script = Path(__file__).parent / "scripts" / "jax_data_parallel.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True,
                         text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    single, parallel = result["single"], result["data_parallel"]
    assert parallel["devices"] == parallel["weight_devices"] == 2
    assert parallel["clr_devices"] == 2  # replicated on both
    # 8 updates an epoch, triangular2 with step size 3 from 0.01 to 0.05.
    rate = lambda n: seed_formula(n, 0.01, 0.05, 3, "triangular2")  # noqa: E731
    for run in (single, parallel):
        assert run["clr_iterations"] == run["iterations"] == 24
        assert_rel(run["epoch_end_rates"], [rate(7), rate(15), rate(23)])
        assert_rel(run["next_rate"], rate(24))
    assert_rel(parallel["epoch_end_rates"], single["epoch_end_rates"], rtol=1e-5)
    for a, b in zip(parallel["weights"], single["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # stateless_apply carries the cycle's variables (eager and jitted); the
    # Keras variables stay as they were.
    expected = [seed_formula(n, 0.01, 0.05, 4) for n in range(6)]
    for key in ("stateless", "stateless_jit"):
        case = result[key]
        assert_rel(case["rates"], expected, rtol=1e-5)
        assert case["carried"]["clr_iterations"] == 6
        assert case["carried"]["held_updates"] == 0
        assert_rel(case["carried"]["current_lr"], expected[-1])
        assert case["variable_clr_iterations"] == 0
