"""Supplement to `python -m clr_optimizers benchmark`: the rule comparison
on seeds 3 and 4 as well (the benchmark's protocol compares the rules on
seeds 0-2 only). Post hoc, after the first full run showed `steepest`
diverging on seed 4 of MNIST-1D; it informs, it chose nothing.

    PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/rules_more_seeds.py \
        benchmark_results/runs.json -o rules_more_seeds

Runs triangular2 and 1cycle from every rule's pair for B/2 updates on
seeds 3 and 4, exactly as the benchmark runs them on seeds 0-2, then prints
the 5-seed table (seeds 0-2 read from the benchmark's runs.json).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from clr_optimizers import _benchmark
from clr_optimizers._suggest import RULES


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("runs_json")
    parser.add_argument("-o", "--output", default="rules_more_seeds")
    args = parser.parse_args(argv)
    first = json.load(open(args.runs_json))
    os.makedirs(args.output, exist_ok=True)
    seeds = (3, 4)
    rows = []
    start = time.perf_counter()
    for name in _benchmark.DATASETS:
        context = _benchmark._Context(name, False, 5)
        half = context.budget // 2
        for opt in _benchmark.OPTIMIZERS:
            for seed in seeds:
                result, _ = _benchmark._range_test(context, opt, seed, False)
                for rule in RULES:
                    base, top = result.suggestions[rule]
                    for policy in _benchmark.POLICIES:
                        if not (np.isfinite(top) and top > 0):
                            val = test = 0.0
                        else:
                            run = context.trainer(opt, policy, half).run(
                                seed, half, {"base_lr": base, "max_lr": top})
                            val, test = run["val"][-1], run["test"][-1]
                        rows.append({"dataset": name, "optimizer": opt,
                                     "rule": rule, "policy": policy,
                                     "seed": seed, "base_lr": base,
                                     "max_lr": top, "final_val": val,
                                     "final_test": test})
                        print(f"[{time.perf_counter() - start:6.0f}s] {name} "
                              f"{opt} {rule} {policy} seed={seed} "
                              f"max_lr={top:.3g} val={val:.3f}", flush=True)
    for row in first["runs"]:
        if row.get("rule") and row["arm"].startswith("rule "):
            rows.append({k: row.get(k) for k in (
                "dataset", "optimizer", "rule", "policy", "seed", "base_lr",
                "max_lr", "final_val", "final_test")})
    with open(os.path.join(args.output, "rules_5_seeds.json"), "w") as f:
        json.dump(rows, f, indent=1)
    cells = [f"{n} {o}" for n in _benchmark.DATASETS
             for o in _benchmark.OPTIMIZERS]
    lines = ["| rule | " + " | ".join(cells) + " | mean | runs below 0.5 |",
             "|" + "---|" * (len(cells) + 3)]
    for rule in RULES:
        mine = [r for r in rows if r["rule"] == rule]
        cell = []
        for n in _benchmark.DATASETS:
            for o in _benchmark.OPTIMIZERS:
                vals = [r["final_val"] or 0.0 for r in mine
                        if r["dataset"] == n and r["optimizer"] == o]
                cell.append(f"{np.mean(vals):.3f}")
        vals = [r["final_val"] or 0.0 for r in mine]
        low = sum(v < 0.5 for v in vals)
        lines.append(f"| {rule} | " + " | ".join(cell)
                     + f" | {np.mean(vals):.4f} | {low}/{len(vals)} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(args.output, "rules_5_seeds.md"), "w") as f:
        f.write(table)
    print(table)
    print(f"{time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
