"""The benchmark's tasks: data, splits, models, budgets and metrics
(PROTOCOL.md, "Tasks").

The development tasks are where rules and settings are designed and chosen;
the confirmation tasks only confirm, and inform no choice.
"""

import dataclasses
import functools

import numpy as np

DEVELOPMENT = (
    "mnist1d-cnn",
    "digits-mlp",
    "mnist1d-mlp",
    "mnist1d-gru",
    "teacher-mlp",
    "clusters-mlp",
)
CONFIRMATION = ("friedman-mlp", "fair-mlp", "shapes-cnn", "hastie-bn")
TASKS = DEVELOPMENT + CONFIRMATION
GROUPS = {
    "development": DEVELOPMENT,
    "confirmation": CONFIRMATION,
    "all": TASKS,
}
# Each task's score, higher is better: "accuracy" (classification, trained
# with cross-entropy on logits) or "r2" (regression, trained with the mean
# squared error). The names the tables give them:
METRICS = {"accuracy": "accuracy", "r2": "R²"}


@dataclasses.dataclass(frozen=True)
class Settings:
    """A task's data set, model, training length and metric.

    Attributes:
        data: The data set's loader's key in `LOADERS`.
        model: The model's builder's key in `models.MODELS`.
        budget: B, the updates of a full run.
        batch: The batch size.
        every: Updates between two evaluations (a divisor of B / 2).
        metric: A key of `METRICS`: "accuracy" or "r2".
    """

    data: str
    model: str
    budget: int
    batch: int
    every: int
    metric: str = "accuracy"


SETTINGS = {
    "mnist1d-cnn": Settings("mnist1d", "cnn", 3000, 100, 50),
    "digits-mlp": Settings("digits", "mlp", 1500, 32, 25),
    "mnist1d-mlp": Settings("mnist1d", "mlp", 2000, 100, 50),
    "mnist1d-gru": Settings("mnist1d", "gru", 1000, 100, 50),
    "teacher-mlp": Settings("teacher", "deep_mlp", 2000, 64, 50),
    "clusters-mlp": Settings("clusters", "wide_mlp", 1500, 64, 50),
    "friedman-mlp": Settings("friedman", "narrow_mlp", 1500, 64, 50, "r2"),
    "fair-mlp": Settings("fair", "narrow_mlp", 1000, 64, 50),
    "shapes-cnn": Settings("shapes", "cnn2d", 600, 64, 50),
    "hastie-bn": Settings("hastie", "bn_mlp", 1500, 64, 50),
}
# `--quick`: tiny budgets, and validation and test splits cut to their
# first `held_out` samples (a smoke test's numbers mean nothing).
QUICK = {"budget": 20, "every": 10, "held_out": 200}


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


def _split(x, y, test, val, stratify=True):
    """Test, then validation, splits (scikit-learn, seed 0).

    Stratified by the labels, or, with `stratify=False`, random (for
    regression targets).
    """
    from sklearn.model_selection import train_test_split

    x, x_test, y, y_test = train_test_split(
        x, y, test_size=test, stratify=y if stratify else None, random_state=0
    )
    x, x_val, y, y_val = train_test_split(
        x, y, test_size=val, stratify=y if stratify else None, random_state=0
    )
    return x, y, x_val, y_val, x_test, y_test


def _standardized(values, reference):
    """`values` less `reference`'s mean, over its std (per column)."""
    mean = reference.mean(axis=0)
    std = reference.std(axis=0)
    return ((values - mean) / std).astype("float32")


def _standardize_features(splits):
    """The splits with the features standardized by the training split's."""
    x, y, x_val, y_val, x_test, y_test = splits
    return (
        _standardized(x, x),
        y,
        _standardized(x_val, x),
        y_val,
        _standardized(x_test, x),
        y_test,
    )


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


def _friedman():
    """scikit-learn's `make_friedman1` regression, standardized.

    5,000 samples of 10 features (5 of them used by the target), noise 1;
    random (not stratified) 1,000 test, 800 validation. The features and the
    target are standardized with the training split's mean and std.
    """
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(
        n_samples=5000, n_features=10, noise=1.0, random_state=0
    )
    x, y, x_val, y_val, x_test, y_test = _standardize_features(
        _split(x, y, 1000, 800, stratify=False)
    )
    return (
        x,
        _standardized(y, y),
        x_val,
        _standardized(y_val, y),
        x_test,
        _standardized(y_test, y),
    )


FAIR_FEATURES = (
    "rate_marriage",
    "age",
    "yrs_married",
    "children",
    "religious",
    "educ",
    "occupation",
    "occupation_husb",
)


def _fair():
    """statsmodels' `fair` data: which of 6,366 women had an affair.

    The 1974 Redbook survey, shipped with statsmodels (no download): the 8
    `FAIR_FEATURES`, standardized with the training split's mean and std;
    the label is `affairs > 0`. Stratified 1,000 test, 800 validation.
    """
    from statsmodels.datasets import fair

    data = fair.load_pandas().data
    x = data[list(FAIR_FEATURES)].to_numpy(dtype="float64")
    y = (data["affairs"].to_numpy() > 0).astype("int32")
    return _standardize_features(_split(x, y, 1000, 800))


SHAPES = ("disk", "square", "triangle", "plus", "ring")
SHAPES_SIZE = 16


def _shape_mask(shape, rows, cols, centre, radius, width):
    """The pixels of one shape (a boolean image).

    Args:
        shape: A name of `SHAPES`.
        rows: The pixels' row indices, an image.
        cols: The pixels' column indices, an image.
        centre: (row, column) of the centre.
        radius: The disk's radius, the square's half side, the triangle's
            half height and half base, the plus sign's arm length and the
            ring's outer radius.
        width: The line width of the plus sign and the ring.
    """
    dy = rows - centre[0]
    dx = cols - centre[1]
    if shape == "disk":
        return np.hypot(dx, dy) <= radius
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) <= radius
    if shape == "triangle":
        # Apex `radius` above the centre, base `radius` below it.
        down = dy + radius
        return (dy <= radius) & (np.abs(dx) <= down / 2)
    if shape == "plus":
        half = width / 2
        vertical = (np.abs(dx) <= half) & (np.abs(dy) <= radius)
        horizontal = (np.abs(dy) <= half) & (np.abs(dx) <= radius)
        return vertical | horizontal
    distance = np.hypot(dx, dy)
    return (distance <= radius) & (distance >= radius - width)


def _shapes():
    """Generated 16x16 grayscale images of 5 shapes, with pixel noise.

    6,000 images, 1,200 per shape of `SHAPES` (filled disk, filled square,
    filled upward triangle, plus sign and ring, the last two of line width
    1 to 2 px), each at a random centre with a radius of 3 to 6 px (kept
    inside the image) and an intensity uniform in [0.5, 1], plus Gaussian
    noise of std 0.5 on every pixel; NumPy's `default_rng(2024)`.
    Stratified 1,000 test, 800 validation.
    """
    rng = np.random.default_rng(2024)
    count = 6000
    size = SHAPES_SIZE
    labels = rng.permutation(np.arange(count) % len(SHAPES)).astype("int32")
    rows, cols = np.mgrid[0:size, 0:size].astype("float64")
    images = np.zeros((count, size, size), dtype="float64")
    for index, label in enumerate(labels):
        radius = rng.uniform(3.0, 6.0)
        centre = rng.uniform(radius, size - 1 - radius, size=2)
        intensity = rng.uniform(0.5, 1.0)
        width = rng.uniform(1.0, 2.0)
        mask = _shape_mask(SHAPES[label], rows, cols, centre, radius, width)
        images[index] = intensity * mask
    images += rng.normal(0.0, 0.5, size=images.shape)
    x = images.astype("float32")[..., None]
    return _split(x, labels, 1000, 800)


def _hastie():
    """scikit-learn's `make_hastie_10_2`: 10 Gaussian features, 2 classes.

    6,000 samples; the labels -1 and 1 become 0 and 1. Stratified 1,000
    test, 800 validation.
    """
    from sklearn.datasets import make_hastie_10_2

    x, y = make_hastie_10_2(n_samples=6000, random_state=0)
    return _split(x.astype("float32"), (y > 0).astype("int32"), 1000, 800)


LOADERS = {
    "mnist1d": _mnist1d,
    "digits": _digits,
    "teacher": _teacher,
    "clusters": _clusters,
    "friedman": _friedman,
    "fair": _fair,
    "shapes": _shapes,
    "hastie": _hastie,
}


@functools.cache
def load_data(name):
    """The splits of data set `name`: features float32, labels int32.

    Regression targets are float32. Generated once per process (three tasks
    share MNIST-1D); the arrays are only read.

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
    """One task: its splits, settings, model and per-seed initial weights.

    Attributes:
        metric: The task's score, a key of `METRICS`.
        outputs: The model's outputs: the number of classes, or 1.
    """

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
        self.metric = settings.metric
        self.budget = QUICK["budget"] if quick else settings.budget
        self.every = QUICK["every"] if quick else settings.every
        self.batch = settings.batch
        (self.x, self.y, self.x_val, self.y_val, self.x_test, self.y_test) = (
            load_data(settings.data)
        )
        if self.regression:
            self.outputs = 1
        else:
            self.outputs = int(max(self.y.max(), self.y_test.max())) + 1
        if quick:
            cut = slice(0, QUICK["held_out"])
            self.x_val, self.y_val = self.x_val[cut], self.y_val[cut]
            self.x_test, self.y_test = self.x_test[cut], self.y_test[cut]
        self.initial_weights = {
            seed: self.build_model(seed).get_weights() for seed in range(seeds)
        }

    def build_model(self, seed=None):
        """The task's model, its weights drawn from `seed`."""
        from benchmarks.accuracy.models import build_model

        return build_model(
            self.model_kind, self.x.shape[1:], self.outputs, seed
        )

    @property
    def regression(self):
        """Whether the task is a regression (scored by R²)."""
        return self.metric == "r2"

    @property
    def metric_name(self):
        """The metric as the tables name it: "accuracy" or "R²"."""
        return METRICS[self.metric]

    @property
    def half(self):
        """B/2: half the budget, in updates."""
        return self.budget // 2

    def batches(self, updates, seed):
        """The training inputs and labels of a run, batch after batch."""
        order = batch_order(len(self.y), self.batch, updates, seed)
        return self.x[order], self.y[order]
