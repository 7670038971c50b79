"""The same optimizers on Keras's JAX and PyTorch backends, in subprocesses."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_rel
from helpers import run_script
from helpers import seed_formula
from test_policies_in_optimizers import pytorch_one_cycle_momentum
from test_policy import pytorch_cyclic_lr
from test_policy import pytorch_one_cycle

SCRIPT = Path(__file__).parent / "scripts" / "other_backend.py"


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backend_applies_the_formula(backend):
    tests_dir = str(Path(__file__).parent)
    root = str(Path(__file__).parent.parent)
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(
            [tests_dir, root, os.environ.get("PYTHONPATH", "")]
        ),
    }
    out = subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["backend"] == backend
    eager = result["eager"]
    assert_rel(
        eager["rates"], [seed_formula(n, 0.01, 0.05, 4) for n in range(10)]
    )
    assert_rel(
        eager["held_rate"], seed_formula(9, 0.01, 0.05, 4)
    )  # NaN max_lr: held
    assert eager["held_updates"] == 1
    expected = {
        "sgd_triangular2": lambda n: seed_formula(
            n, 0.01, 0.05, 3, "triangular2"
        ),
        "adam_exp_range": lambda n: seed_formula(
            n, 0.01, 0.05, 3, "exp_range", 0.99
        ),
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
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result == {"backend": backend, "tf": []}


def test_jax_data_parallel_matches_one_device():
    # keras.distribution.DataParallel over 2 host devices: the same rates,
    # counters and weights as one device with the same global batch.
    tests_dir = str(Path(__file__).parent)
    root = str(Path(__file__).parent.parent)
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "PYTHONPATH": os.pathsep.join(
            [tests_dir, root, os.environ.get("PYTHONPATH", "")]
        ),
    }
    script = Path(__file__).parent / "scripts" / "jax_data_parallel.py"
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
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
    assert_rel(
        parallel["epoch_end_rates"], single["epoch_end_rates"], rtol=1e-5
    )
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


BASE, PEAK, STEP_SIZE = 0.01, 0.05, 3
ONE_CYCLE_STEPS = 20


def triangular(n):
    return seed_formula(n, BASE, PEAK, STEP_SIZE)


# Name: ([optimizer class, its arguments, clr], float64 rate at update n,
# float64 momentum at update n or None).
TORCH_COMPILE_CASES = {
    "sgd_triangular": (
        (
            "SGD",
            {"learning_rate": BASE, "momentum": 0.9},
            {"step_size": STEP_SIZE, "max_lr": PEAK},
        ),
        triangular,
        None,
    ),
    "adam_triangular": (
        (
            "Adam",
            {"learning_rate": BASE},
            {"step_size": STEP_SIZE, "max_lr": PEAK},
        ),
        triangular,
        None,
    ),
    # 24 updates of a 20-step cycle: the last 4 hold the final values.
    "adam_1cycle_momentum": (
        (
            "Adam",
            {"learning_rate": BASE},
            {
                "mode": "1cycle",
                "max_lr": PEAK,
                "total_steps": ONE_CYCLE_STEPS,
                "base_momentum": 0.85,
                "max_momentum": 0.95,
            },
        ),
        lambda n: pytorch_one_cycle(
            min(n, ONE_CYCLE_STEPS - 1), PEAK, ONE_CYCLE_STEPS, PEAK / BASE
        ),
        lambda n: pytorch_one_cycle_momentum(
            min(n, ONE_CYCLE_STEPS - 1), ONE_CYCLE_STEPS, 0.85, 0.95
        ),
    ),
}


def held_then_resumed(value):
    """`value` at each update of tests/scripts/torch_compile.py's three fits.

    16 updates of the cycle, 8 holding the 16th's value (max_lr NaN), then
    the cycle resumed from where it stopped.
    """
    return (
        [value(n) for n in range(16)]
        + [value(15)] * 8
        + [value(n) for n in range(16, 24)]
    )


@pytest.mark.parametrize("case", list(TORCH_COMPILE_CASES))
def test_torch_compile_applies_the_cycle_as_the_eager_run(case):
    # jit_compile=True on PyTorch is torch.compile: the traced update takes
    # the keras.ops schedule, the eager one the host schedule.
    settings, rate, momentum = TORCH_COMPILE_CASES[case]
    result = run_script(
        "torch_compile.py",
        json.dumps(settings),
        timeout=300,
        env={"KERAS_BACKEND": "torch"},
    )
    assert result["backend"] == "torch"
    eager, compiled = result["eager"], result["compiled"]
    assert eager["host_updates"] == 32
    assert compiled["host_updates"] == 0
    assert result["recompiles_naming_the_package"] == []
    for run in (compiled, eager):
        assert_rel(run["rates"], held_then_resumed(rate))
        if momentum is None:
            assert run["momenta"] == []
        else:
            assert_rel(run["momenta"], held_then_resumed(momentum))
        assert run["iterations"] == 32
        assert run["clr_iterations"] == 24
        assert run["held_updates"] == 8
        assert run["held_warnings"] == 1
        assert_rel(run["next_rate"], rate(24))
    assert_rel(compiled["rates"], eager["rates"])
    for compiled_weight, eager_weight in zip(
        compiled["weights"], eager["weights"]
    ):
        np.testing.assert_allclose(
            compiled_weight, eager_weight, rtol=1e-5, atol=1e-6
        )
