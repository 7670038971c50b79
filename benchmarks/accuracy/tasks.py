"""The benchmark's tasks: data, splits, models and budgets (PROTOCOL.md,
"Tasks").

The development tasks are where rules and settings are designed and chosen;
the confirmation tasks only confirm, and inform no choice.
"""

import dataclasses
import functools

import numpy as np

DEVELOPMENT = ("mnist1d-cnn", "digits-mlp")
CONFIRMATION = ("mnist1d-mlp", "mnist1d-gru", "teacher-mlp", "clusters-mlp")
TASKS = DEVELOPMENT + CONFIRMATION
GROUPS = {
    "development": DEVELOPMENT,
    "confirmation": CONFIRMATION,
    "all": TASKS,
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """A task's data set, model and training length.

    Attributes:
        data: The data set's loader's key in `LOADERS`.
        model: The model's builder's key in `models.MODELS`.
        budget: B, the updates of a full run.
        batch: The batch size.
        every: Updates between two evaluations (a divisor of B / 2).
    """

    data: str
    model: str
    budget: int
    batch: int
    every: int


SETTINGS = {
    "mnist1d-cnn": Settings("mnist1d", "cnn", 3000, 100, 50),
    "digits-mlp": Settings("digits", "mlp", 1500, 32, 25),
    "mnist1d-mlp": Settings("mnist1d", "mlp", 2000, 100, 50),
    "mnist1d-gru": Settings("mnist1d", "gru", 1000, 100, 50),
    "teacher-mlp": Settings("teacher", "deep_mlp", 2000, 64, 50),
    "clusters-mlp": Settings("clusters", "wide_mlp", 1500, 64, 50),
}
QUICK = {"budget": 20, "every": 10}


def select_tasks(value):
    """Task names from a group name, a task name or a list of either.

    Args:
        value: "development", "confirmation", "all", a name of `TASKS`, or a
            list of those.

    Returns:
        The task names, in `TASKS`' order, each once.
    """
    values = [value] if isinstance(value, str) else list(value)
    if not values:
        raise ValueError("`tasks` must name at least one task. Received: []")
    chosen = set()
    for item in values:
        if item in GROUPS:
            chosen.update(GROUPS[item])
        elif item in TASKS:
            chosen.add(item)
        else:
            allowed = ", ".join(repr(a) for a in tuple(GROUPS) + TASKS)
            raise ValueError(
                f"`tasks` must be one of {allowed}. Received: tasks={item!r}"
            )
    return [name for name in TASKS if name in chosen]


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


def _split(x, y, test, val):
    """Stratified test, then validation, splits (scikit-learn, seed 0)."""
    from sklearn.model_selection import train_test_split

    x, x_test, y, y_test = train_test_split(
        x, y, test_size=test, stratify=y, random_state=0
    )
    x, x_val, y, y_val = train_test_split(
        x, y, test_size=val, stratify=y, random_state=0
    )
    return x, y, x_val, y_val, x_test, y_test


def _digits():
    """scikit-learn's digits: stratified test (360) and validation (288)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    return _split(x, digits.target.astype("int32"), 360, 288)


def _teacher():
    """A random teacher network's labels for Gaussian inputs.

    6,000 inputs of 20 standard normal features; the label is the argmax of
    a fixed random tanh network's 5 logits plus Gumbel noise (so that no
    student reaches 100%). Stratified 1,000 test, 1,000 validation.
    """
    rng = np.random.default_rng(1234)
    x = rng.standard_normal((6000, 20)).astype("float32")
    w1 = rng.standard_normal((20, 32)) / np.sqrt(20)
    w2 = rng.standard_normal((32, 5)) * 3.0 / np.sqrt(32)
    logits = np.tanh(x @ w1) @ w2 + rng.gumbel(size=(6000, 5))
    y = np.argmax(logits, axis=1).astype("int32")
    return _split(x, y, 1000, 1000)


def _clusters():
    """scikit-learn's `make_classification`: 6 classes of 3 clusters each.

    5,000 samples of 30 features (12 informative, 6 redundant), 2% of the
    labels flipped; standardized. Stratified 1,000 test, 800 validation.
    """
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=5000,
        n_features=30,
        n_informative=12,
        n_redundant=6,
        n_classes=6,
        n_clusters_per_class=3,
        class_sep=1.0,
        flip_y=0.02,
        random_state=0,
    )
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    return _split(x, y.astype("int32"), 1000, 800)


LOADERS = {
    "mnist1d": _mnist1d,
    "digits": _digits,
    "teacher": _teacher,
    "clusters": _clusters,
}


@functools.cache
def load_data(name):
    """The splits of data set `name`: features float32, labels int32.

    Generated once per process (three tasks share MNIST-1D); the arrays are
    only read.

    Returns:
        (x_train, y_train, x_val, y_val, x_test, y_test).
    """
    if name not in LOADERS:
        allowed = ", ".join(repr(d) for d in LOADERS)
        raise ValueError(
            f"`name` must be one of {allowed}. Received: name={name!r}"
        )
    return LOADERS[name]()


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
    """One task: its splits, settings, model and per-seed initial weights."""

    def __init__(self, name, quick, seeds):
        """Loads task `name` and draws the weights of seeds 0..seeds-1.

        Args:
            name: A name of `TASKS`.
            quick: Use the tiny `QUICK` budgets.
            seeds: The number of seeds.
        """
        self.name = name
        self.role = "development" if name in DEVELOPMENT else "confirmation"
        settings = SETTINGS[name]
        self.model_kind = settings.model
        self.budget = QUICK["budget"] if quick else settings.budget
        self.every = QUICK["every"] if quick else settings.every
        self.batch = settings.batch
        (self.x, self.y, self.x_val, self.y_val, self.x_test, self.y_test) = (
            load_data(settings.data)
        )
        self.classes = int(max(self.y.max(), self.y_test.max())) + 1
        self.initial_weights = {
            seed: self.build_model(seed).get_weights() for seed in range(seeds)
        }

    def build_model(self, seed=None):
        """The task's model, its weights drawn from `seed`."""
        from benchmarks.accuracy.models import build_model

        return build_model(
            self.model_kind, self.x.shape[1:], self.classes, seed
        )

    @property
    def half(self):
        """B/2: half the budget, in updates."""
        return self.budget // 2

    def batches(self, updates, seed):
        """The training inputs and labels of a run, batch after batch."""
        order = batch_order(len(self.y), self.batch, updates, seed)
        return self.x[order], self.y[order]
