"""The suggestion rules compared on the development tasks only (PROTOCOL.md,
"Rule study").

```
python -m benchmarks.accuracy.rule_study [--seeds N] [--quick] [-o DIR]
```

Per development task, optimizer and seed: 5 range tests in 5 data orders;
each rule's pair is the median over the first 3, and 1cycle trains B/2
updates from it. A rule's score is its mean final validation accuracy over
every run (a run without a usable pair scores 0); its stability, the ratio of
the largest to the smallest suggested `max_lr`, over the 5 single sweeps and
over the 10 medians of 3 of them. The default is the best-scoring rule that
never diverged.
"""

import argparse
import itertools
import json
import os
import sys

import numpy as np

from benchmarks.accuracy.arms import ONE_CYCLE_DIV
from benchmarks.accuracy.arms import OPTIMIZERS
from benchmarks.accuracy.backend import select_backend

STUDY_SWEEPS = 5
DEFAULT_OUTPUT = "rule_study_results"


def spread(values):
    """Largest / smallest of the finite positive values (NaN if none)."""
    values = [v for v in values if np.isfinite(v) and v > 0]
    if not values:
        return float("nan")
    return float(max(values) / min(values))


def median_spread(tops, count=3):
    """`spread` of the medians of every `count` of the values."""
    return spread(
        [
            float(np.median(c))
            for c in itertools.combinations(tops, count)
            if all(np.isfinite(c))
        ]
    )


def study(seeds=5, quick=False, stream=sys.stdout):
    """Runs the rule study on the current backend; returns its record."""
    from benchmarks.accuracy.arms import usable
    from benchmarks.accuracy.backend import one_torch_thread
    from benchmarks.accuracy.progress import Log
    from benchmarks.accuracy.range_tests import combined
    from benchmarks.accuracy.range_tests import one_sweep
    from benchmarks.accuracy.tasks import DEVELOPMENT
    from benchmarks.accuracy.tasks import Task
    from benchmarks.accuracy.training import Trainers
    from clr_optimizers._range_test._rules import RULES

    log = Log(stream)
    trainers = Trainers(quick)
    rows = []
    with one_torch_thread():
        for name in DEVELOPMENT:
            task = Task(name, quick, seeds)
            for optimizer, seed in itertools.product(OPTIMIZERS, range(seeds)):
                sweeps = [
                    one_sweep(task, optimizer, seed, k, quick)
                    for k in range(3 if quick else STUDY_SWEEPS)
                ]
                pairs = combined(sweeps)
                trainer = trainers.get(task, optimizer, "1cycle", task.half)
                for rule in RULES:
                    tops = [s["suggestions"][rule][1] for s in sweeps]
                    row = {
                        "task": name,
                        "optimizer": optimizer,
                        "seed": seed,
                        "rule": rule,
                        "max_lr": pairs[rule][1],
                        "sweep_max_lrs": tops,
                        "sweep_spread": spread(tops),
                        "median_spread": median_spread(tops),
                        "final_val": 0.0,
                        "diverged": False,
                        "usable": usable(*pairs[rule]),
                    }
                    if row["usable"]:
                        top = pairs[rule][1]
                        curves = trainer.run(
                            seed,
                            task.half,
                            {"base_lr": top / ONE_CYCLE_DIV, "max_lr": top},
                        )
                        row["final_val"] = curves["val"][-1]
                        row["diverged"] = curves["diverged"]
                    rows.append(row)
                    log(
                        f"{name} {optimizer} seed={seed} {rule:<13} "
                        f"max_lr={row['max_lr']:.3g} "
                        f"spread={row['sweep_spread']:.2f} "
                        f"val={row['final_val']:.3f}"
                    )
            trainers.forget(name)
    return summarize(rows, seeds, log.elapsed())


def summarize(rows, seeds, wall_s):
    """Per rule: score, divergences, stability; and the chosen default."""
    rules = list(dict.fromkeys(r["rule"] for r in rows))
    table = []
    for rule in rules:
        mine = [r for r in rows if r["rule"] == rule]
        cells = {}
        for key, group in itertools.groupby(
            mine, key=lambda r: f"{r['task']} {r['optimizer']}"
        ):
            group = list(group)
            cells[key] = {
                "final_val": float(np.mean([r["final_val"] for r in group])),
                "median_max_lr": float(
                    np.nanmedian([r["max_lr"] for r in group])
                ),
                "sweep_spread": float(
                    np.nanmedian([r["sweep_spread"] for r in group])
                ),
                "median_spread": float(
                    np.nanmedian([r["median_spread"] for r in group])
                ),
            }
        table.append(
            {
                "rule": rule,
                "score": float(np.mean([r["final_val"] for r in mine])),
                "diverged": sum(r["diverged"] or not r["usable"] for r in mine),
                "cells": cells,
            }
        )
    eligible = [t for t in table if t["diverged"] == 0] or table
    default = max(eligible, key=lambda t: t["score"])["rule"]
    return {
        "rows": rows,
        "rules": table,
        "default_rule": default,
        "seeds": seeds,
        "wall_s": wall_s,
    }


def markdown(record):
    """The study's table as Markdown."""
    cells = list(record["rules"][0]["cells"])
    lines = [
        "Mean final validation accuracy of 1cycle after B/2 updates from "
        "each rule's pair (the median over 3 range tests), "
        f"{record['seeds']} seeds; in brackets the median suggested "
        "`max_lr`, then the median over seeds of the ratio largest / "
        "smallest `max_lr` over 5 single sweeps and over the medians of 3.",
        "",
        "| rule | " + " | ".join(cells) + " | score | failed runs |",
        "|" + "---|" * (len(cells) + 3),
    ]
    for entry in record["rules"]:
        mark = " (default)" if entry["rule"] == record["default_rule"] else ""
        row = [f"`{entry['rule']}`{mark}"]
        for key in cells:
            c = entry["cells"][key]
            row.append(
                f"{c['final_val']:.3f} ({c['median_max_lr']:.2g}; "
                f"{c['sweep_spread']:.2f}x, {c['median_spread']:.2f}x)"
            )
        row += [f"{entry['score']:.4f}", str(entry["diverged"])]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        f"Chosen: `{record['default_rule']}` (the best score among the rules "
        "with no failed run). Wall time: "
        f"{record['wall_s']:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    """The rule study's command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.accuracy.rule_study",
        description="Compare the range test's suggestion rules with 1cycle "
        "on the development tasks (never the confirmation tasks).",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", default=None)
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"`seeds` must be >= 1. Received: seeds={args.seeds}")
    try:
        select_backend(args.backend)
    except ValueError as error:
        parser.error(str(error))
    record = study(seeds=args.seeds, quick=args.quick)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "rule_study.json"), "w") as handle:
        json.dump(record, handle, indent=1)
    text = markdown(record)
    with open(os.path.join(args.output, "rule_study.md"), "w") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
