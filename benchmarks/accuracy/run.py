"""The benchmark's run loop: the grids, the range tests (and the
`find_max_lr` searches), then every arm (PROTOCOL.md)."""

import collections
import itertools
import os
import sys

import numpy as np

from benchmarks.accuracy.arms import FIND_MAX_LR
from benchmarks.accuracy.arms import HEADLINE
from benchmarks.accuracy.arms import OPTIMIZERS
from benchmarks.accuracy.arms import TUNING_SEEDS
from benchmarks.accuracy.arms import GridArm
from benchmarks.accuracy.arms import arms_of_run
from benchmarks.accuracy.arms import grid
from benchmarks.accuracy.progress import Log
from benchmarks.accuracy.tasks import select_tasks

INSTALL_HINT = "pip install '.[benchmark]'"
DEFAULT_OUTPUT = "benchmark_results"

Job = collections.namedtuple("Job", ["task", "optimizer", "seed", "arm"])


class _Tuning:
    """A job kind that tunes a seed's rates (not a training run)."""

    def __init__(self, name):
        """The tuning job kind called `name`."""
        self.name = name

    def __repr__(self):
        """The job kind's name."""
        return f"_Tuning({self.name!r})"


RANGE_TESTS = _Tuning("range tests")
FIND_MAX_LR_SEARCH = _Tuning("find_max_lr")
# Arm names are padded to this width in the progress lines.
NAME_WIDTH = 22


def require_benchmark_extra():
    """Imports what the benchmark needs, or an ImportError naming the extra."""
    missing = []
    for module in ("sklearn", "mnist1d", "matplotlib", "statsmodels"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ImportError(
            "The benchmark needs " + ", ".join(missing) + ": from the "
            f"repository root, {INSTALL_HINT}. Received: missing modules "
            + ", ".join(repr(m) for m in missing)
        )


def _optimizers(value):
    """`value` ("sgd", "adam", "all" or a list) as a list of optimizers."""
    values = [value] if isinstance(value, str) else list(value)
    if values == ["all"]:
        return list(OPTIMIZERS)
    if not values:
        raise ValueError("`optimizer` must name at least one. Received: []")
    for item in values:
        if item not in OPTIMIZERS:
            allowed = ", ".join(repr(a) for a in OPTIMIZERS + ("all",))
            raise ValueError(
                f"`optimizer` must be one of {allowed}. "
                f"Received: optimizer={item!r}"
            )
    return list(dict.fromkeys(values))


def _rule(rule):
    """A built-in rule's name; None: the package's default."""
    from clr_optimizers._range_test._rules import DEFAULT_RULE
    from clr_optimizers._range_test._rules import check_rule

    return DEFAULT_RULE if rule is None else check_rule(rule)


def check_arguments(tasks, optimizers, seeds, out_dir, rule=None):
    """Validated (tasks, optimizers, seeds, out_dir, rule); clear errors."""
    tasks = select_tasks(tasks)
    optimizers = _optimizers(optimizers)
    if (
        isinstance(seeds, bool)
        or not isinstance(seeds, (int, np.integer))
        or seeds < 1
    ):
        raise ValueError(
            f"`seeds` must be a whole number >= 1. Received: seeds={seeds!r}"
        )
    rule = _rule(rule)
    out_dir = os.fspath(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
        probe = os.path.join(out_dir, ".write_test")
        with open(probe, "w") as handle:
            handle.write("")
        os.remove(probe)
    except OSError as error:
        raise ValueError(
            "`-o/--output` must be a directory that can be created and "
            f"written to. Received: {out_dir!r} ({error.strerror or error})"
        ) from error
    return tasks, optimizers, int(seeds), out_dir, rule


class Results:
    """Every run so far, the range tests, and the rates they decided."""

    def __init__(self, seeds, rule, log):
        """An empty record for `seeds` seeds and suggestion `rule`."""
        self.log = log
        self.rule = rule
        self.runs = []
        self.range_tests = collections.defaultdict(dict)
        self.find_max_lr = collections.defaultdict(dict)
        self.tuning_seeds = list(range(min(TUNING_SEEDS, seeds)))
        self._tuned = {}

    def record(self, job, task, updates, rates, curves):
        """Adds a finished run's row and prints its progress line.

        Its scores ("final_val", "final_test", the curves) are in the task's
        metric, "metric".
        """
        row = {
            "task": job.task,
            "role": task.role,
            "metric": task.metric,
            "optimizer": job.optimizer,
            "arm": job.arm.name,
            "seed": job.seed,
            "updates": updates,
            **{k: float(v) for k, v in rates.items()},
            "final_val": curves["val"][-1],
            "final_test": curves["test"][-1],
            "diverged": curves["diverged"],
            "wall_s": round(curves["wall_s"], 3),
            "curve_steps": curves["steps"],
            "curve_val": curves["val"],
            "curve_test": curves["test"],
        }
        self.runs.append(row)
        shown = " ".join(f"{k}={v:.4g}" for k, v in rates.items())
        self.log(
            f"{job.task} {job.optimizer} {job.arm.name:<{NAME_WIDTH}} "
            f"seed={job.seed} {shown} updates={updates} "
            f"val={row['final_val']:.3f} test={row['final_test']:.3f}"
            f"{' DIVERGED' if row['diverged'] else ''} "
            f"({curves['wall_s']:.1f}s)"
        )

    def reuse(self, job, row):
        """Records an earlier run as this job's run too."""
        self.runs.append({**row, "arm": job.arm.name})
        self.log(
            f"{job.task} {job.optimizer} {job.arm.name:<{NAME_WIDTH}} "
            f"seed={job.seed} = the {row['arm']} run"
        )

    def no_suggestion(self, job, task, updates):
        """A job without usable rates: a failed run, scored 0."""
        self.runs.append(
            {
                "task": job.task,
                "role": task.role,
                "metric": task.metric,
                "optimizer": job.optimizer,
                "arm": job.arm.name,
                "seed": job.seed,
                "updates": updates,
                "final_val": 0.0,
                "final_test": 0.0,
                "diverged": True,
                "failed": True,
            }
        )
        self.log(
            f"{job.task} {job.optimizer} {job.arm.name} seed={job.seed}: "
            "no usable rate, scored 0"
        )

    def find(self, job, arm, **match):
        """The run of `arm` with the job's task, optimizer and seed."""
        for row in self.runs:
            key = (row["task"], row["optimizer"], row["arm"], row["seed"])
            if key == (job.task, job.optimizer, arm, job.seed) and all(
                row.get(k) == v for k, v in match.items()
            ):
                return row
        return None

    def grid_scores(self, task, optimizer, kind):
        """Each grid rate's mean final validation score."""
        finals = collections.defaultdict(list)
        for row in self.runs:
            if (row["task"], row["optimizer"], row["arm"]) == (
                task,
                optimizer,
                f"grid {kind}",
            ):
                finals[row["lr"]].append(row["final_val"])
        return {rate: float(np.mean(v)) for rate, v in finals.items()}

    def tuned_rate(self, task, optimizer, kind):
        """The grid rate with the best score (logged when first chosen)."""
        key = (task, optimizer, kind)
        if key not in self._tuned:
            scores = self.grid_scores(task, optimizer, kind)
            self._tuned[key] = max(scores, key=scores.get)
            shown = ", ".join(f"{r:.3g}: {s:.3f}" for r, s in scores.items())
            self.log(
                f"{task} {optimizer}: {kind} grid {shown} -> "
                f"{self._tuned[key]:.3g}"
            )
        return self._tuned[key]

    def add_range_tests(self, job, sweeps, pair):
        """Keeps a seed's range tests and their median pair."""
        self.range_tests[(job.task, job.optimizer)][job.seed] = {
            "sweeps": sweeps,
            "pair": list(pair),
            "steps": sum(s["steps"] for s in sweeps),
            "wall_s": sum(s["wall_s"] for s in sweeps),
        }
        tops = ", ".join(
            f"{s['suggestions'][self.rule][1]:.3g}" for s in sweeps
        )
        self.log(
            f"{job.task} {job.optimizer} range tests seed={job.seed}: "
            f"{self.rule} max_lr {tops} -> median {pair[1]:.3g}"
        )

    def suggestion(self, job):
        """The seed's median (base_lr, max_lr) pair."""
        test = self.range_tests[(job.task, job.optimizer)][job.seed]
        return tuple(test["pair"])

    def add_find_max_lr(self, job, choice):
        """Keeps a seed's `find_max_lr` choice: {"max_lr", "cost"}."""
        choice = {"max_lr": float(choice["max_lr"]), "cost": choice["cost"]}
        self.find_max_lr[(job.task, job.optimizer)][job.seed] = choice
        self.log(
            f"{job.task} {job.optimizer} find_max_lr seed={job.seed}: "
            f"max_lr {choice['max_lr']:.3g} (cost {choice['cost']} updates)"
        )

    def find_max_lr_choice(self, job):
        """The seed's `find_max_lr` choice: {"max_lr": float, "cost": int},
        the cost in updates trained by the search."""
        return self.find_max_lr[(job.task, job.optimizer)][job.seed]


def choose_max_lr(task, optimizer, seed, quick):
    """The `find_max_lr` arm's `max_lr` for a seed, and what it cost.

    Args:
        task: The `tasks.Task`.
        optimizer: "sgd" or "adam".
        seed: The seed whose initial weights and data order the search uses.
        quick: Whether this is a `--quick` run.

    Returns:
        A dict: "max_lr" (float) and "cost" (int, the updates the search
        trained).
    """
    from benchmarks.accuracy import peak_runs

    model = task.build_model(seed)
    model.set_weights(task.initial_weights[seed])
    peak_runs.compile_for_search(model, task, optimizer, quick)
    budget = peak_runs.QUICK_BUDGET if quick else peak_runs.BUDGET
    result = peak_runs.choose(task, model, seed, budget)
    return {"max_lr": result.max_lr, "cost": result.cost}


def jobs_of(task, optimizers, seeds, quick, arms=HEADLINE):
    """A task's grid runs, range tests, `find_max_lr` searches and arms.

    Args:
        task: The task's name.
        optimizers: The optimizers' names.
        seeds: The number of seeds.
        quick: Whether this is a `--quick` run (one grid rate).
        arms: The arms to run (those that run with each optimizer);
            `FIND_MAX_LR` among them adds a search per seed.

    Returns:
        The jobs, in the order they run.
    """
    jobs = []
    for optimizer in optimizers:
        jobs += [
            Job(task, optimizer, seed, GridArm(kind, rate))
            for kind in ("fixed", "cosine")
            for rate in grid(optimizer, quick)
            for seed in range(min(TUNING_SEEDS, seeds))
        ]
        jobs += [
            Job(task, optimizer, seed, RANGE_TESTS) for seed in range(seeds)
        ]
        if FIND_MAX_LR in arms:
            jobs += [
                Job(task, optimizer, seed, FIND_MAX_LR_SEARCH)
                for seed in range(seeds)
            ]
        jobs += [
            Job(task, optimizer, seed, arm)
            for arm, seed in itertools.product(arms, range(seeds))
            if arm.runs_with(optimizer)
        ]
    return jobs


class _Runner:
    """Runs jobs: loads each task once and reuses the trainers."""

    def __init__(self, results, seeds, quick):
        """Jobs' runs go to `results`."""
        from benchmarks.accuracy.training import Trainers

        self.results = results
        self.seeds = seeds
        self.quick = quick
        self.tasks = {}
        self.trainers = Trainers(quick)

    def task(self, name):
        """The `tasks.Task` called `name`, loaded on first use."""
        from benchmarks.accuracy.tasks import Task

        if name not in self.tasks:
            self.results.log(f"{name}: the data and the initial weights")
            self.tasks[name] = Task(name, self.quick, self.seeds)
        return self.tasks[name]

    def __call__(self, job):
        """Runs `job`: a tuning job, a reused run, or a training run."""
        from benchmarks.accuracy.range_tests import combined
        from benchmarks.accuracy.range_tests import one_sweep
        from benchmarks.accuracy.range_tests import sweeps

        results = self.results
        task = self.task(job.task)
        if job.arm is RANGE_TESTS:
            done = [
                one_sweep(task, job.optimizer, job.seed, k, self.quick)
                for k in range(sweeps(self.quick))
            ]
            pair = combined(done)[results.rule]
            results.add_range_tests(job, done, pair)
            return
        if job.arm is FIND_MAX_LR_SEARCH:
            choice = choose_max_lr(task, job.optimizer, job.seed, self.quick)
            results.add_find_max_lr(job, choice)
            return
        arm = job.arm
        row = arm.reused(results, job)
        if row is not None:
            results.reuse(job, row)
            return
        updates = arm.updates(task)
        rates = arm.rates(results, job)
        if rates is None:
            results.no_suggestion(job, task, updates)
            return
        trainer = self.trainers.get(
            task, job.optimizer, arm.kind, updates, arm.peak(results, job)
        )
        curves = trainer.run(job.seed, updates, rates)
        results.record(job, task, updates, rates, curves)


def _raw_report(results, runner, tasks, optimizers, arms, wall):
    """The report's dict before its tables."""
    import keras

    from benchmarks.accuracy.range_tests import RANGE

    pairs = list(itertools.product(tasks, optimizers))
    return {
        "runs": results.runs,
        "rule": results.rule,
        "wall_s": wall,
        "seeds": runner.seeds,
        "quick": runner.quick,
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "tasks": list(tasks),
        "roles": {n: runner.tasks[n].role for n in tasks},
        "metrics": {n: runner.tasks[n].metric for n in tasks},
        "optimizers": list(optimizers),
        "arms": [arm.name for arm in arms],
        "tuning_seeds": len(results.tuning_seeds),
        "budgets": {n: runner.tasks[n].budget for n in tasks},
        "range": RANGE,
        "tuned_rates": {
            f"{n} {o} {k}": results.tuned_rate(n, o, k)
            for n, o in pairs
            for k in ("fixed", "cosine")
        },
        "grid_scores": {
            f"{n} {o} {k}": {
                f"{r:.4g}": s for r, s in results.grid_scores(n, o, k).items()
            }
            for n, o in pairs
            for k in ("fixed", "cosine")
        },
        "range_tests": {
            f"{n} {o}": results.range_tests[(n, o)] for n, o in pairs
        },
        "find_max_lr": {
            f"{n} {o}": results.find_max_lr[(n, o)]
            for n, o in pairs
            if (n, o) in results.find_max_lr
        },
    }


def run_benchmark(
    tasks="all",
    optimizer="all",
    seeds=None,
    quick=False,
    output=DEFAULT_OUTPUT,
    rule=None,
    stream=sys.stdout,
    with_find_max_lr=True,
):
    """Runs the benchmark on the current Keras backend (PROTOCOL.md).

    Args:
        tasks: "development", "confirmation", "all", a task name, or a list
            of those.
        optimizer: "sgd", "adam" or "all" (or a list of names).
        seeds: The number of seeds, a whole number >= 1; None: 5, or 1 with
            `quick`.
        quick: Tiny budgets, 1 grid rate, short range tests: a smoke test.
        output: Directory for runs.csv, runs.json, summary.md and a PNG per
            task (created if missing).
        rule: The suggestion rule, a name of `LRRangeTestResult.RULES`;
            None: the package's default.
        stream: Where the progress lines go (None: silent).
        with_find_max_lr: Run the `1cycle (find_max_lr)` arm (the default), its
            `max_lr` from `choose_max_lr`.

    Returns:
        A dict: "runs" (every run), "summary" (per task, optimizer and arm),
        "scoreboard" (the verdicts of the arms against the baselines),
        "wall_s", and the tuning's results.
    """
    if seeds is None:
        seeds = 1 if quick else 5
    tasks, optimizers, seeds, output, rule = check_arguments(
        tasks, optimizer, seeds, output, rule
    )
    require_benchmark_extra()
    import keras

    from benchmarks.accuracy import report as reporting
    from benchmarks.accuracy.backend import one_torch_thread

    log = Log(stream)
    log(
        f"Keras {keras.__version__}, backend {keras.backend.backend()}; "
        f"tasks {', '.join(tasks)}; {seeds} seed(s), rule {rule}"
        f"{', quick' if quick else ''}"
    )
    arms = arms_of_run(with_find_max_lr)
    results = Results(seeds, rule, log)
    runner = _Runner(results, seeds, quick)
    with one_torch_thread():
        for task in tasks:
            for job in jobs_of(task, optimizers, seeds, quick, arms):
                runner(job)
            runner.trainers.forget(task)
    wall = log.elapsed()
    report = _raw_report(results, runner, tasks, optimizers, arms, wall)
    reporting.complete(report)
    reporting.write(report, output)
    log(f"done in {wall:.0f}s; wrote {output}")
    return report
