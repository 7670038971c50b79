"""The benchmark's run loop: tuning, the rule comparison, the headline arms
(PROTOCOL.md)."""

import collections
import itertools
import os
import sys
import time

import keras
import numpy as np

from benchmarks.accuracy import report as reporting
from benchmarks.accuracy.arms import HEADLINE
from benchmarks.accuracy.arms import OPTIMIZERS
from benchmarks.accuracy.arms import POLICIES
from benchmarks.accuracy.arms import RULE_SEEDS
from benchmarks.accuracy.arms import TUNING_SEEDS
from benchmarks.accuracy.arms import GridArm
from benchmarks.accuracy.arms import Trainers
from benchmarks.accuracy.arms import grid
from benchmarks.accuracy.arms import one_torch_thread
from benchmarks.accuracy.arms import range_test
from benchmarks.accuracy.arms import rule_arm
from benchmarks.accuracy.data import DATASETS
from benchmarks.accuracy.data import Task
from clr_optimizers._range_test._rules import RULES

INSTALL_HINT = "pip install '.[benchmark]'"
DEFAULT_OUTPUT = "benchmark_results"

Job = collections.namedtuple("Job", ["dataset", "optimizer", "seed", "arm"])


class _RangeTestStep:
    """The job kind of a seed's range test (not a training run)."""

    name = "range test"


RANGE_TEST = _RangeTestStep()


def require_benchmark_extra():
    """Imports what the benchmark needs, or an ImportError naming the extra."""
    missing = []
    for module in ("sklearn", "mnist1d", "matplotlib"):
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


def _choices(value, allowed, name):
    """`value` (a name, "all" or a list of names) as a list of `allowed`."""
    if isinstance(value, str):
        value = [value]
    value = list(value)
    if value == ["all"]:
        return list(allowed)
    for item in value:
        if item not in allowed:
            raise ValueError(
                f"`{name}` must be one of "
                + ", ".join(repr(a) for a in allowed + ("all",))
                + f". Received: {name}={item!r}"
            )
    if not value:
        raise ValueError(f"`{name}` must name at least one. Received: []")
    return list(dict.fromkeys(value))


def check_arguments(datasets, optimizers, seeds, out_dir):
    """Validated (datasets, optimizers, seeds, out_dir); clear errors."""
    datasets = _choices(datasets, DATASETS, "dataset")
    optimizers = _choices(optimizers, OPTIMIZERS, "optimizer")
    if (
        isinstance(seeds, bool)
        or not isinstance(seeds, (int, np.integer))
        or seeds < 1
    ):
        raise ValueError(
            f"`seeds` must be a whole number >= 1. Received: seeds={seeds!r}"
        )
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
    return datasets, optimizers, int(seeds), out_dir


class Log:
    """Progress lines, each with the seconds since the start."""

    def __init__(self, stream):
        """Lines go to `stream`; None: silent."""
        self.stream = stream
        self.start = time.perf_counter()

    def __call__(self, text):
        """Prints `text` with the elapsed time."""
        if self.stream is not None:
            elapsed = time.perf_counter() - self.start
            print(f"[{elapsed:7.1f}s] {text}", file=self.stream, flush=True)


class Results:
    """Every run so far, the range tests, and what they decided."""

    def __init__(self, seeds, log):
        """An empty record for `seeds` seeds, logging to `log`."""
        self.log = log
        self.runs = []
        self.range_tests = collections.defaultdict(dict)
        self.tuning_seeds = list(range(min(TUNING_SEEDS, seeds)))
        self.rule_seeds = list(range(min(RULE_SEEDS, seeds)))
        self.rule_scores = {}
        self.default_rule = None
        self._fixed = {}

    def record(self, job, updates, rates, curves, fields):
        """Adds a finished run's row and prints its progress line."""
        row = {
            "dataset": job.dataset,
            "optimizer": job.optimizer,
            "arm": job.arm.name,
            "seed": job.seed,
            "updates": updates,
            **{k: float(v) for k, v in rates.items()},
            "final_val": curves["val"][-1],
            "final_test": curves["test"][-1],
            "wall_s": round(curves["wall_s"], 3),
            "curve_steps": curves["steps"],
            "curve_val": curves["val"],
            "curve_test": curves["test"],
            **fields,
        }
        self.runs.append(row)
        shown = " ".join(f"{k}={v:.4g}" for k, v in rates.items())
        self.log(
            f"{job.dataset} {job.optimizer} {job.arm.name:<22} "
            f"seed={job.seed} {shown} updates={updates} "
            f"val={row['final_val']:.3f} test={row['final_test']:.3f} "
            f"({curves['wall_s']:.1f}s)"
        )

    def reuse(self, job, row):
        """Records an earlier run as this job's run too."""
        self.runs.append({**row, "arm": job.arm.name})
        self.log(
            f"{job.dataset} {job.optimizer} {job.arm.name:<22} "
            f"seed={job.seed} = the {row['arm']} run"
        )

    def no_suggestion(self, job, updates, fields):
        """A CLR job without usable bounds: a comparison run scores 0."""
        where = f"{job.dataset} {job.optimizer} {job.arm.name}"
        if job.arm.rule is None:
            self.log(f"{where} seed={job.seed}: no suggestion")
            return
        self.runs.append(
            {
                "dataset": job.dataset,
                "optimizer": job.optimizer,
                "arm": job.arm.name,
                "seed": job.seed,
                "updates": updates,
                "final_val": None,
                "final_test": None,
                "failed": True,
                **fields,
            }
        )
        self.log(f"{where} seed={job.seed}: no suggestion, scored 0")

    def find(self, job, arm, **match):
        """The run of `arm` with the job's data set, optimizer and seed."""
        for row in self.runs:
            key = (row["dataset"], row["optimizer"], row["arm"], row["seed"])
            if key == (job.dataset, job.optimizer, arm, job.seed) and all(
                row.get(k) == v for k, v in match.items()
            ):
                return row
        return None

    def grid_scores(self, dataset, optimizer):
        """Each grid rate's mean final validation accuracy."""
        finals = collections.defaultdict(list)
        for row in self.runs:
            if (row["dataset"], row["optimizer"], row["arm"]) == (
                dataset,
                optimizer,
                "grid",
            ):
                finals[row["lr"]].append(row["final_val"])
        return {rate: float(np.mean(v)) for rate, v in finals.items()}

    def fixed_rate(self, dataset, optimizer):
        """The grid rate with the best score (logged when first chosen)."""
        key = (dataset, optimizer)
        if key not in self._fixed:
            scores = self.grid_scores(dataset, optimizer)
            self._fixed[key] = max(scores, key=scores.get)
            shown = ", ".join(f"{r:.3g}: {s:.3f}" for r, s in scores.items())
            self.log(
                f"{dataset} {optimizer}: grid {shown} -> fixed rate "
                f"{self._fixed[key]:.3g}"
            )
        return self._fixed[key]

    def add_range_test(self, job, test):
        """Keeps a seed's range test and prints its suggested max_lr."""
        self.range_tests[(job.dataset, job.optimizer)][job.seed] = test
        shown = ", ".join(
            f"{rule} {top:.3g}"
            for rule, (_, top) in test["suggestions"].items()
        )
        self.log(
            f"{job.dataset} {job.optimizer} range test seed={job.seed} "
            f"({test['steps']} steps, {test['wall_s']:.1f}s): "
            f"max_lr {shown}"
        )

    def suggestion(self, job, rule):
        """The (base_lr, max_lr) pair of `rule` from the seed's range test."""
        test = self.range_tests[(job.dataset, job.optimizer)][job.seed]
        return tuple(test["suggestions"][rule])

    def choose_rule(self):
        """Scores the rules on their comparison runs; keeps the best."""
        for rule in RULES:
            finals = [
                r["final_val"] or 0.0
                for r in self.runs
                if r.get("rule") == rule
            ]
            self.rule_scores[rule] = float(np.mean(finals))
        self.default_rule = max(RULES, key=self.rule_scores.get)
        self.log(
            "rule scores (mean final validation accuracy): "
            + ", ".join(f"{k} {v:.4f}" for k, v in self.rule_scores.items())
            + f" -> {self.default_rule}"
        )


def tuning_jobs(datasets, optimizers, seeds, quick):
    """Grid runs, range tests and the rule comparison, in order."""
    jobs = []
    tuning = range(min(TUNING_SEEDS, seeds))
    comparison = range(min(RULE_SEEDS, seeds))
    for dataset, optimizer in itertools.product(datasets, optimizers):
        pair = (dataset, optimizer)
        jobs += [
            Job(*pair, seed, GridArm(rate))
            for rate in grid(optimizer, quick)
            for seed in tuning
        ]
        jobs += [Job(*pair, seed, RANGE_TEST) for seed in range(seeds)]
        jobs += [
            Job(*pair, seed, rule_arm(rule, policy))
            for rule, policy in itertools.product(RULES, POLICIES)
            for seed in comparison
        ]
    return jobs


def headline_jobs(datasets, optimizers, seeds):
    """Every seed of every headline arm that applies, in order."""
    return [
        Job(dataset, optimizer, seed, arm)
        for dataset, optimizer, arm in itertools.product(
            datasets, optimizers, HEADLINE
        )
        if arm.applies(dataset, optimizer)
        for seed in range(seeds)
    ]


class _Runner:
    """Runs jobs: loads each data set once and reuses the trainers."""

    def __init__(self, results, seeds, quick):
        """Jobs' runs go to `results`."""
        self.results = results
        self.seeds = seeds
        self.quick = quick
        self.tasks = {}
        self.trainers = Trainers(quick)

    def task(self, name):
        """The `data.Task` of data set `name`, loaded on first use."""
        if name not in self.tasks:
            self.results.log(
                f"{name}: generating the data and the initial weights"
            )
            self.tasks[name] = Task(name, self.quick, self.seeds)
        return self.tasks[name]

    def __call__(self, job):
        """Runs `job`: a range test, a reused run, or a training run."""
        results = self.results
        task = self.task(job.dataset)
        if job.arm is RANGE_TEST:
            test = range_test(task, job.optimizer, job.seed, self.quick)
            results.add_range_test(job, test)
            return
        arm = job.arm
        row = arm.reused(results, job)
        if row is not None:
            results.reuse(job, row)
            return
        updates = arm.updates(task)
        rates = arm.rates(results, job)
        if rates is None:
            results.no_suggestion(job, updates, arm.fields(results))
            return
        trainer = self.trainers.get(
            task, job.optimizer, arm.kind, updates, arm.peak(results, job)
        )
        curves = trainer.run(job.seed, updates, rates)
        results.record(job, updates, rates, curves, arm.fields(results))


def _raw_report(results, runner, datasets, optimizers, wall):
    """The report's dict before the summary and rule tables."""
    pairs = list(itertools.product(datasets, optimizers))
    return {
        "runs": results.runs,
        "rule_scores": results.rule_scores,
        "default_rule": results.default_rule,
        "wall_s": wall,
        "seeds": runner.seeds,
        "quick": runner.quick,
        "backend": keras.backend.backend(),
        "datasets": list(datasets),
        "optimizers": list(optimizers),
        "tuning_seeds": len(results.tuning_seeds),
        "budgets": {n: runner.tasks[n].budget for n in datasets},
        "fixed_rates": {f"{n} {o}": results.fixed_rate(n, o) for n, o in pairs},
        "grid_scores": {
            f"{n} {o}": {
                f"{r:.4g}": s for r, s in results.grid_scores(n, o).items()
            }
            for n, o in pairs
        },
        "range_tests": {
            f"{n} {o}": results.range_tests[(n, o)] for n, o in pairs
        },
    }


def run_benchmark(
    dataset="all",
    optimizer="all",
    seeds=None,
    quick=False,
    output=DEFAULT_OUTPUT,
    stream=sys.stdout,
):
    """Runs the benchmark (protocol: PROTOCOL.md, next to this file).

    Args:
        dataset: "mnist1d", "digits" or "all" (or a list of names).
        optimizer: "sgd", "adam" or "all" (or a list of names).
        seeds: The number of seeds, a whole number >= 1; None: 5 (the
            headline), or 1 with `quick`.
        quick: Tiny budgets, 2 grid rates, short range tests: a smoke test.
        output: Directory for runs.csv, runs.json, summary.md and
            benchmark_<dataset>.png (created if missing).
        stream: Where the progress lines go (None: silent).

    Returns:
        A dict: "runs" (every run), "summary" (per data set, optimizer and
        arm), "rules" (the rule comparison), "default_rule", "wall_s", and
        the tuning's results.
    """
    if seeds is None:
        seeds = 1 if quick else 5
    datasets, optimizers, seeds, output = check_arguments(
        dataset, optimizer, seeds, output
    )
    require_benchmark_extra()
    log = Log(stream)
    log(
        f"Keras {keras.__version__}, backend {keras.backend.backend()}; "
        f"{seeds} seed(s){', quick' if quick else ''}"
    )
    started = time.perf_counter()
    results = Results(seeds, log)
    runner = _Runner(results, seeds, quick)
    with one_torch_thread():
        for job in tuning_jobs(datasets, optimizers, seeds, quick):
            runner(job)
        results.choose_rule()
        for job in headline_jobs(datasets, optimizers, seeds):
            runner(job)
    wall = time.perf_counter() - started
    report = _raw_report(results, runner, datasets, optimizers, wall)
    reporting.complete(report)
    reporting.write(report, output)
    log(f"done in {wall:.0f}s; wrote {output}")
    return report
