"""Saving and restoring every variable a training step can change.

`lr_range_test` and `find_max_lr` train the model for a while, then put it
back: `snapshot` copies the values of the model's variables (weights,
non-trainable state, random seeds), its optimizer's (iterations, slots,
learning rate) and its metrics', and `restore` assigns them back.
"""

import numpy as np
from keras import ops


def snapshot(model):
    """Every variable of the model, its optimizer and its metrics, as
    `(variable, NumPy copy)` pairs."""
    variables = (
        list(model.variables)
        + list(model.optimizer.variables)
        + list(model.metrics_variables)
    )
    return [(v, np.array(ops.convert_to_numpy(v))) for v in variables]


def restore(saved):
    """Assigns every variable of a `snapshot` its saved value."""
    for variable, value in saved:
        variable.assign(value)
