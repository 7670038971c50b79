"""Writes the state files saved by clr_optimizers 0.1.0, for
tests/test_saved_v0_1_0.py.

Run it under the 0.1.0 release's code (commit
7fefac7529aeb355aea7702b2fedcf60507e71d2) with the oldest supported Keras
and TensorFlow (3.10.0 and 2.18.1), on the TensorFlow backend. A `.keras`
file records each layer's config, and a newer Keras writes keys (such as
Dense's `quantization_config`) that an older one refuses; a file from the
oldest supported Keras loads in every newer one. From the repository root:

    git worktree add --detach /tmp/v010 \
        7fefac7529aeb355aea7702b2fedcf60507e71d2
    python -m venv /tmp/oldest
    /tmp/oldest/bin/pip install keras==3.10.0 tensorflow==2.18.1
    PYTHONPATH=/tmp/v010 KERAS_BACKEND=tensorflow \
        /tmp/oldest/bin/python tests/data/make_v0_1_0_files.py
    git worktree remove --force /tmp/v010

It writes, next to itself:

- v0_1_0_sgd_triangular2.keras: `model.save` of a model compiled with
  `SGD(momentum=0.9)` and a triangular2 cycle, after 5 updates.
- v0_1_0_adam_1cycle_ckpt.index and v0_1_0_adam_1cycle_ckpt.data-*: a
  `tf.train.Checkpoint(model=..., optimizer=...).write` of a model trained
  5 updates with Adam and a 1cycle that also cycles `beta_1`.
- v0_1_0_expected.json: the data, the state at the save, and what the
  uninterrupted run does next: per update the rates and counters, and the
  weights after CONTINUE_UPDATES more updates.

Update `i` (counted from 0 over the whole run) trains on batch
`i % len(batches)` with `model.train_on_batch`.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np

import clr_optimizers

HERE = os.path.dirname(os.path.abspath(__file__))
KERAS_VERSION = "3.10.0"
SAVED_AFTER = 5
CONTINUE_UPDATES = 6
BATCH_SIZE = 8
N_SAMPLES = 16
SGD_FILE = "v0_1_0_sgd_triangular2.keras"
ADAM_PREFIX = "v0_1_0_adam_1cycle_ckpt"
EXPECTED_FILE = "v0_1_0_expected.json"
SGD_ARGS = {
    "learning_rate": 0.01,
    "momentum": 0.9,
    "clr": {"mode": "triangular2", "step_size": 3, "max_lr": 0.1},
}
ADAM_ARGS = {
    "learning_rate": 0.001,
    "clr": {
        "mode": "1cycle",
        "max_lr": 0.01,
        "total_steps": 20,
        "base_momentum": 0.85,
        "max_momentum": 0.95,
    },
}


def make_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_SAMPLES, 4)).astype("float32")
    w = np.array([[0.5], [-1.0], [0.25], [2.0]], "float32")
    y = (np.tanh(x @ w) + 0.1).astype("float32")
    return x, y


def make_model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )


def batches(x, y):
    return [
        (x[i : i + BATCH_SIZE], y[i : i + BATCH_SIZE])
        for i in range(0, len(x), BATCH_SIZE)
    ]


def state(opt):
    values = {
        "current_lr": float(np.asarray(opt.current_lr)),
        "clr_iterations": int(np.asarray(opt.clr_iterations)),
        "iterations": int(np.asarray(opt.iterations)),
    }
    if opt.current_momentum is not None:
        values["current_momentum"] = float(np.asarray(opt.current_momentum))
    return values


def train(model, data, first, count):
    """Updates `first` to `first + count - 1`; the state after each."""
    states = []
    for i in range(first, first + count):
        model.train_on_batch(*data[i % len(data)])
        states.append(state(model.optimizer))
    return states


def weights(model):
    return [np.asarray(w).tolist() for w in model.get_weights()]


def run(opt, seed, data, save):
    model = make_model(seed)
    model.compile(opt, loss="mse")
    train(model, data, 0, SAVED_AFTER)
    save(model)
    return {
        "saved": state(opt),
        "saved_weights": weights(model),
        "continued": train(model, data, SAVED_AFTER, CONTINUE_UPDATES),
        "final_weights": weights(model),
    }


def save_keras(model):
    model.save(os.path.join(HERE, SGD_FILE))


def save_checkpoint(model):
    import tensorflow as tf

    for name in os.listdir(HERE):
        if name.startswith(ADAM_PREFIX):
            os.remove(os.path.join(HERE, name))
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    checkpoint.write(os.path.join(HERE, ADAM_PREFIX))


def source_commit():
    package_dir = os.path.dirname(os.path.abspath(clr_optimizers.__file__))
    try:
        out = subprocess.run(
            ["git", "-C", package_dir, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", package_dir, "status", "--porcelain", "."],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() + (" (modified)" if dirty.stdout else "")


def main():
    if keras.backend.backend() != "tensorflow":
        sys.exit("Run with KERAS_BACKEND=tensorflow.")
    if clr_optimizers.__version__ != "0.1.0":
        sys.exit(
            "Run under clr_optimizers 0.1.0; imported "
            f"{clr_optimizers.__version__} from {clr_optimizers.__file__}."
        )
    if keras.__version__ != KERAS_VERSION:
        sys.exit(f"Run with Keras {KERAS_VERSION}; found {keras.__version__}.")
    import tensorflow as tf

    print("clr_optimizers from", clr_optimizers.__file__)
    x, y = make_data()
    data = batches(x, y)
    expected = {
        "made_with": {
            "clr_optimizers": clr_optimizers.__version__,
            "commit": source_commit(),
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
        },
        "saved_after": SAVED_AFTER,
        "continue_updates": CONTINUE_UPDATES,
        "x": x.tolist(),
        "y": y.tolist(),
        "batch_size": BATCH_SIZE,
        "sgd": {
            "file": SGD_FILE,
            "seed": 1,
            "optimizer": SGD_ARGS,
            **run(clr_optimizers.SGD(**SGD_ARGS), 1, data, save_keras),
        },
        "adam": {
            "prefix": ADAM_PREFIX,
            "seed": 2,
            "optimizer": ADAM_ARGS,
            **run(clr_optimizers.Adam(**ADAM_ARGS), 2, data, save_checkpoint),
        },
    }
    with open(os.path.join(HERE, EXPECTED_FILE), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(HERE)):
        if name.startswith("v0_1_0_"):
            size = os.path.getsize(os.path.join(HERE, name))
            print(f"{size:8d}  {name}")


if __name__ == "__main__":
    main()
