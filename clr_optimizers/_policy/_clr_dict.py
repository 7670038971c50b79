"""The policy that a validated `clr` dict describes, at one position.

The optimizers read their variables once per update and hand the values to
these functions, with the operations namespace `xp` of the update
(`TensorOps` in the graph, `HostOps` on the host).
"""

from clr_optimizers._policy._cyclical import cycle_fraction
from clr_optimizers._policy._one_cycle import one_cycle_value
from clr_optimizers._policy._warmup import linear_warmup


def cyclical_schedule(
    xp,
    position,
    base,
    max_lr,
    step_size,
    step_size_down,
    config,
    warmup_steps=None,
):
    """A cyclical policy's rate and momentum, and whether its step sizes are
    valid (>= 1, a warm-up >= 0).

    With a warm-up of `b` updates, update `n < b` applies
    `warmup_start_lr + (base - warmup_start_lr) * n / b` (and the momentum of
    the cycle's bottom, `max_momentum`), and update `n >= b` the cycle's
    value at position `n - b`.

    Args:
        xp: The operations namespace.
        position: The integer position in the cycle (`clr_iterations`).
        base: The bottom of the cycle (the base rate after decay).
        max_lr: The peak.
        step_size: The rising half of the cycle, in updates.
        step_size_down: The falling half, or None for a symmetric cycle.
        config: The normalized `clr` dict (`_validation.validate_clr`).
        warmup_steps: The warm-up's length in updates, or None for none.

    Returns:
        `(rate, momentum, steps_valid)`; `momentum` is None without the
        momentum keys. A bad step size is taken as 1 for the arithmetic, so
        that it never divides by zero; `steps_valid` reports it.
    """
    steps_valid = xp.greater(step_size, 0)
    if warmup_steps is not None:
        steps_valid = xp.logical_and(
            steps_valid, xp.greater_equal(warmup_steps, 0)
        )
        warming_up, warmup_rate = linear_warmup(
            xp, position, base, warmup_steps, config["warmup_start_lr"]
        )
        # Clamped at 0: the cycle's bottom during the warm-up.
        position = xp.maximum(position - warmup_steps, 0)
    if step_size_down is not None:
        steps_valid = xp.logical_and(steps_valid, xp.greater(step_size_down, 0))
        step_size_down = xp.maximum(step_size_down, 1)
    height, depth = cycle_fraction(
        position,
        xp.maximum(step_size, 1),
        mode=config["mode"],
        gamma=config["clr_gamma"],
        step_size_down=step_size_down,
        scale_fn=config["scale_fn"],
        scale_mode=config["scale_mode"],
        xp=xp,
    )
    rate = xp.to_float(base) * depth + xp.to_float(max_lr) * height
    momentum = None
    if config["base_momentum"] is not None:
        momentum = (
            config["max_momentum"] * depth + config["base_momentum"] * height
        )
    if warmup_steps is not None:
        rate = xp.where(warming_up, warmup_rate, rate)
    return rate, momentum, steps_valid


def one_cycle_schedule(xp, position, base, max_lr, config, total_steps=None):
    """1cycle's rate and momentum (None without the momentum keys).

    The rate goes from `base` up to `max_lr` and down to
    `base / final_div_factor`; the momentum the other way, from
    `max_momentum` down to `base_momentum` and back. `total_steps` is the
    length read from its variable when the config's is planned by a fit
    (None: the config's int).
    """
    if total_steps is None:
        total_steps = config["total_steps"]
    schedule = dict(
        total_steps=total_steps,
        pct_start=config["pct_start"],
        anneal=config["anneal"],
        three_phase=config["three_phase"],
        xp=xp,
    )
    final = base / config["final_div_factor"]
    middle = (max_lr, base) if config["three_phase"] else (max_lr,)
    rate = one_cycle_value(position, (base, *middle, final), **schedule)
    momentum = None
    low, high = config["base_momentum"], config["max_momentum"]
    if low is not None:
        middle = (low, high) if config["three_phase"] else (low,)
        momentum = one_cycle_value(position, (high, *middle, high), **schedule)
    return rate, momentum


def schedule_is_valid(xp, base, max_lr, rate, momentum, steps_valid, config):
    """The run-time guard: whether an update may apply the cycle's values.

    The settings are checked, and the rate they give too (a custom scale_fn
    or a negative clr_iterations can make it bad by itself): all finite and
    >= 0, the lengths valid (`steps_valid`, None when none is a variable),
    and a custom scale_fn's momentum in [0, 1).
    """
    valid = xp.all_finite_nonnegative(base, max_lr, rate)
    if steps_valid is not None:
        valid = xp.logical_and(steps_valid, valid)
    if momentum is not None and config["scale_fn"] is not None:
        valid = xp.logical_and(
            valid,
            xp.logical_and(
                xp.greater_equal(momentum, 0.0), xp.less(momentum, 1.0)
            ),
        )
    return valid
