"""The benchmark's arms: how each trains, with which rates and what tuning
chose them (PROTOCOL.md, "Optimizers" and "Arms")."""

import math

OPTIMIZERS = ("sgd", "adam")
TUNING_SEEDS = 2
ONE_CYCLE_DIV = 25.0
# Keras's default learning rates.
DEFAULT_RATES = {"sgd": 0.01, "adam": 0.001}
# Half-decade grids, shared by the fixed rate and the cosine peak.
GRIDS = {
    "sgd": tuple(10.0 ** (k / 2) for k in range(-5, 1)),
    "adam": tuple(10.0 ** (k / 2) for k in range(-7, -1)),
}
# keras.optimizers.ScheduleFreeAdamW's default learning rate.
SCHEDULE_FREE_RATE = 0.0025
# The AlgoPerf settings of ScheduleFreeAdamW, besides its rate; the warm-up
# is this share of the run's updates, rounded.
ALGOPERF = {"beta_2": 0.9955, "weight_decay": 0.08}
ALGOPERF_WARMUP = 0.02


def usable(base, top):
    """Whether a suggested (base_lr, max_lr) pair can be trained with."""
    return math.isfinite(base) and math.isfinite(top) and top > 0 and base > 0


def grid(optimizer, quick):
    """The rates tried for `optimizer` (only the 4th with `quick`)."""
    rates = GRIDS[optimizer]
    return rates[3:4] if quick else rates


def algoperf_warmup(updates):
    """The AlgoPerf warm-up of a run of `updates`: 2% of it, rounded."""
    return round(ALGOPERF_WARMUP * updates)


class Arm:
    """A named way to train: its trainer kind, its rates and their tuning.

    `results` below is the run's record (`run.Results`): the grids' scores,
    the range tests' suggestions and the `find_max_lr` choices. `kind` is
    the trainer's (`training.make_optimizer`); `tuning` is what chose the
    arm's rates: "none", "grid", "range test" or "find_max_lr";
    `optimizers`: the optimizers the arm runs with.
    """

    kind = "fixed"
    tuning = "grid"
    optimizers = OPTIMIZERS

    def __init__(self, name):
        """An arm called `name` in the runs and tables."""
        self.name = name

    def __repr__(self):
        """The arm's class and name."""
        return f"{type(self).__name__}({self.name!r})"

    def runs_with(self, optimizer):
        """Whether the arm has runs with `optimizer` ("sgd" or "adam")."""
        return optimizer in self.optimizers

    def updates(self, task):
        """The run's length: the budget B."""
        return task.budget

    def peak(self, results, job):
        """The cosine schedule's peak (None for other kinds)."""
        return None

    def rates(self, results, job):
        """The run's rates, or None when there are none to train with."""
        raise NotImplementedError

    def reused(self, results, job):
        """An earlier run that is also this arm's run of `job`, or None."""
        return None


class DefaultsArm(Arm):
    """Keras's default rate, constant: what a user gets by doing nothing."""

    tuning = "none"

    def rates(self, results, job):
        """Keras's default learning rate of the optimizer."""
        return {"lr": DEFAULT_RATES[job.optimizer]}


class GridArm(Arm):
    """One rate of a grid (fixed or cosine), on the tuning seeds."""

    def __init__(self, kind, rate):
        """The grid run of `kind` ("fixed" or "cosine") at `rate`."""
        super().__init__(f"grid {kind}")
        self.kind = kind
        self.rate = rate

    def peak(self, results, job):
        """The rate, as the cosine schedule's peak."""
        return self.rate if self.kind == "cosine" else None

    def rates(self, results, job):
        """The grid rate."""
        return {"lr": self.rate}


class TunedArm(Arm):
    """The grid's best rate; the tuning seeds' grid runs are reused."""

    def __init__(self, kind):
        """The tuned arm of `kind` ("fixed" or "cosine")."""
        super().__init__(kind)
        self.kind = kind

    def peak(self, results, job):
        """The cosine schedule's tuned peak."""
        if self.kind != "cosine":
            return None
        return results.tuned_rate(job.task, job.optimizer, self.kind)

    def rates(self, results, job):
        """The grid's best rate."""
        return {"lr": results.tuned_rate(job.task, job.optimizer, self.kind)}

    def reused(self, results, job):
        """The grid run at the tuned rate, on a tuning seed."""
        if job.seed not in results.tuning_seeds:
            return None
        rate = results.tuned_rate(job.task, job.optimizer, self.kind)
        return results.find(job, f"grid {self.kind}", lr=rate)


class RangeTestArm(Arm):
    """1cycle (`clr={"mode": "1cycle", ...}`) from the seed's range tests'
    median pair."""

    kind = "1cycle"
    tuning = "range test"

    def rates(self, results, job):
        """The seed's suggested pair, or None when it is not usable."""
        base, top = results.suggestion(job)
        if not usable(base, top):
            return None
        return {"base_lr": base, "max_lr": top}


class ScheduleFreeArm(Arm):
    """Keras's `ScheduleFreeAdamW`, untuned: with Adam's pairs only."""

    tuning = "none"
    optimizers = ("adam",)

    def __init__(self, name, kind):
        """The arm `name` of trainer `kind` ("schedule-free" or
        "schedule-free-algoperf")."""
        super().__init__(name)
        self.kind = kind

    def rates(self, results, job):
        """ScheduleFreeAdamW's default rate."""
        return {"lr": SCHEDULE_FREE_RATE}


class FindMaxLrArm(Arm):
    """`clr_optimizers.OneCycle` at its defaults, `max_lr` from
    `find_max_lr`, on Keras's own SGD (momentum 0.9) or Adam."""

    kind = "onecycle-callback"
    tuning = "find_max_lr"

    def rates(self, results, job):
        """The seed's chosen `max_lr`, or None when it is not usable."""
        top = results.find_max_lr_choice(job)["max_lr"]
        if not usable(top, top):
            return None
        return {"max_lr": top}


DEFAULTS = DefaultsArm("defaults")
FIXED = TunedArm("fixed")
COSINE = TunedArm("cosine")
ONE_CYCLE = RangeTestArm("1cycle (range test)")
SCHEDULE_FREE = ScheduleFreeArm("schedule-free", "schedule-free")
SCHEDULE_FREE_ALGOPERF = ScheduleFreeArm(
    "schedule-free AlgoPerf", "schedule-free-algoperf"
)
FIND_MAX_LR = FindMaxLrArm("1cycle (find_max_lr)")
# The arms of a run, in the tables' order; `FIND_MAX_LR` joins them with
# `with_find_max_lr` (`arms_of_run`).
HEADLINE = (
    DEFAULTS,
    FIXED,
    COSINE,
    ONE_CYCLE,
    SCHEDULE_FREE,
    SCHEDULE_FREE_ALGOPERF,
)
ARMS = tuple(arm.name for arm in HEADLINE)
EVERY_ARM = HEADLINE + (FIND_MAX_LR,)
# The baselines every other arm is judged against (PROTOCOL.md, "Verdict and
# goal"), schedule-free on the Adam pairs only; the references, Keras's
# default rate and the two grids, are judged against none.
BASELINES = (DEFAULTS, FIXED, COSINE, SCHEDULE_FREE)
REFERENCES = (DEFAULTS, FIXED, COSINE)
# The package's workflows (the headline's verdicts), and the arm with a goal.
WORKFLOWS = (ONE_CYCLE, FIND_MAX_LR)
GOAL_ARMS = (FIND_MAX_LR,)


def arms_of_run(with_find_max_lr=True):
    """The arms a run trains, in the tables' order."""
    return EVERY_ARM if with_find_max_lr else HEADLINE


def arm_named(name):
    """The arm of `EVERY_ARM` called `name`."""
    for arm in EVERY_ARM:
        if arm.name == name:
            return arm
    allowed = ", ".join(repr(a.name) for a in EVERY_ARM)
    raise ValueError(
        f"`name` must be one of {allowed}. Received: name={name!r}"
    )
