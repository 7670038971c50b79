import math
import os
from fractions import Fraction

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()

# JAX, in its default 32-bit mode, keeps integers in int32: the cycle's
# counters (and any integer position handed to the policy functions) stop at
# 2**31 - 1 there. TensorFlow and PyTorch keep them in int64.
INT64 = BACKEND != "jax" or bool(__import__("jax").config.jax_enable_x64)
MAX_POSITION = 2**63 - 1 if INT64 else 2**31 - 1
# A position far past float32's exact integers (2**24): 2**40 where the
# backend's integers hold it, 2**30 on JAX.
FAR = 2**40 if INT64 else 2**30


def pytest_collection_modifyitems(config, items):
    """Skips the tests marked `tensorflow_only` on other backends."""
    if BACKEND == "tensorflow":
        return
    skip = pytest.mark.skip(
        reason="TensorFlow only (tf.function, tf.distribute, "
        f"tf.train.Checkpoint or tf.data); KERAS_BACKEND={BACKEND}"
    )
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)


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
