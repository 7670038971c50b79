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


def usable(base, top):
    """Whether a suggested (base_lr, max_lr) pair can be trained with."""
    return math.isfinite(base) and math.isfinite(top) and top > 0 and base > 0


def grid(optimizer, quick):
    """The rates tried for `optimizer` (only the 4th with `quick`)."""
    rates = GRIDS[optimizer]
    return rates[3:4] if quick else rates


class Arm:
    """A named way to train: its kind, its length and its rates.

    `results` below is the run's record (`run.Results`): the grids' scores
    and the range tests' suggestions. `tuning` is what chose the arm's
    rates: "grid", "none" or "range test"; `half`: whether it runs for B/2.
    """

    kind = "fixed"
    tuning = "grid"
    half = False

    def __init__(self, name):
        """An arm called `name` in the runs and tables."""
        self.name = name

    def __repr__(self):
        """The arm's class and name."""
        return f"{type(self).__name__}({self.name!r})"

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


class ClrArm(Arm):
    """triangular2 or 1cycle from the seed's range tests' median pair."""

    tuning = "range test"

    def __init__(self, policy, half=False):
        """The CLR arm of `policy` ("triangular2" or "1cycle"), B or B/2."""
        super().__init__(policy + (" B/2" if half else ""))
        self.kind = policy
        self.half = half

    def updates(self, task):
        """B, or B/2."""
        return task.half if self.half else task.budget

    def rates(self, results, job):
        """The seed's suggested pair, or None when it is not usable."""
        base, top = results.suggestion(job)
        if not usable(base, top):
            return None
        return {"base_lr": base, "max_lr": top}


DEFAULTS = DefaultsArm("defaults")
FIXED = TunedArm("fixed")
COSINE = TunedArm("cosine")
TRIANGULAR2 = ClrArm("triangular2")
ONE_CYCLE = ClrArm("1cycle")
TRIANGULAR2_HALF = ClrArm("triangular2", half=True)
ONE_CYCLE_HALF = ClrArm("1cycle", half=True)
HEADLINE = (
    DEFAULTS,
    FIXED,
    COSINE,
    ONE_CYCLE,
    ONE_CYCLE_HALF,
    TRIANGULAR2,
    TRIANGULAR2_HALF,
)
ARMS = tuple(arm.name for arm in HEADLINE)
# The arms 1cycle is judged against (PROTOCOL.md, "Verdict and goal").
BASELINES = (DEFAULTS, FIXED, COSINE)
