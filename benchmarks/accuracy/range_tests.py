"""The range tests of a seed, and the median of their suggestions
(PROTOCOL.md, "Range test")."""

import math
import time
import warnings

import numpy as np

import clr_optimizers as co
from benchmarks.accuracy.arms import usable
from benchmarks.accuracy.training import plain_optimizer
from benchmarks.accuracy.training import training_loss

RANGE = {"min_lr": 1e-5, "max_lr": 10.0, "steps": 240}
QUICK_STEPS = 20
SWEEPS = 3
QUICK_SWEEPS = 1


def sweeps(quick):
    """The number of range tests per seed."""
    return QUICK_SWEEPS if quick else SWEEPS


def sweep_seed(seed, sweep):
    """The data-order seed of sweep `sweep` of seed `seed`."""
    return 1000 * (seed + 1) + sweep


def one_sweep(task, optimizer, seed, sweep, quick):
    """One range test from the seed's weights, in sweep `sweep`'s order.

    The optimizer's plain Keras class (`training.plain_optimizer`) and the
    task's training loss; the accuracy too on a classification.

    Returns:
        A dict: "suggestions" (rule: [base_lr, max_lr]), "min_loss_lr",
        "diverged", "steps" (those run) and "wall_s".
    """
    model = task.build_model()
    model.set_weights(task.initial_weights[seed])
    model.compile(
        optimizer=plain_optimizer(optimizer),
        loss=training_loss(task.metric),
        metrics=[] if task.regression else ["accuracy"],
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = co.lr_range_test(
            model,
            task.x,
            task.y,
            min_lr=RANGE["min_lr"],
            max_lr=RANGE["max_lr"],
            steps=QUICK_STEPS if quick else RANGE["steps"],
            batch_size=task.batch,
            sweep="exponential",
            seed=sweep_seed(seed, sweep),
            verbose=0,
            validation_data=(task.x_val, task.y_val),
        )
    return {
        "suggestions": {
            rule: [float(base), float(top)]
            for rule, (base, top) in result.suggestions.items()
        },
        "min_loss_lr": result.min_loss_lr,
        "diverged": result.diverged,
        "steps": len(result.losses),
        "wall_s": time.perf_counter() - start,
    }


def median_pair(pairs):
    """The median base_lr and median max_lr of the usable pairs.

    NaNs when no pair is usable (see `arms.usable`).

    Examples:
        >>> median_pair([[1.0, 4.0], [2.0, 8.0], [float("nan")] * 2, [3, 2]])
        (2.0, 4.0)
    """
    good = [p for p in pairs if usable(*p)]
    if not good:
        return math.nan, math.nan
    bases, tops = zip(*good)
    return float(np.median(bases)), float(np.median(tops))


def combined(sweeps, count=SWEEPS):
    """Each rule's median pair over the first `count` sweeps."""
    used = sweeps[:count]
    return {
        rule: median_pair([s["suggestions"][rule] for s in used])
        for rule in used[0]["suggestions"]
    }
