"""Why 1cycle lost where it lost: 1cycle again, from every rule's pair and
from the tuned cosine peak, on the range tests a benchmark run recorded.

```
python -m benchmarks.accuracy.diagnosis --runs DIR/runs.json [--tasks ...]
    [-o DIR]
```

A diagnosis, never a confirmation: it reads the results it explains. Per
task, optimizer and seed of the run: 1cycle for B updates (the run's
settings) from each built-in rule's median pair over the seed's recorded
sweeps, and from `max_lr` = the cosine arm's tuned peak (what the grid
found, at the grid's cost), with the run's budgets (`--quick`'s too).
Writes diagnosis.md and diagnosis.json.
"""

import argparse
import itertools
import json
import os
import sys

import numpy as np

from benchmarks.accuracy.backend import select_backend

PEAK = "cosine peak"


def _baseline_tests(record, task, optimizer, arm):
    return [
        r["final_test"]
        for r in record["runs"]
        if (r["task"], r["optimizer"], r["arm"]) == (task, optimizer, arm)
    ]


def diagnose(record, tasks, stream=sys.stdout):
    """1cycle from every rule and from the cosine peak; the table rows."""
    from benchmarks.accuracy.arms import ONE_CYCLE_DIV
    from benchmarks.accuracy.arms import usable
    from benchmarks.accuracy.backend import one_torch_thread
    from benchmarks.accuracy.progress import Log
    from benchmarks.accuracy.range_tests import combined
    from benchmarks.accuracy.tasks import Task
    from benchmarks.accuracy.training import Trainers

    log = Log(stream)
    quick = record["quick"]
    trainers = Trainers(quick)
    rows = []
    with one_torch_thread():
        for name in tasks:
            task = Task(name, quick, record["seeds"])
            for optimizer in record["optimizers"]:
                trainer = trainers.get(task, optimizer, "1cycle", task.budget)
                tests = record["range_tests"][f"{name} {optimizer}"]
                peak = record["tuned_rates"][f"{name} {optimizer} cosine"]
                for seed in range(record["seeds"]):
                    pairs = combined(tests[str(seed)]["sweeps"])
                    pairs[PEAK] = (peak / 4, peak)
                    for variant, (_, top) in pairs.items():
                        row = {
                            "task": name,
                            "optimizer": optimizer,
                            "seed": seed,
                            "variant": variant,
                            "max_lr": top,
                            "final_test": 0.0,
                        }
                        if usable(top / ONE_CYCLE_DIV, top):
                            curves = trainer.run(
                                seed,
                                task.budget,
                                {"base_lr": top / ONE_CYCLE_DIV, "max_lr": top},
                            )
                            row["final_test"] = curves["test"][-1]
                        rows.append(row)
                        log(
                            f"{name} {optimizer} seed={seed} {variant:<13} "
                            f"max_lr={top:.3g} test={row['final_test']:.3f}"
                        )
            trainers.forget(name)
    return rows


def summarize(record, rows):
    """Per task, optimizer and variant: mean test accuracy and verdicts."""
    from benchmarks.accuracy.report import mean_std
    from benchmarks.accuracy.report import verdict

    table = []
    key = lambda r: (r["task"], r["optimizer"], r["variant"])  # noqa: E731
    for (task, optimizer, variant), group in itertools.groupby(
        sorted(rows, key=key), key=key
    ):
        group = list(group)
        tests = [r["final_test"] for r in group]
        table.append(
            {
                "task": task,
                "optimizer": optimizer,
                "variant": variant,
                "max_lr": float(np.median([r["max_lr"] for r in group])),
                "final_test": mean_std(tests),
                "vs fixed": verdict(
                    tests, _baseline_tests(record, task, optimizer, "fixed")
                ),
                "vs cosine": verdict(
                    tests, _baseline_tests(record, task, optimizer, "cosine")
                ),
            }
        )
    return table


def markdown(table):
    """The diagnosis table as Markdown."""
    lines = [
        "| task | optimizer | 1cycle's max_lr from | median max_lr | final "
        "test | vs fixed | vs cosine |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in table:
        mean, std = e["final_test"]
        lines.append(
            f"| {e['task']} | {e['optimizer']} | {e['variant']} | "
            f"{e['max_lr']:.3g} | {mean:.3f} ± {std:.3f} | {e['vs fixed']} "
            f"| {e['vs cosine']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    """The diagnosis' command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.accuracy.diagnosis",
        description="1cycle from every suggestion rule and from the tuned "
        "cosine peak, on a benchmark run's recorded range tests.",
    )
    parser.add_argument("--runs", required=True, help="a run's runs.json")
    parser.add_argument("--tasks", nargs="+", default=["confirmation"])
    parser.add_argument("-o", "--output", default="diagnosis_results")
    args = parser.parse_args(argv)
    with open(args.runs) as handle:
        record = json.load(handle)
    from benchmarks.accuracy.tasks import select_tasks

    try:
        select_backend(record["backend"])
        tasks = select_tasks(args.tasks)
    except ValueError as error:
        parser.error(str(error))
    missing = [t for t in tasks if t not in record["tasks"]]
    if missing:
        parser.error(
            f"`--tasks` must be tasks of the run. Received: {missing!r}"
        )
    rows = diagnose(record, tasks)
    table = summarize(record, rows)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "diagnosis.json"), "w") as handle:
        json.dump({"rows": rows, "table": table}, handle, indent=1)
    text = markdown(table)
    with open(os.path.join(args.output, "diagnosis.md"), "w") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
