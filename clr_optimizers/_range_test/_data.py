"""The range test's batch source: endless batches `(x, y, sample_weight)`.

Array data (NumPy arrays or tensors, or nested lists and dicts of them) is
cut into batches of `batch_size`, reshuffled at every pass; a dataset (a
`tf.data.Dataset` or any iterable of batches) is iterated as it comes and
restarted when exhausted. The shuffling's seed is `seed`, or, when it is
None, a draw from NumPy's global generator, which
`keras.utils.set_random_seed` seeds (`shuffle_seed`).

`validation_batches` takes the first batches of a validation dataset, once:
every step of the test evaluates the same ones.
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


def shuffle_seed(seed):
    """`seed`, or with None a seed drawn from NumPy's global generator.

    `keras.utils.set_random_seed(s)` seeds NumPy's global generator (with
    Python's, the backend's and Keras's): after it, a test with `seed=None`
    shuffles the same way every time.
    """
    if seed is None:
        return int(np.random.randint(0, 2**31 - 1))
    return seed


def array_batches(x, y, sample_weight, batch_size, shuffle, seed):
    """Endless batches of arrays, reshuffled at every pass.

    The data are checked and the seed drawn (`shuffle_seed`) at the call,
    not at the first batch.
    """
    data = _to_numpy((x, y, sample_weight))
    size = _sample_count(data)
    rng = np.random.default_rng(shuffle_seed(seed)) if shuffle else None

    def batches():
        while True:
            order = np.arange(size) if rng is None else rng.permutation(size)
            for start in range(0, size, batch_size):
                yield _take(data, order[start : start + batch_size])

    return batches()


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


def _unpacked(element):
    """A dataset's element as `(x, y, sample_weight)` for this backend."""
    if isinstance(element, tuple):
        return native(keras.utils.unpack_x_y_sample_weight(element))
    return native((element, None, None))


def dataset_batches(dataset):
    """Batches of an iterable, restarted when exhausted if it can be."""
    while True:
        iterator = iter(dataset)
        empty = True
        for element in iterator:
            empty = False
            yield _unpacked(element)
        if empty or iterator is dataset:
            raise ValueError(
                "The data ran out before the range test finished: pass more "
                "data (or a `tf.data.Dataset`, which restarts) or fewer "
                f"`steps`. Received: x={dataset!r}"
            )


def validation_batches(dataset, steps):
    """The first `steps` batches of `dataset` (all of them for None).

    Taken once, as `(x, y, sample_weight)` for this backend, so that every
    step of the range test evaluates the same batches (a shuffling
    `tf.data.Dataset` or a one-shot iterator would give others).

    Examples:
        >>> import numpy as np
        >>> data = [(np.zeros((4, 2)), np.ones((4, 1)))] * 3
        >>> len(validation_batches(iter(data), 2))
        2
    """
    taken = []
    for element in dataset:
        taken.append(_unpacked(element))
        if len(taken) == steps:
            break
    if not taken or (steps is not None and len(taken) < steps):
        raise ValueError(
            f"`validation_data` holds {len(taken)} batches: "
            + (
                "`validation_steps` must be at most as many."
                if taken
                else "it must hold at least one."
            )
            + f" Received: validation_steps={steps!r}"
        )
    return taken
