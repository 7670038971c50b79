"""The rate of each step of the range test, and how the optimizer reads it.

The rates, for `i = 0 ... steps - 1`:

- `sweep="linear"` (the paper): `min_lr + (max_lr - min_lr) * i / (steps - 1)`
- `sweep="exponential"`: `min_lr * (max_lr / min_lr) ** (i / (steps - 1))`
"""

import keras
import numpy as np
from keras import ops

SWEEPS = ("linear", "exponential")


def sweep_rates(min_lr, max_lr, steps, sweep):
    """The float64 rate of each of the `steps` steps, `min_lr` to `max_lr`.

    Examples:
        >>> sweep_rates(0.0, 1.0, 5, "linear")
        array([0.  , 0.25, 0.5 , 0.75, 1.  ])
        >>> sweep_rates(1e-3, 1.0, 4, "exponential")
        array([0.001, 0.01 , 0.1  , 1.   ])
    """
    fraction = np.arange(steps, dtype=np.float64) / (steps - 1)
    if sweep == "linear":
        return min_lr + (max_lr - min_lr) * fraction
    return min_lr * (max_lr / min_lr) ** fraction


def applied_rates(rates):
    """The rates as the optimizer applies them (in `floatx`), as float64."""
    return np.asarray(rates, dtype=keras.backend.floatx()).astype(np.float64)


def rate_table(rates):
    """A variable holding `rates` and a last 0, the rate of the extra step.

    The extra step after the sweep only measures the last loss.
    """
    return keras.Variable(
        np.append(rates, 0.0),
        name="range_test_rates",
        dtype=keras.backend.floatx(),
        trainable=False,
    )


def swept_rate(optimizer, table):
    """A function that returns the rate of the optimizer's current step.

    The rate is a schedule of the optimizer's own `iterations`, which every
    backend's trainer carries (JAX's compiled step reads any other variable
    as a constant): counted from the `iterations` at this call, step `i`
    reads `table[i]`, and every step after the table its last entry.
    """
    first_iteration = int(ops.convert_to_numpy(optimizer.iterations))
    last = int(table.shape[0]) - 1

    def rate():
        iterations = optimizer.iterations
        index = ops.clip(
            iterations - ops.cast(first_iteration, iterations.dtype), 0, last
        )
        return ops.take(table, index)

    return rate
