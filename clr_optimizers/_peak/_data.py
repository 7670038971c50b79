"""`find_max_lr`'s data: the training and validation sets, as `fit` takes
them, and the number of batches of an epoch."""

import math

import keras
import numpy as np
from keras import ops

from clr_optimizers._range_test._data import DEFAULT_BATCH_SIZE
from clr_optimizers._range_test._data import is_array_data
from clr_optimizers._range_test._data import validation_batches
from clr_optimizers._validation import VALIDATION_DATASET
from clr_optimizers._validation import check_validation_input


def _to_numpy(data):
    return keras.tree.map_structure(
        lambda a: None if a is None else np.asarray(ops.convert_to_numpy(a)),
        data,
    )


def split_validation(x, y, sample_weight, validation_split):
    """`fit`'s `validation_split`: the last samples of array data.

    Returns:
        `((x, y, sample_weight), (x_val, y_val, sample_weight_val))`: the
        first `floor(n * (1 - validation_split))` samples train, the rest
        validate, before any shuffling, as `fit` splits them.
    """
    if not is_array_data(x):
        raise ValueError(
            "`validation_split` is only supported for array data (NumPy "
            "arrays or tensors), as in `fit`: pass `validation_data` with a "
            f"dataset. Received: x={x!r}, "
            f"validation_split={validation_split!r}"
        )
    data = _to_numpy((x, y, sample_weight))
    leaves = [a for a in keras.tree.flatten(data) if a is not None]
    size = int(leaves[0].shape[0])
    cut = int(math.floor(size * (1.0 - validation_split)))
    if cut < 1 or cut >= size:
        raise ValueError(
            f"`validation_split` leaves no sample to "
            f"{'train' if cut < 1 else 'validate'} on: {size} samples. "
            f"Received: validation_split={validation_split!r}"
        )

    def part(index):
        return keras.tree.map_structure(
            lambda a: None if a is None else a[index], data
        )

    return part(slice(0, cut)), part(slice(cut, None))


class Validation:
    """Scores the model on the validation data, as `fit`'s `val_` logs.

    Args:
        model: The compiled model.
        data: A batch `(x_val, y_val)` or `(x_val, y_val, sample_weight)`
            of arrays, evaluated in batches of `batch_size`, or a dataset
            of such batches, whose first `steps` batches (all for None) are
            taken once, so that every trial is scored on the same ones.
        batch_size: The batch size for array data.
        steps: The batches of a dataset to evaluate, or None.
    """

    def __init__(self, model, data, batch_size, steps):
        self.model = model
        self.kind = check_validation_input(data)
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        if self.kind == VALIDATION_DATASET:
            self.data = validation_batches(data, steps)
        else:
            self.data = tuple(data) + (None,) * (3 - len(data))

    def __call__(self):
        """The validation logs: `{"val_loss": ..., "val_<metric>": ...}`."""
        if self.kind == VALIDATION_DATASET:
            logs = self.model.evaluate(
                _replay(self.data),
                steps=len(self.data),
                verbose=0,
                return_dict=True,
            )
        else:
            x, y, sample_weight = self.data
            logs = self.model.evaluate(
                x,
                y,
                sample_weight=sample_weight,
                batch_size=self.batch_size,
                verbose=0,
                return_dict=True,
            )
        return {f"val_{key}": float(value) for key, value in logs.items()}


def _replay(batches):
    for batch in batches:
        batch = tuple(batch)
        while len(batch) > 1 and batch[-1] is None:
            batch = batch[:-1]
        yield batch


def batches_per_epoch(x, y, batch_size, steps_per_epoch):
    """The batches of one epoch of `fit(x, y, ...)`.

    `steps_per_epoch` when given; otherwise, for array data,
    `ceil(samples / batch_size)`; for a dataset, its length (a finite
    `tf.data.Dataset`'s cardinality, a `keras.utils.PyDataset`'s
    `num_batches`, or `len()`).

    Raises:
        ValueError: If the length is unknown and `steps_per_epoch` is None.
    """
    if steps_per_epoch is not None:
        return steps_per_epoch
    if is_array_data(x):
        leaves = [a for a in keras.tree.flatten(x) if a is not None]
        size = int(leaves[0].shape[0])
        return -(-size // (batch_size or DEFAULT_BATCH_SIZE))
    length = _dataset_length(x)
    if length is None:
        raise ValueError(
            "`find_max_lr` sizes its search from the run's updates, but "
            "the length of `x` is unknown: pass `steps_per_epoch` (the "
            f"batches of one epoch, as to `fit`). Received: x={x!r}, "
            "steps_per_epoch=None"
        )
    return length


def _dataset_length(dataset):
    """The batches of a dataset, or None when unknown or endless."""
    cardinality = getattr(dataset, "cardinality", None)
    if cardinality is not None and hasattr(dataset, "element_spec"):
        count = int(cardinality())
        return count if count > 0 else None
    if isinstance(dataset, keras.utils.PyDataset):
        try:
            count = dataset.num_batches
        except NotImplementedError:
            return None
        return int(count) if count else None
    try:
        count = len(dataset)
    except TypeError:
        return None
    return int(count) if count > 0 else None
