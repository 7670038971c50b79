"""pytest's hooks and fixtures; the shared helpers are in helpers.py."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402
from helpers import BACKEND  # noqa: E402
from helpers import seed_data  # noqa: E402


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


@pytest.fixture
def data():
    return seed_data()
