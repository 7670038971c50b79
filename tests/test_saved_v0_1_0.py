"""State saved by clr_optimizers 0.1.0 loads and resumes as if never stopped.

tests/data/make_v0_1_0_files.py, run under the 0.1.0 release, trained two
small models 5 updates, saved them (a `.keras` file; a `tf.train.Checkpoint`)
and recorded in tests/data/v0_1_0_expected.json what the uninterrupted run
did over the next updates. Here the current package loads those files and
continues the same updates on the same batches.
"""

import json
import os

import keras
import numpy as np
import pytest
from helpers import assert_rel

import clr_optimizers as co

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

with open(os.path.join(DATA_DIR, "v0_1_0_expected.json")) as _f:
    EXPECTED = json.load(_f)

# Keras's variables, and its `convert_to_numpy` and `get_weights`, hand
# NumPy 2 an `__array__` without the `copy` argument.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword"
    ":DeprecationWarning"
)


def assert_state(opt, expected):
    assert int(np.asarray(opt.iterations)) == expected["iterations"]
    assert int(np.asarray(opt.clr_iterations)) == expected["clr_iterations"]
    assert_rel(opt.current_lr, expected["current_lr"], rtol=1e-6)
    if "current_momentum" in expected:
        assert_rel(
            opt.current_momentum, expected["current_momentum"], rtol=1e-6
        )
    else:
        assert opt.current_momentum is None


def assert_weights(model, expected):
    weights = model.get_weights()
    assert len(weights) == len(expected)
    for actual, want in zip(weights, expected, strict=True):
        np.testing.assert_allclose(
            np.asarray(actual), np.asarray(want, "float32"), rtol=1e-5
        )


def continue_training(model, expected):
    """Checks the saved state, then the recorded updates that follow it.

    Update `i` of the run trains on batch `i % len(batches)`, as in
    tests/data/make_v0_1_0_files.py.
    """
    x = np.asarray(EXPECTED["x"], "float32")
    y = np.asarray(EXPECTED["y"], "float32")
    size = EXPECTED["batch_size"]
    batches = [
        (x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)
    ]
    opt = model.optimizer
    assert_state(opt, expected["saved"])
    assert_weights(model, expected["saved_weights"])
    first = EXPECTED["saved_after"]
    assert len(expected["continued"]) == EXPECTED["continue_updates"]
    for i, want in enumerate(expected["continued"], start=first):
        model.train_on_batch(*batches[i % len(batches)])
        assert_state(opt, want)
    assert_weights(model, expected["final_weights"])


def test_keras_file_resumes():
    expected = EXPECTED["sgd"]
    model = keras.models.load_model(os.path.join(DATA_DIR, expected["file"]))
    opt = model.optimizer
    assert type(opt) is co.SGD
    assert opt.clr == pytest.approx(expected["optimizer"]["clr"])
    assert opt.momentum == pytest.approx(expected["optimizer"]["momentum"])
    assert_rel(opt.lr, expected["optimizer"]["learning_rate"])
    continue_training(model, expected)


@pytest.mark.tensorflow_only
def test_checkpoint_resumes():
    import tensorflow as tf

    expected = EXPECTED["adam"]
    keras.utils.set_random_seed(expected["seed"])
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    opt = co.Adam(**expected["optimizer"])
    model.compile(opt, loss="mse")
    opt.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=opt)
    status = checkpoint.read(os.path.join(DATA_DIR, expected["prefix"]))
    status.assert_consumed()
    continue_training(model, expected)
