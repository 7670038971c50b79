"""Shared pieces of the tests, also imported by the scripts in tests/scripts/.

`conftest.py` keeps only pytest's hooks and fixtures. Here:

- the backend and its integer range (`BACKEND`, `INT64`, `MAX_POSITION`,
  `FAR`), and the marks and helpers that depend on it (`NOT_TORCH`,
  `JIT_COMPILE`, `spe`, `spe_param`, `compiled`, `synced`, `tensor`,
  `needs_optimizer`);
- the paper's formula written out independently (`seed_formula`) and the
  float64 comparison (`assert_rel`);
- the seed notebook's model and data (`seed_model`, `seed_data`);
- the rate recorder of the training-mode tests (`recorder_model`,
  `recorder_data`, `recorded_rates`, `reference_rates`, `linear_loss`): a
  model `y = x @ w` with one weight per step (`w` starts at zero) and the
  loss `mean(y)`. Step `t` trains on the one-hot row `e_t` (batch size 1, no
  shuffling), so its gradient is `e_t` and plain SGD sets `w[t] = -rate_t`:
  after training, `-w` is the exact sequence of applied rates, however many
  steps ran inside one graph execution;
- running a script of tests/scripts/ in a fresh interpreter (`run_script`,
  `script_env`, `SCRIPTS_DIR`).
"""

import json
import math
import os
import subprocess
import sys
from fractions import Fraction

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from clr_optimizers._compat import INTRODUCED_IN  # noqa: E402
from clr_optimizers._compat import OLDEST_TESTED_KERAS  # noqa: E402
from clr_optimizers._compat import format_version  # noqa: E402
from clr_optimizers._compat import keras_version  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
SCRIPTS_DIR = os.path.join(TESTS_DIR, "scripts")

BACKEND = keras.backend.backend()

# JAX, in its default 32-bit mode, keeps integers in int32: the cycle's
# counters (and any integer position handed to the policy functions) stop at
# 2**31 - 1 there. TensorFlow and PyTorch keep them in int64.
INT64 = BACKEND != "jax" or bool(__import__("jax").config.jax_enable_x64)
MAX_POSITION = 2**63 - 1 if INT64 else 2**31 - 1
# A position far past float32's exact integers (2**24): 2**40 where the
# backend's integers hold it, 2**30 on JAX.
FAR = 2**40 if INT64 else 2**30


def compiled(fn):
    """`fn` as a `tf.function` on TensorFlow; as it is on other backends.

    JAX and PyTorch update stateful Keras variables eagerly outside `fit`.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    return fn


# Keras refuses steps_per_execution > 1 on PyTorch.
NOT_TORCH = pytest.mark.skipif(
    BACKEND == "torch",
    reason="PyTorch takes steps_per_execution=1 only (Keras refuses more)",
)


def spe_param(n):
    """`n` as a parameter, skipped on PyTorch when above 1."""
    return pytest.param(n, marks=NOT_TORCH) if n > 1 else n


def spe(n):
    """`steps_per_execution=n` where the backend takes it; 1 on PyTorch."""
    return 1 if BACKEND == "torch" else n


# jit_compile=True on PyTorch is torch.compile, whose compilation takes 10 to
# 40 s per model on these machines: here PyTorch runs eagerly, as Keras runs
# it by default; tests/test_backends.py covers torch.compile.
JIT_COMPILE = [
    False,
    pytest.param(
        True,
        marks=pytest.mark.skipif(
            BACKEND == "torch",
            reason="jit_compile=True is torch.compile on PyTorch (10 to 40 s "
            "of compilation per model); tests/test_backends.py covers it",
        ),
    ),
]


def synced(model):
    """`model`, its variables up to date in a callback during `fit`.

    JAX's trainer carries the state between steps and writes it back to the
    variables only at the end of an epoch, unless a callback asks for it, as
    this does.
    """
    if BACKEND == "jax":
        model.jax_state_sync()
    return model


def tensor(value):
    """A backend tensor: PyTorch's fused optimizers take no NumPy arrays."""
    return keras.ops.convert_to_tensor(value)


def needs_optimizer(name):
    """Skips a test of an optimizer class that the installed Keras lacks.

    The first Keras that serves each class is the package's own
    `INTRODUCED_IN`; every other class is in the oldest tested Keras.
    """
    needed = INTRODUCED_IN.get(name, (OLDEST_TESTED_KERAS,))[0]
    return pytest.mark.skipif(
        keras_version() < needed,
        reason=f"{name} needs Keras >= {format_version(needed)}; "
        f"installed: {keras.__version__}",
    )


def seed_formula(n, base_lr, max_lr, step_size, mode="triangular", gamma=1.0):
    """The paper's formula, written out here independently.

    The cycle position is evaluated with exact rationals (a float64 quotient
    n / step_size is itself off by 1e-4 at n = 2**40 with step_size 3), the
    rest in float64.
    """
    q = Fraction(int(n), int(step_size))
    cycle = math.floor(1 + q / 2)
    x = float(abs(q - 2 * cycle + 1))
    n = float(n)
    if mode == "triangular":
        scale = 1.0
    elif mode == "triangular2":
        scale = 0.5 ** (cycle - 1)
    elif mode == "exp_range":
        scale = gamma**n
    else:
        raise AssertionError(mode)
    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x) * scale


def assert_rel(actual, expected, rtol=1e-6, atol=0.0):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        np.asarray(expected, dtype=np.float64),
        rtol=rtol,
        atol=atol,
    )


def seed_model(seed=0):
    """The seed notebook's model: Input 15, Dense 10 relu, Dense 1 sigmoid."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((15,)),
            keras.layers.Dense(10, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def seed_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 15)).astype("float32")
    y = (rng.random((n, 1)) > 0.5).astype("float32")
    return x, y


# The rate recorder (see the module's docstring).


def linear_loss(y_true, y_pred):
    """The mean of the predictions; its gradient is the input row."""
    return keras.ops.mean(y_pred, axis=-1)


def recorder_model(n_steps, dtype=None, seed=0):
    """`Input(n_steps) -> Dense(1, no bias, zeros)`: one weight per step."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((n_steps,)),
            keras.layers.Dense(
                1, use_bias=False, kernel_initializer="zeros", dtype=dtype
            ),
        ]
    )


def recorder_data(n_steps, scale=1.0):
    """One-hot rows `scale * e_t` and dummy targets."""
    x = (np.eye(n_steps) * scale).astype("float32")
    y = np.zeros((n_steps, 1), "float32")
    return x, y


def recorded_rates(model, scale=1.0):
    """The applied rates read back from a recorder model, as float64."""
    ops = keras.ops
    kernel = ops.convert_to_numpy(ops.cast(model.weights[0], "float32"))
    return -kernel[:, 0].astype(np.float64) / scale


def reference_rates(steps, base, peak, step_size, mode="triangular", gamma=1.0):
    """`seed_formula` at each of `steps` (an int: `range(steps)`)."""
    if isinstance(steps, int):
        steps = range(steps)
    return np.array(
        [seed_formula(n, base, peak, step_size, mode, gamma) for n in steps]
    )


# Scripts in fresh interpreters.


def run_script(name, *args, timeout=240, env=None):
    """Runs `tests/scripts/<name>` in a fresh interpreter, returns its JSON.

    The script prints one JSON object as its last line of stdout. Raises
    AssertionError (with the script's output) on a non-zero exit.
    """
    completed = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS_DIR, name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=script_env(env),
        cwd=REPO_ROOT,
    )
    if completed.returncode != 0:
        raise AssertionError(
            f"{name} {' '.join(map(str, args))} exited with "
            f"{completed.returncode}.\nstdout:\n{completed.stdout[-4000:]}\n"
            f"stderr:\n{completed.stderr[-8000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def script_env(extra=None):
    """The environment of a script: this checkout and tests/ importable."""
    env = dict(os.environ)
    path = [REPO_ROOT, TESTS_DIR]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(path)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.pop("TF_CONFIG", None)
    if extra:
        env.update(extra)
    return env
