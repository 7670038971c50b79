import math
import os
from fractions import Fraction

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


# (major, minor) of the installed Keras.
KERAS_VERSION = tuple(int(part) for part in __import__("keras").__version__.split(".")[:2])

# Optimizer classes offered only from a newer Keras than the oldest supported
# (3.10): Muon from 3.13 (earlier Muon fails on the TensorFlow backend),
# ScheduleFreeAdamW from 3.14 (added then).
NEWER_OPTIMIZERS = {"Muon": (3, 13), "ScheduleFreeAdamW": (3, 14)}


def needs_optimizer(name):
    """Skips a test of an optimizer class that the installed Keras lacks."""
    needed = NEWER_OPTIMIZERS.get(name, (3, 10))
    return pytest.mark.skipif(
        KERAS_VERSION < needed,
        reason=f"{name} needs Keras >= {needed[0]}.{needed[1]}; "
        f"installed: {'.'.join(map(str, KERAS_VERSION))}",
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
    """The seed notebook's model: Input 15 -> Dense 10 relu -> Dense 1 sigmoid."""
    import keras

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


@pytest.fixture
def data():
    return seed_data()
