"""The benchmark's data sets, their splits and models (PROTOCOL.md, "Data")."""

import keras
import numpy as np

DATASETS = ("mnist1d", "digits")
MNIST1D_TARGET = 0.94

SETTINGS = {
    "mnist1d": {"budget": 3000, "batch": 100, "every": 50, "authors": 6000},
    "digits": {"budget": 1500, "batch": 32, "every": 25, "authors": None},
}
QUICK = {"budget": 40, "every": 10, "authors": 80}


def load_dataset(name):
    """The splits of data set `name`, features float32 and labels int32.

    Args:
        name: "mnist1d" or "digits".

    Returns:
        (x_train, y_train, x_val, y_val, x_test, y_test).
    """
    if name == "mnist1d":
        return _mnist1d()
    if name == "digits":
        return _digits()
    raise ValueError(
        "`name` must be one of "
        + ", ".join(repr(d) for d in DATASETS)
        + f". Received: name={name!r}"
    )


def _mnist1d():
    """MNIST-1D generated offline; the last 500 training samples validate."""
    import mnist1d.data

    # make_dataset seeds NumPy's global generator: keep the caller's state.
    state = np.random.get_state()
    data = mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())
    np.random.set_state(state)
    x = data["x"].astype("float32")[..., None]
    y = data["y"].astype("int32")
    x_test = data["x_test"].astype("float32")[..., None]
    y_test = data["y_test"].astype("int32")
    return x[:-500], y[:-500], x[-500:], y[-500:], x_test, y_test


def _digits():
    """scikit-learn's digits: stratified test (360) and validation (288)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    x, x_test, y, y_test = train_test_split(
        x, y, test_size=360, stratify=y, random_state=0
    )
    x, x_val, y, y_val = train_test_split(
        x, y, test_size=288, stratify=y, random_state=0
    )
    return x, y, x_val, y_val, x_test, y_test


def _glorot(seed, layer):
    """Keras's default kernel initializer, seeded from (seed, layer)."""
    return keras.initializers.GlorotUniform(
        seed=None if seed is None else 8 * seed + layer
    )


def build_model(name, seed=None):
    """The model of data set `name`, its weights drawn from `seed`.

    Args:
        name: "mnist1d" (the authors' CNN) or "digits" (an MLP).
        seed: Seeds each layer's kernel initializer (Glorot uniform, Keras's
            default; the biases start at 0); None: unseeded.

    Returns:
        A `keras.Sequential` that outputs 10 logits.
    """
    if name == "mnist1d":
        conv = {"strides": 2, "padding": "same", "activation": "relu"}
        layers = [
            keras.Input((40, 1)),
            keras.layers.Conv1D(
                25, 5, kernel_initializer=_glorot(seed, 0), **conv
            ),
            keras.layers.Conv1D(
                25, 3, kernel_initializer=_glorot(seed, 1), **conv
            ),
            keras.layers.Conv1D(
                25, 3, kernel_initializer=_glorot(seed, 2), **conv
            ),
            keras.layers.Flatten(),
            keras.layers.Dense(10, kernel_initializer=_glorot(seed, 3)),
        ]
    else:
        layers = [
            keras.Input((64,)),
            keras.layers.Dense(
                128, activation="relu", kernel_initializer=_glorot(seed, 0)
            ),
            keras.layers.Dense(10, kernel_initializer=_glorot(seed, 1)),
        ]
    return keras.Sequential(layers)


def batch_order(samples, batch, updates, seed):
    """Sample indices for `updates` batches of `batch`, in training order.

    The training set is reshuffled at every pass (a fresh permutation from
    `seed`); batches run on across passes, so none is short.

    Returns:
        An int array of `updates * batch` indices into the training set.
    """
    rng = np.random.default_rng(seed)
    needed = updates * batch
    passes = -(-needed // samples)
    order = np.concatenate([rng.permutation(samples) for _ in range(passes)])
    return order[:needed]


class Task:
    """One data set: its splits, settings and per-seed initial weights."""

    def __init__(self, name, quick, seeds):
        """Loads data set `name` and draws the weights of seeds 0..seeds-1.

        Args:
            name: "mnist1d" or "digits".
            quick: Use the tiny `QUICK` budgets.
            seeds: The number of seeds.
        """
        self.name = name
        settings = dict(SETTINGS[name])
        if quick:
            settings.update(QUICK)
        self.budget = settings["budget"]
        self.batch = settings["batch"]
        self.every = settings["every"]
        self.authors = settings["authors"] if name == "mnist1d" else None
        (self.x, self.y, self.x_val, self.y_val, self.x_test, self.y_test) = (
            load_dataset(name)
        )
        self.initial_weights = {
            seed: build_model(name, seed).get_weights() for seed in range(seeds)
        }

    @property
    def half(self):
        """B/2: half the budget, in updates."""
        return self.budget // 2

    def batches(self, updates, seed):
        """The training inputs and labels of a run, batch after batch."""
        order = batch_order(len(self.y), self.batch, updates, seed)
        return self.x[order], self.y[order]
