"""Shared pieces of the training-mode tests, also used by tests/scripts/.

The rate recorder: a model `y = x @ w` with one weight per step (`w` starts
at zero) and the loss `mean(y)`. Step `t` trains on the one-hot row `e_t`
(batch size 1, no shuffling), so its gradient is `e_t` and plain SGD sets
`w[t] = -rate_t`: after training, `-w` is the exact sequence of applied
rates, however many steps ran inside one graph execution.
"""

import json
import os
import subprocess
import sys

import numpy as np

from conftest import seed_formula

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
SCRIPTS_DIR = os.path.join(TESTS_DIR, "scripts")


def linear_loss(y_true, y_pred):
    """The mean of the predictions; its gradient is the input row."""
    from keras import ops

    return ops.mean(y_pred, axis=-1)


def recorder_model(n_steps, dtype=None, seed=0):
    """`Input(n_steps) -> Dense(1, no bias, zeros)`: one weight per step."""
    import keras

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
    from keras import ops

    kernel = ops.convert_to_numpy(ops.cast(model.weights[0], "float32"))
    return -kernel[:, 0].astype(np.float64) / scale


def reference_rates(steps, base, peak, step_size, mode="triangular",
                    gamma=1.0):
    """`seed_formula` at each of `steps` (an int: `range(steps)`)."""
    if isinstance(steps, int):
        steps = range(steps)
    return np.array(
        [seed_formula(n, base, peak, step_size, mode, gamma) for n in steps]
    )


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
