"""`find_max_lr` on the development tasks: 1cycle from its choice against
the tuned cosine of the last full benchmark run.

Development tasks only (the study never loads a confirmation task): per
task, optimizer and seed, `find_max_lr` chooses the peak for a run of B
updates, then `OneCycle` at that peak trains B updates from the same
weights; the final test score is compared with the cosine arm's in a
results CSV of `python -m benchmarks.accuracy` (same tasks, seeds and
backend), by the protocol's 2·SE rule.

    python -m benchmarks.accuracy.peak_study --reference \
        docs/benchmark/results/runs.csv -o /tmp/peak-study
"""

import argparse
import csv
import json
import math
import os
import statistics
import time

from benchmarks.accuracy.backend import select_backend


def _parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=None)
    parser.add_argument("--optimizers", nargs="+", default=["sgd", "adam"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=2.0)
    parser.add_argument(
        "--score",
        choices=("metric", "loss"),
        default="metric",
        help="score the trials by the task's metric or by the loss",
    )
    parser.add_argument("--backend", default="jax")
    parser.add_argument("--reference", default=None)
    parser.add_argument("-o", "--output", default=None)
    return parser.parse_args(argv)


def _verdict(ours, theirs):
    """won / tied / lost by the 2·SE rule on two lists of scores."""
    diff = statistics.mean(ours) - statistics.mean(theirs)
    se = math.sqrt(
        statistics.variance(ours) / len(ours)
        + statistics.variance(theirs) / len(theirs)
    )
    if diff > 2 * se:
        return "won"
    if diff < -2 * se:
        return "lost"
    return "tied"


def _reference(path):
    """{(task, optimizer): [final test of the cosine arm per seed]}."""
    scores = {}
    if path is None:
        return scores
    with open(path) as file:
        for row in csv.DictReader(file):
            if row["arm"] == "cosine":
                key = (row["task"], row["optimizer"])
                scores.setdefault(key, []).append(float(row["final_test"]))
    return scores


def main(argv=None):
    """Runs the study; prints one line per pair, writes runs as JSON."""
    args = _parse(argv)
    select_backend(args.backend)
    from benchmarks.accuracy import peak_runs
    from benchmarks.accuracy.tasks import DEVELOPMENT

    tasks = args.tasks or list(DEVELOPMENT)
    for name in tasks:
        if name not in DEVELOPMENT:
            raise ValueError(
                "The study runs development tasks only. "
                f"Received: tasks={name!r}"
            )
    reference = _reference(args.reference)
    runs = []
    for name in tasks:
        for optimizer in args.optimizers:
            scores = []
            for seed in range(args.seeds):
                start = time.perf_counter()
                plot = None
                if args.output and seed == 0:
                    os.makedirs(args.output, exist_ok=True)
                    plot = os.path.join(
                        args.output, f"trials_{name}_{optimizer}.png"
                    )
                run = peak_runs.choose_and_train(
                    name, optimizer, seed, args.budget, plot, args.score
                )
                run["wall_s"] = time.perf_counter() - start
                runs.append(run)
                scores.append(run["test"])
            pair = runs[-len(scores) :]
            spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
            peaks = [round(r["max_lr"], 5) for r in pair]
            cost = max(r["cost"] / r["budget"] for r in pair)
            line = (
                f"{name:14s} {optimizer:5s} find_max_lr→1cycle "
                f"{statistics.mean(scores):.4f} ± {spread:.4f}"
                f"  max_lr {peaks}  cost/B {cost:.2f}"
            )
            cosine = reference.get((name, optimizer))
            if cosine and len(scores) > 1:
                line += (
                    f"  cosine {statistics.mean(cosine):.4f}"
                    f"  → {_verdict(scores, cosine)}"
                )
            print(line, flush=True)
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        with open(os.path.join(args.output, "runs.json"), "w") as file:
            json.dump(runs, file, indent=1)


if __name__ == "__main__":
    main()
