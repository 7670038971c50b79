"""The range test's batch source: endless batches `(x, y, sample_weight)`.

Array data (NumPy arrays or tensors, or nested lists and dicts of them) is
cut into batches of `batch_size`, reshuffled at every pass; a dataset (a
`tf.data.Dataset` or any iterable of batches) is iterated as it comes and
restarted when exhausted.
"""

import keras
import numpy as np
from keras import ops

from clr_optimizers._validation import check_count
from clr_optimizers._validation import check_unset_for_batches

DEFAULT_BATCH_SIZE = 32


def batch_source(x, y, sample_weight, batch_size, shuffle, seed):
    """An endless iterator of the batches `(x, y, sample_weight)` of `x`.

    For array data, `batch_size` defaults to `DEFAULT_BATCH_SIZE`; for a
    dataset, `y`, `sample_weight` and `batch_size` must be None.
    """
    if is_array_data(x):
        if batch_size is None:
            batch_size = DEFAULT_BATCH_SIZE
        batch_size = check_count(batch_size, "batch_size", 1)
        return array_batches(x, y, sample_weight, batch_size, shuffle, seed)
    check_unset_for_batches(
        y=y, sample_weight=sample_weight, batch_size=batch_size
    )
    return dataset_batches(x)


def is_array_data(x):
    """Whether every leaf of `x` is an array with a batch dimension."""
    leaves = keras.tree.flatten(x)
    return bool(leaves) and all(
        hasattr(leaf, "shape") and len(leaf.shape) >= 1 for leaf in leaves
    )


def _to_numpy(data):
    return keras.tree.map_structure(
        lambda a: None if a is None else np.asarray(ops.convert_to_numpy(a)),
        data,
    )


def _sample_count(data):
    leaves = [a for a in keras.tree.flatten(data) if a is not None]
    sizes = {int(a.shape[0]) if a.ndim else 0 for a in leaves}
    if len(sizes) != 1:
        raise ValueError(
            "`x`, `y` and `sample_weight` must have the same number of "
            f"samples. Received: sizes {sorted(sizes)}"
        )
    (size,) = sizes
    if size == 0:
        raise ValueError("`x` must hold at least one sample. Received: 0")
    return size


def array_batches(x, y, sample_weight, batch_size, shuffle, seed):
    """Endless batches of arrays, reshuffled at every pass."""
    data = _to_numpy((x, y, sample_weight))
    size = _sample_count(data)
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(size) if shuffle else np.arange(size)
        for start in range(0, size, batch_size):
            yield _take(data, order[start : start + batch_size])


def _take(data, index):
    """The samples `index` of every array of `data`."""
    return keras.tree.map_structure(
        lambda a: None if a is None else a[index], data
    )


def native(batch):
    """A batch for this backend: JAX and PyTorch take NumPy arrays where a
    `tf.data.Dataset` yields TensorFlow tensors."""
    if keras.backend.backend() == "tensorflow":
        return batch
    return keras.tree.map_structure(
        lambda t: t if t is None else np.asarray(t), batch
    )


def dataset_batches(dataset):
    """Batches of an iterable, restarted when exhausted if it can be."""
    while True:
        iterator = iter(dataset)
        empty = True
        for element in iterator:
            empty = False
            if isinstance(element, tuple):
                yield native(keras.utils.unpack_x_y_sample_weight(element))
            else:
                yield native((element, None, None))
        if empty or iterator is dataset:
            raise ValueError(
                "The data ran out before the range test finished: pass more "
                "data (or a `tf.data.Dataset`, which restarts) or fewer "
                f"`steps`. Received: x={dataset!r}"
            )
