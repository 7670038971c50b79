"""The rate and momentum each update of a schedule applies, for the plots.

A `clr_optimizers.SGD` is built with the schedule's settings (its lengths in
epochs, or 1cycle's `"auto"`, planned as a fit would plan them) and its own
schedule is evaluated at each update by `AppliedSchedule`, the mechanism of
the logging callbacks: the values drawn are those an optimizer stepped with
these settings applies, in float64 (the optimizer stores them in its float
type, `current_lr` and `current_momentum`).
"""

import numpy as np
from keras import ops

from clr_optimizers._optimizer._applied import AppliedSchedule
from clr_optimizers._optimizers import SGD
from clr_optimizers._validation import FIT_LENGTH_KEYS
from clr_optimizers._validation import ONE_CYCLE


def schedule_optimizer(
    learning_rate, clr, decay, iterations, updates_per_epoch
):
    """A `clr_optimizers.SGD` with the schedule, its lengths planned.

    `SGD` cycles its `momentum` with the momentum keys. A length in epochs
    is planned from `updates_per_epoch`, 1cycle's `"auto"` spans
    `iterations` updates (`plan_schedule`).
    """
    optimizer = SGD(learning_rate=learning_rate, clr=clr, decay=decay)
    optimizer.plan_schedule(iterations, updates_per_epoch)
    return optimizer


def planned_lengths(optimizer):
    """The schedule's lengths in updates, as planned: a dict of ints (None
    for those it has not)."""
    config = optimizer._clr_config
    lengths = {}
    for key in FIT_LENGTH_KEYS:
        variable = optimizer._length_variable(key)
        if variable is not None:
            lengths[key] = int(ops.convert_to_numpy(variable))
        else:
            lengths[key] = config[key]
    return lengths


def default_iterations(optimizer):
    """1cycle's length, or the warm-up and three cycles."""
    lengths = planned_lengths(optimizer)
    if optimizer._clr_config["mode"] == ONE_CYCLE:
        return lengths["total_steps"]
    up = lengths["step_size"]
    down = lengths["step_size_down"] or up
    return (lengths["warmup_steps"] or 0) + 3 * (up + down)


def applied_values(optimizer, iterations):
    """The rate and momentum of updates `0, ..., iterations - 1`.

    Args:
        optimizer: An optimizer of clr_optimizers, not yet stepped.
        iterations: The number of updates.

    Returns:
        `(rates, momenta)`: float64 NumPy arrays (`momenta` None without a
        cycled momentum term); element `n` is the value update `n` applies.

    Examples:
        >>> import clr_optimizers as co
        >>> opt = co.SGD(
        ...     learning_rate=0.001,
        ...     clr={"mode": "triangular", "step_size": 2, "max_lr": 0.006},
        ... )
        >>> rates, momenta = applied_values(opt, 5)
        >>> [round(float(rate), 6) for rate in rates], momenta  # one cycle
        ([0.001, 0.0035, 0.006, 0.0035, 0.001], None)
    """
    schedule = AppliedSchedule(optimizer)
    position, update = schedule.read_counts()
    rates = np.empty(iterations, dtype=np.float64)
    momenta = None
    if schedule.momentum_name is not None:
        momenta = np.empty(iterations, dtype=np.float64)
    for n in range(iterations):
        rate, momentum = schedule.values(position + n, update + n)
        rates[n] = rate
        if momenta is not None:
            momenta[n] = momentum
    return rates, momenta
