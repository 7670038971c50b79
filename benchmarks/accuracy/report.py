"""The benchmark's tables, summary.md, runs.csv, runs.json and plots
(PROTOCOL.md, "Reported" and "Verdict")."""

import csv
import itertools
import json
import math
import os

import numpy as np

from benchmarks.accuracy.arms import GOALS
from benchmarks.accuracy.arms import HEADLINE
from benchmarks.accuracy.arms import POLICIES
from benchmarks.accuracy.arms import RULE_SEEDS
from benchmarks.accuracy.arms import rule_arm
from benchmarks.accuracy.data import MNIST1D_TARGET
from clr_optimizers._plotting import require_matplotlib

CSV_FIELDS = (
    "dataset",
    "optimizer",
    "arm",
    "seed",
    "updates",
    "lr",
    "peak",
    "base_lr",
    "max_lr",
    "rule",
    "updates_to_target",
    "updates_to_94",
    "final_val",
    "final_test",
    "wall_s",
)


def first_at(steps, values, target):
    """The first step whose value is at or above `target`, or None."""
    for step, value in zip(steps, values):
        if value >= target:
            return step
    return None


def mean_std(values):
    """(mean, sample std) of the values that are not None; NaNs if none."""
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if not values.size:
        return math.nan, math.nan
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return float(values.mean()), std


def verdict(clr, fixed):
    """ "won", "lost" or "tied" beyond twice the standard error; or "n/a"."""
    a = np.asarray(clr, dtype=float)
    b = np.asarray(fixed, dtype=float)
    if a.size < 2 or b.size < 2:
        return "n/a"
    diff = a.mean() - b.mean()
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    if diff > 2 * se:
        return "won"
    if diff < -2 * se:
        return "lost"
    return "tied"


def _rows(report, dataset, optimizer, arm=None):
    """The runs of a data set and optimizer (and arm, by name)."""
    return [
        r
        for r in report["runs"]
        if r["dataset"] == dataset
        and r["optimizer"] == optimizer
        and (arm is None or r["arm"] == arm)
    ]


def _tuning(report, key, arm):
    """An arm's tuning cost and rates, as the table shows them."""
    if arm.tuning == "grid":
        runs = len(report["grid_scores"][key]) * report["tuning_seeds"]
        budget = report["budgets"][key.split()[0]]
        return (
            f"{runs} runs x {budget} updates",
            f"{report['fixed_rates'][key]:.3g}",
        )
    if arm.tuning == "none":
        return "none (published rate)", "1e-2"
    steps = max(t["steps"] for t in report["range_tests"][key].values())
    return f"1 range test (<= {steps} updates)", None


def _entry(report, dataset, optimizer, arm, rows, fixed):
    """The summary of one arm's runs; `fixed` is the fixed arm's runs."""
    target = float(np.mean([r["final_val"] for r in fixed]))
    reach = [first_at(r["curve_steps"], r["curve_val"], target) for r in rows]
    curve = np.mean([r["curve_val"] for r in rows], axis=0)
    entry = {
        "dataset": dataset,
        "optimizer": optimizer,
        "arm": arm.name,
        "n": len(rows),
        "updates": rows[0]["updates"],
        "target_val": target,
        "updates_to_target": mean_std(reach)[0],
        "reached": sum(x is not None for x in reach),
        "mean_curve_updates_to_target": first_at(
            rows[0]["curve_steps"], curve, target
        ),
        "final_val": mean_std([r["final_val"] for r in rows]),
        "final_test": mean_std([r["final_test"] for r in rows]),
        "wall_s": mean_std([r["wall_s"] for r in rows])[0],
    }
    if dataset == "mnist1d":
        to94 = [
            first_at(r["curve_steps"], r["curve_test"], MNIST1D_TARGET)
            for r in rows
        ]
        entry["updates_to_94"] = mean_std(to94)[0]
        entry["reached_94"] = sum(x is not None for x in to94)
    entry["tuning"], entry["rates"] = _tuning(
        report, f"{dataset} {optimizer}", arm
    )
    if entry["rates"] is None:
        bases = np.median([r.get("base_lr") for r in rows])
        tops = np.median([r.get("max_lr") for r in rows])
        entry["rates"] = f"{bases:.3g}-{tops:.3g}"
        entry["verdict"] = verdict(
            [r["final_test"] for r in rows], [r["final_test"] for r in fixed]
        )
    return entry


def _goal_met(entries, half, fixed_test):
    """Marks each full CLR entry with the goal (PROTOCOL.md, "Goal")."""
    by_arm = {e["arm"]: e for e in entries}
    for full_arm, short_arm in GOALS:
        full = by_arm.get(full_arm.name)
        short = by_arm.get(short_arm.name)
        if full is None:
            continue
        target = full["target_val"]
        met = short is not None and (
            short["final_val"][0] >= target
            and short["final_test"][0] >= fixed_test
        )
        reach = full["mean_curve_updates_to_target"]
        met |= (
            reach is not None
            and reach <= half
            and full["final_test"][0] >= fixed_test
        )
        full["goal_met"] = bool(met)


def summarize(report):
    """Per data set, optimizer and headline arm: the summary entries."""
    summary = []
    for dataset, optimizer in itertools.product(
        report["datasets"], report["optimizers"]
    ):
        fixed = _rows(report, dataset, optimizer, "fixed")
        entries = []
        for arm in HEADLINE:
            rows = [
                r
                for r in _rows(report, dataset, optimizer, arm.name)
                if not r.get("failed")
            ]
            if rows:
                entries.append(
                    _entry(report, dataset, optimizer, arm, rows, fixed)
                )
        fixed_test = float(np.mean([r["final_test"] for r in fixed]))
        _goal_met(entries, report["budgets"][dataset] // 2, fixed_test)
        summary += entries
    return summary


def rule_table(report):
    """The rule comparison: each rule's score and cells."""
    table = []
    for rule, score in report["rule_scores"].items():
        entry = {"rule": rule, "score": score, "cells": {}}
        for dataset, optimizer, policy in itertools.product(
            report["datasets"], report["optimizers"], POLICIES
        ):
            key = f"{dataset} {optimizer}"
            tests = report["range_tests"][key].values()
            tops = [t["suggestions"][rule][1] for t in tests]
            rows = _rows(
                report, dataset, optimizer, rule_arm(rule, policy).name
            )
            entry["cells"][f"{key} {policy}"] = {
                "final_val": mean_std([r["final_val"] or 0.0 for r in rows]),
                "median_max_lr": float(np.nanmedian(tops))
                if np.isfinite(tops).any()
                else math.nan,
            }
        table.append(entry)
    return table


def complete(report):
    """Adds the "summary" and "rules" tables to a run's report."""
    report["summary"] = summarize(report)
    report["rules"] = rule_table(report)
    return report


def _fmt(pair, digits=3):
    """mean ± std, or "-"."""
    mean, std = pair
    if not math.isfinite(mean):
        return "-"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _fmt_updates(value, reached, n):
    """Updates to a target, with how many seeds reached it."""
    if reached == 0 or value is None or not math.isfinite(value):
        return f"never (0/{n})"
    return f"{value:,.0f} ({reached}/{n})"


def _pair_markdown(report, entries):
    """The headline table of one data set and optimizer."""
    name, opt = entries[0]["dataset"], entries[0]["optimizer"]
    lines = [
        f"**{name}, {opt}** (target: fixed's final validation "
        f"accuracy {entries[0]['target_val']:.3f}; B = "
        f"{report['budgets'][name]:,})",
        "",
    ]
    head = ["arm", "rates", "updates", "updates to target (val)"]
    if name == "mnist1d":
        head.append("updates to 94% (test)")
    head += ["final val", "final test", "s/run", "tuning cost", "vs fixed"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in entries:
        cells = [
            e["arm"],
            e["rates"],
            f"{e['updates']:,}",
            _fmt_updates(e["updates_to_target"], e["reached"], e["n"]),
        ]
        if name == "mnist1d":
            cells.append(
                _fmt_updates(e["updates_to_94"], e["reached_94"], e["n"])
            )
        cells += [
            _fmt(e["final_val"]),
            _fmt(e["final_test"]),
            f"{e['wall_s']:.1f}",
            e["tuning"],
            e.get("verdict", ""),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    goals = [
        f"{e['arm']}: {'met' if e['goal_met'] else 'not met'}"
        for e in entries
        if "goal_met" in e
    ]
    lines += [
        "",
        "Goal (half the updates, at least as accurate): "
        + "; ".join(goals)
        + ".",
        "",
    ]
    return lines


def _rules_markdown(report):
    """The rule comparison's table."""
    lines = [
        f"**Suggestion rules** (mean final validation accuracy after "
        f"B/2 updates, {min(RULE_SEEDS, report['seeds'])} seeds; "
        "median suggested max_lr in brackets)",
        "",
    ]
    cells = list(report["rules"][0]["cells"])
    lines.append("| rule | " + " | ".join(cells) + " | mean |")
    lines.append("|" + "---|" * (len(cells) + 2))
    for entry in report["rules"]:
        default = entry["rule"] == report["default_rule"]
        row = [entry["rule"] + (" (default)" if default else "")]
        for key in cells:
            cell = entry["cells"][key]
            row.append(
                f"{cell['final_val'][0]:.3f} ({cell['median_max_lr']:.2g})"
            )
        row.append(f"{entry['score']:.4f}")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def summary_markdown(report):
    """The headline and rule tables as Markdown."""
    lines = []
    groups = itertools.groupby(
        report["summary"], key=lambda e: (e["dataset"], e["optimizer"])
    )
    for _, entries in groups:
        lines += _pair_markdown(report, list(entries))
    lines += _rules_markdown(report)
    backend = report.get("backend")
    shown = f" (Keras backend: {backend})" if backend else ""
    lines += ["", f"Wall time: {report['wall_s']:.0f} s{shown}."]
    return "\n".join(lines) + "\n"


def _csv_row(row, targets):
    """A run as a runs.csv row, with its updates to the targets."""
    row = dict(row)
    if row.get("curve_steps"):
        target = targets.get((row["dataset"], row["optimizer"]))
        if target is not None:
            row["updates_to_target"] = first_at(
                row["curve_steps"], row["curve_val"], target
            )
        if row["dataset"] == "mnist1d":
            row["updates_to_94"] = first_at(
                row["curve_steps"], row["curve_test"], MNIST1D_TARGET
            )
    return row


def _json_default(value):
    """NumPy scalars as Python numbers, for json.dump."""
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(
        f"Cannot write {type(value).__name__} to JSON. Received: {value!r}"
    )


def write(report, output):
    """Writes runs.csv, runs.json, summary.md and a PNG per data set."""
    targets = {
        (e["dataset"], e["optimizer"]): e["target_val"]
        for e in report["summary"]
    }
    with open(os.path.join(output, "runs.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=CSV_FIELDS, extrasaction="ignore"
        )
        writer.writeheader()
        for row in report["runs"]:
            writer.writerow(_csv_row(row, targets))
    with open(os.path.join(output, "runs.json"), "w") as handle:
        json.dump(report, handle, indent=1, default=_json_default)
    with open(os.path.join(output, "summary.md"), "w") as handle:
        handle.write(summary_markdown(report))
    for name in report["datasets"]:
        plot(report, name, os.path.join(output, f"benchmark_{name}.png"))


def _plot_arm(ax, report, name, optimizer, arm, color):
    """Draws an arm's mean test accuracy and band; its y-range, or None."""
    rows = [
        r
        for r in _rows(report, name, optimizer, arm.name)
        if r.get("curve_steps")
    ]
    if not rows:
        return None
    steps = np.asarray(rows[0]["curve_steps"])
    curves = np.asarray([r["curve_test"] for r in rows])
    mean = curves.mean(0)
    style = ":" if arm.tuning == "none" else ("--" if arm.half else "-")
    ax.plot(
        steps,
        mean,
        style,
        color=f"C{color}",
        lw=2.5 if arm.name == "fixed" else 1.5,
        label=f"{arm.name} ({len(rows)} seeds)",
    )
    ax.fill_between(
        steps, curves.min(0), curves.max(0), color=f"C{color}", alpha=0.12, lw=0
    )
    return np.percentile(mean[len(mean) // 5 :], 5), curves.max()


def plot(report, name, path):
    """Test accuracy against updates, one panel per optimizer, to `path`."""
    figure_class = require_matplotlib("The benchmark's plots")
    optimizers = report["optimizers"]
    figure = figure_class(
        figsize=(6.5 * len(optimizers), 4.5), layout="constrained"
    )
    axes = figure.subplots(1, len(optimizers), squeeze=False)[0]
    for ax, opt in zip(axes, optimizers):
        spans = [
            _plot_arm(ax, report, name, opt, arm, color)
            for color, arm in enumerate(HEADLINE)
        ]
        spans = [s for s in spans if s is not None]
        if name == "mnist1d":
            ax.axhline(MNIST1D_TARGET, color="0.4", lw=0.8, ls=":")
        if spans:
            lows, highs = zip(*spans)
            ax.set_ylim(max(0.0, min(lows) - 0.03), min(1.0, max(highs) + 0.01))
        ax.set_title(
            f"{name}, {opt}: test accuracy, mean over seeds "
            "(band: lowest to highest seed)",
            fontsize="medium",
        )
        ax.set_xlabel("updates")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
    figure.savefig(path, dpi=100)
