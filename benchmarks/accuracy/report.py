"""The benchmark's tables, summary.md, runs.csv, runs.json and plots
(PROTOCOL.md, "Reported" and "Verdict and goal")."""

import csv
import itertools
import json
import math
import os

import numpy as np

from benchmarks.accuracy.arms import BASELINES
from benchmarks.accuracy.arms import HEADLINE
from benchmarks.accuracy.arms import ONE_CYCLE
from clr_optimizers._plotting import require_matplotlib

CSV_FIELDS = (
    "task",
    "role",
    "optimizer",
    "arm",
    "seed",
    "updates",
    "lr",
    "base_lr",
    "max_lr",
    "updates_to_target",
    "final_val",
    "final_test",
    "diverged",
    "wall_s",
)
# 1cycle's tuning may cost at most this share of a grid's (PROTOCOL.md).
TUNING_SHARE = 0.2


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


def verdict(arm, baseline):
    """ "won", "lost" or "tied" beyond twice the standard error; or "n/a".

    Examples:
        >>> verdict([0.9, 0.91, 0.92], [0.8, 0.81, 0.82])
        'won'
        >>> verdict([0.9, 0.8, 0.85], [0.86, 0.84, 0.85])
        'tied'
    """
    a = np.asarray(arm, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if a.size < 2 or b.size < 2:
        return "n/a"
    diff = a.mean() - b.mean()
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    if diff > 2 * se:
        return "won"
    if diff < -2 * se:
        return "lost"
    return "tied"


def rows_of(report, task, optimizer, arm=None):
    """The runs of a task and optimizer (and arm, by name)."""
    return [
        r
        for r in report["runs"]
        if r["task"] == task
        and r["optimizer"] == optimizer
        and (arm is None or r["arm"] == arm)
    ]


def tuning_cost(report, task, optimizer, arm):
    """An arm's tuning cost in updates (range tests: per seed, mean)."""
    if arm.tuning == "none":
        return 0
    if arm.tuning == "grid":
        rates = len(report["grid_scores"][f"{task} {optimizer} {arm.kind}"])
        return rates * report["tuning_seeds"] * report["budgets"][task]
    tests = report["range_tests"][f"{task} {optimizer}"].values()
    return float(np.mean([t["steps"] for t in tests]))


def _rates(report, task, optimizer, arm, rows):
    """The arm's rates as the table shows them."""
    if arm.tuning == "range test":
        tops = [r["max_lr"] for r in rows if "max_lr" in r]
        return f"max {np.median(tops):.3g}" if tops else "-"
    if arm.tuning == "grid":
        rate = report["tuned_rates"][f"{task} {optimizer} {arm.kind}"]
        return f"{'peak ' if arm.kind == 'cosine' else ''}{rate:.3g}"
    return f"{rows[0]['lr']:.3g}"


def _entry(report, task, optimizer, arm, rows, target):
    """The summary of one arm's runs; `target`: fixed's mean final val."""
    good = [r for r in rows if not r.get("failed")]
    reach = [first_at(r["curve_steps"], r["curve_val"], target) for r in good]
    reached = [x for x in reach if x is not None]
    tuning = tuning_cost(report, task, optimizer, arm)
    to_target = float(np.mean(reached)) if reached else math.nan
    return {
        "task": task,
        "role": report["roles"][task],
        "optimizer": optimizer,
        "arm": arm.name,
        "n": len(rows),
        "updates": rows[0]["updates"],
        "rates": _rates(report, task, optimizer, arm, good),
        "target_val": target,
        "updates_to_target": to_target,
        "reached": len(reached),
        "tuning_updates": tuning,
        "compute_to_target": tuning + to_target,
        "final_val": mean_std([r["final_val"] for r in rows]),
        "final_test": mean_std([r["final_test"] for r in rows]),
        "tests": [r["final_test"] for r in rows],
        "diverged": sum(bool(r.get("diverged")) for r in rows),
        "wall_s": mean_std([r.get("wall_s") for r in good])[0],
    }


def _judge(entries):
    """Each range-test arm's verdicts against the baselines."""
    by_arm = {e["arm"]: e for e in entries}
    for entry in entries:
        if entry["arm"] in {b.name for b in BASELINES}:
            continue
        entry["verdicts"] = {
            b.name: verdict(entry["tests"], by_arm[b.name]["tests"])
            for b in BASELINES
            if b.name in by_arm
        }
    one_cycle = by_arm.get(ONE_CYCLE.name)
    if one_cycle is None or "fixed" not in by_arm or "cosine" not in by_arm:
        return
    v = one_cycle["verdicts"]
    grid = min(
        by_arm["fixed"]["tuning_updates"], by_arm["cosine"]["tuning_updates"]
    )
    one_cycle["goal"] = {
        "ties or beats fixed": v["fixed"] in ("won", "tied"),
        "ties or beats cosine": v["cosine"] in ("won", "tied"),
        "beats defaults": v["defaults"] == "won",
        "no run diverged": one_cycle["diverged"] == 0,
        "tuning <= grid / 5": one_cycle["tuning_updates"]
        <= TUNING_SHARE * grid,
    }
    one_cycle["goal_met"] = all(one_cycle["goal"].values())


def summarize(report):
    """Per task, optimizer and arm: the summary entries."""
    summary = []
    for task, optimizer in itertools.product(
        report["tasks"], report["optimizers"]
    ):
        fixed = rows_of(report, task, optimizer, "fixed")
        target = float(np.mean([r["final_val"] for r in fixed]))
        entries = [
            _entry(report, task, optimizer, arm, rows, target)
            for arm in HEADLINE
            if (rows := rows_of(report, task, optimizer, arm.name))
        ]
        _judge(entries)
        summary += entries
    return summary


def scoreboard(summary):
    """1cycle's won/tied/lost against each baseline, per task role."""
    board = {}
    for entry in summary:
        if entry["arm"] != ONE_CYCLE.name:
            continue
        role = board.setdefault(
            entry["role"],
            {b.name: {"won": 0, "tied": 0, "lost": 0} for b in BASELINES},
        )
        for baseline, outcome in entry["verdicts"].items():
            if outcome in role[baseline]:
                role[baseline][outcome] += 1
        role.setdefault("goal met", [0, 0])
        role["goal met"][0] += bool(entry.get("goal_met"))
        role["goal met"][1] += 1
    return board


def complete(report):
    """Adds the "summary" and "scoreboard" tables to a run's report."""
    report["summary"] = summarize(report)
    report["scoreboard"] = scoreboard(report["summary"])
    return report


def _fmt(pair, digits=3):
    """mean ± std, or "-"."""
    mean, std = pair
    if not math.isfinite(mean):
        return "-"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _fmt_updates(value, reached, n):
    """Updates to a target, with how many seeds reached it."""
    if reached == 0 or not math.isfinite(value):
        return f"never (0/{n})"
    return f"{value:,.0f} ({reached}/{n})"


def _pair_markdown(report, entries):
    """The table of one task and optimizer."""
    first = entries[0]
    task = first["task"]
    lines = [
        f"**{task}** ({first['role']}), **{first['optimizer']}**: target "
        f"= fixed's mean final validation accuracy "
        f"{first['target_val']:.3f}; B = {report['budgets'][task]:,}",
        "",
    ]
    head = [
        "arm",
        "rates",
        "updates",
        "final test",
        "final val",
        "updates to target",
        "tuning (updates)",
        "tuning + updates to target",
        "diverged",
        "vs defaults / fixed / cosine",
    ]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in entries:
        verdicts = e.get("verdicts")
        compute = e["compute_to_target"]
        cells = [
            e["arm"],
            e["rates"],
            f"{e['updates']:,}",
            _fmt(e["final_test"]),
            _fmt(e["final_val"]),
            _fmt_updates(e["updates_to_target"], e["reached"], e["n"]),
            f"{e['tuning_updates']:,.0f}",
            f"{compute:,.0f}" if math.isfinite(compute) else "-",
            f"{e['diverged']}/{e['n']}",
            " / ".join(verdicts.get(b.name, "-") for b in BASELINES)
            if verdicts
            else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for e in entries:
        if "goal" in e:
            missed = [k for k, ok in e["goal"].items() if not ok]
            lines += [
                "",
                "Goal (1cycle): "
                + ("met" if e["goal_met"] else "missed: " + ", ".join(missed))
                + ".",
            ]
    lines.append("")
    return lines


def scoreboard_markdown(report):
    """1cycle's won/tied/lost per task role, as Markdown."""
    lines = [
        "| tasks | vs "
        + " | vs ".join(b.name for b in BASELINES)
        + " | goal met |",
        "|" + "---|" * (len(BASELINES) + 2),
    ]
    for role, board in report["scoreboard"].items():
        cells = [
            "{won} won, {tied} tied, {lost} lost".format(**board[b.name])
            for b in BASELINES
        ]
        met, total = board["goal met"]
        lines.append(
            f"| {role} | " + " | ".join(cells) + f" | {met} of {total} |"
        )
    return lines


def headline_markdown(report):
    """Final test accuracy of the baselines and 1cycle, per task."""
    names = [b.name for b in BASELINES] + [ONE_CYCLE.name]
    lines = [
        "| task | optimizer | " + " | ".join(names) + " | 1cycle vs "
        "defaults / fixed / cosine |",
        "|" + "---|" * (len(names) + 3),
    ]
    groups = itertools.groupby(
        report["summary"], key=lambda e: (e["task"], e["optimizer"])
    )
    for (task, optimizer), entries in groups:
        by_arm = {e["arm"]: e for e in entries}
        cells = [_fmt(by_arm[n]["final_test"]) for n in names if n in by_arm]
        verdicts = by_arm.get(ONE_CYCLE.name, {}).get("verdicts", {})
        shown = " / ".join(verdicts.get(b.name, "-") for b in BASELINES)
        lines.append(
            f"| {task} | {optimizer} | " + " | ".join(cells) + f" | {shown} |"
        )
    return lines


def summary_markdown(report):
    """The scoreboard, the headline and the per-task tables as Markdown."""
    lines = [
        f"Keras {report.get('keras', '?')}, backend "
        f"{report.get('backend', '?')}; {report['seeds']} seeds; suggestion "
        f"rule `{report['rule']}` (the median pair of 3 range tests); wall "
        f"time {report['wall_s']:.0f} s.",
        "",
        "**1cycle against the baselines** (final test accuracy, mean over "
        "seeds; the verdict rule is PROTOCOL.md's):",
        "",
    ]
    lines += scoreboard_markdown(report) + [""]
    lines += headline_markdown(report) + [""]
    groups = itertools.groupby(
        report["summary"], key=lambda e: (e["task"], e["optimizer"])
    )
    for _, entries in groups:
        lines += _pair_markdown(report, list(entries))
    return "\n".join(lines) + "\n"


def _csv_row(row, targets):
    """A run as a runs.csv row, with its updates to the target."""
    row = dict(row)
    target = targets.get((row["task"], row["optimizer"]))
    if row.get("curve_steps") and target is not None:
        row["updates_to_target"] = first_at(
            row["curve_steps"], row["curve_val"], target
        )
    return row


def _json_default(value):
    """NumPy scalars as Python numbers, for json.dump."""
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(
        f"Cannot write {type(value).__name__} to JSON. Received: {value!r}"
    )


def write(report, output):
    """Writes runs.csv, runs.json, summary.md and a PNG per task."""
    targets = {
        (e["task"], e["optimizer"]): e["target_val"] for e in report["summary"]
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
    for name in report["tasks"]:
        plot(report, name, os.path.join(output, f"benchmark_{name}.png"))


def _plot_arm(ax, report, name, optimizer, arm, color):
    """Draws an arm's mean test accuracy and band; its y-range, or None."""
    rows = [
        r
        for r in rows_of(report, name, optimizer, arm.name)
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
        lw=2.5 if arm.name == ONE_CYCLE.name else 1.5,
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
