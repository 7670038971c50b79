"""The benchmark's tables, summary.md, runs.csv, runs.json and plots
(PROTOCOL.md, "Reported" and "Verdict and goal")."""

import csv
import itertools
import json
import math
import os

import numpy as np

from benchmarks.accuracy.arms import ALGOPERF
from benchmarks.accuracy.arms import ARMS
from benchmarks.accuracy.arms import BASELINES
from benchmarks.accuracy.arms import GOAL_ARMS
from benchmarks.accuracy.arms import REFERENCES
from benchmarks.accuracy.arms import SCHEDULE_FREE
from benchmarks.accuracy.arms import WORKFLOWS
from benchmarks.accuracy.arms import algoperf_warmup
from benchmarks.accuracy.arms import arm_named
from benchmarks.accuracy.tasks import METRICS
from clr_optimizers._plotting import require_matplotlib

CSV_FIELDS = (
    "task",
    "role",
    "metric",
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
# A goal arm's tuning may cost at most this share of the cosine grid's; the
# goal's criteria that must hold on every pair (the others: on most pairs).
TUNING_SHARE = 0.2
EVERY_PAIR = ("ties or beats cosine", "tuning <= cosine grid / 5")
VERSUS = "vs " + " / ".join(b.name for b in BASELINES)


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


def metric_of(report, task):
    """The task's metric, a key of `tasks.METRICS` ("accuracy" or "r2")."""
    return report.get("metrics", {}).get(task, "accuracy")


def metric_name(report, task):
    """The task's metric as the tables name it: "accuracy" or "R²"."""
    return METRICS[metric_of(report, task)]


def arms_of(report):
    """The arms of the run, in the tables' order."""
    return [arm_named(name) for name in report.get("arms", ARMS)]


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
    """An arm's tuning cost in updates.

    A grid's runs; the range tests' and the `find_max_lr` searches' steps
    per seed, the mean over the seeds.
    """
    if arm.tuning == "none":
        return 0
    if arm.tuning == "grid":
        rates = len(report["grid_scores"][f"{task} {optimizer} {arm.kind}"])
        return rates * report["tuning_seeds"] * report["budgets"][task]
    if arm.tuning == "find_max_lr":
        choices = report["find_max_lr"][f"{task} {optimizer}"].values()
        return float(np.mean([c["cost"] for c in choices]))
    tests = report["range_tests"][f"{task} {optimizer}"].values()
    return float(np.mean([t["steps"] for t in tests]))


def _rates(report, task, optimizer, arm, rows):
    """The arm's rates as the table shows them."""
    if arm.tuning in ("range test", "find_max_lr"):
        tops = [r["max_lr"] for r in rows if "max_lr" in r]
        return f"max {np.median(tops):.3g}" if tops else "-"
    if arm.tuning == "grid":
        rate = report["tuned_rates"][f"{task} {optimizer} {arm.kind}"]
        return f"{'peak ' if arm.kind == 'cosine' else ''}{rate:.3g}"
    if not rows:
        return "-"
    if arm.kind == "schedule-free-algoperf":
        warmup = algoperf_warmup(report["budgets"][task])
        return (
            f"{rows[0]['lr']:.3g}, beta_2 {ALGOPERF['beta_2']}, weight decay "
            f"{ALGOPERF['weight_decay']}, warm-up {warmup}"
        )
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
        "metric": metric_of(report, task),
        "optimizer": optimizer,
        "arm": arm.name,
        "n": len(rows),
        "updates": rows[0]["updates"],
        "rates": _rates(report, task, optimizer, arm, good),
        "target_val": target,
        "updates_to_target": to_target,
        "reached": len(reached),
        "tuning_updates": tuning,
        "tuning_budgets": tuning / report["budgets"][task],
        "compute_to_target": tuning + to_target,
        "final_val": mean_std([r["final_val"] for r in rows]),
        "final_test": mean_std([r["final_test"] for r in rows]),
        "tests": [r["final_test"] for r in rows],
        "diverged": sum(bool(r.get("diverged")) for r in rows),
        "wall_s": mean_std([r.get("wall_s") for r in good])[0],
    }


def _judge(entries):
    """Each judged arm's verdicts against the baselines; the goal arms'
    criteria on this pair."""
    by_arm = {e["arm"]: e for e in entries}
    references = {a.name for a in REFERENCES}
    for entry in entries:
        if entry["arm"] in references:
            continue
        entry["verdicts"] = {
            b.name: verdict(entry["tests"], by_arm[b.name]["tests"])
            for b in BASELINES
            if b.name in by_arm and b.name != entry["arm"]
        }
    if "cosine" not in by_arm or "defaults" not in by_arm:
        return
    grid = by_arm["cosine"]["tuning_updates"]
    for arm in GOAL_ARMS:
        entry = by_arm.get(arm.name)
        if entry is None:
            continue
        v = entry["verdicts"]
        entry["goal"] = {
            "ties or beats cosine": v["cosine"] in ("won", "tied"),
            "beats defaults": v["defaults"] == "won",
        }
        if SCHEDULE_FREE.name in v:
            entry["goal"]["beats schedule-free"] = (
                v[SCHEDULE_FREE.name] == "won"
            )
        entry["goal"]["tuning <= cosine grid / 5"] = (
            entry["tuning_updates"] <= TUNING_SHARE * grid
        )


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
            for arm in arms_of(report)
            if (rows := rows_of(report, task, optimizer, arm.name))
        ]
        _judge(entries)
        summary += entries
    return summary


def goal_met(criteria):
    """Whether the goal holds over a role's pairs (PROTOCOL.md).

    Args:
        criteria: {criterion: [pairs where it holds, pairs]}: those of
            `EVERY_PAIR` must hold on every pair, the others on most (more
            than half).
    """
    return all(
        held == pairs if name in EVERY_PAIR else 2 * held > pairs
        for name, (held, pairs) in criteria.items()
    )


def scoreboard(summary):
    """Each judged arm's won/tied/lost against each baseline, per task role.

    Returns:
        {role: {arm: {baseline: {"won", "tied", "lost"}}}} over the (task,
        optimizer) pairs the arm ran; a goal arm's also has "goal",
        {criterion: [pairs where it holds, pairs]}, and "goal met".
    """
    board = {}
    for entry in summary:
        if "verdicts" not in entry:
            continue
        role = board.setdefault(entry["role"], {})
        arm = role.setdefault(
            entry["arm"],
            {b.name: {"won": 0, "tied": 0, "lost": 0} for b in BASELINES},
        )
        for baseline, outcome in entry["verdicts"].items():
            if outcome in arm[baseline]:
                arm[baseline][outcome] += 1
        for name, held in entry.get("goal", {}).items():
            counts = arm.setdefault("goal", {}).setdefault(name, [0, 0])
            counts[0] += bool(held)
            counts[1] += 1
    for role in board.values():
        for arm in role.values():
            if "goal" in arm:
                arm["goal met"] = goal_met(arm["goal"])
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


def _fmt_tuning(entry):
    """A tuning cost in updates and in budgets B."""
    return f"{entry['tuning_updates']:,.0f} ({entry['tuning_budgets']:.2g} B)"


def _pair_markdown(report, entries):
    """The table of one task and optimizer."""
    first = entries[0]
    task = first["task"]
    name = metric_name(report, task)
    lines = [
        f"**{task}** ({first['role']}), **{first['optimizer']}**: target "
        f"= fixed's mean final validation {name} "
        f"{first['target_val']:.3f}; B = {report['budgets'][task]:,}",
        "",
    ]
    head = [
        "arm",
        "rates",
        "updates",
        f"final test {name}",
        f"final val {name}",
        "updates to target",
        "tuning (updates)",
        "tuning + updates to target",
        "diverged",
        VERSUS,
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
            _fmt_tuning(e),
            f"{compute:,.0f}" if math.isfinite(compute) else "-",
            f"{e['diverged']}/{e['n']}",
            _fmt_verdicts(verdicts) if verdicts else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for e in entries:
        if "goal" in e:
            held = [k for k, ok in e["goal"].items() if ok]
            missed = [k for k, ok in e["goal"].items() if not ok]
            lines += [
                "",
                f"Goal criteria ({e['arm']}) on this pair: held: "
                + (", ".join(held) or "none")
                + "; missed: "
                + (", ".join(missed) or "none")
                + ".",
            ]
    lines.append("")
    return lines


def _fmt_verdicts(verdicts):
    """Verdicts against each baseline, "-" where there is none."""
    return " / ".join(verdicts.get(b.name, "-") for b in BASELINES)


def _fmt_goal(board):
    """A goal arm's goal over a role's pairs: met or missed, and how often
    each criterion held."""
    counts = ", ".join(
        f"{name} {held}/{pairs}"
        + (" (every pair)" if name in EVERY_PAIR else " (most pairs)")
        for name, (held, pairs) in board["goal"].items()
    )
    return f"{'met' if board['goal met'] else 'missed'}: {counts}"


def scoreboard_markdown(report):
    """Each judged arm's won/tied/lost per task role, and the goal, as
    Markdown."""
    lines = [
        "| tasks | arm | vs "
        + " | vs ".join(b.name for b in BASELINES)
        + " | goal |",
        "|" + "---|" * (len(BASELINES) + 3),
    ]
    for role, arms in report["scoreboard"].items():
        for arm, board in arms.items():
            cells = [
                "{won} won, {tied} tied, {lost} lost".format(**board[b.name])
                for b in BASELINES
            ]
            goal = _fmt_goal(board) if "goal" in board else "-"
            lines.append(
                f"| {role} | {arm} | " + " | ".join(cells) + f" | {goal} |"
            )
    return lines


def _pairs(report):
    """The summary's entries grouped by (task, optimizer), as lists."""
    groups = itertools.groupby(
        report["summary"], key=lambda e: (e["task"], e["optimizer"])
    )
    return [(key, list(entries)) for key, entries in groups]


def headline_markdown(report):
    """Every arm's final test score, and the package's workflows' verdicts,
    per task and optimizer."""
    names = [arm.name for arm in arms_of(report)]
    judged = [a.name for a in WORKFLOWS if a.name in names]
    head = ["task", "metric", "optimizer", *names]
    head += [f"{n} {VERSUS}" for n in judged]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, optimizer), entries in _pairs(report):
        by_arm = {e["arm"]: e for e in entries}
        cells = [task, metric_name(report, task), optimizer]
        cells += [
            _fmt(by_arm[n]["final_test"]) if n in by_arm else "-" for n in names
        ]
        for name in judged:
            cells.append(
                _fmt_verdicts(by_arm.get(name, {}).get("verdicts", {}))
            )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def grid_budgets(report):
    """A grid's tuning cost in budgets B: its rates times the tuning seeds."""
    scores = next(iter(report["grid_scores"].values()), {})
    return len(scores) * report["tuning_seeds"]


def tuning_markdown(report):
    """Each tuned arm's cost per task and optimizer, in updates and in B."""
    tuned = [arm for arm in arms_of(report) if arm.tuning != "none"]
    head = ["task", "optimizer", "B", *[a.name for a in tuned]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, optimizer), entries in _pairs(report):
        by_arm = {e["arm"]: e for e in entries}
        cells = [task, optimizer, f"{report['budgets'][task]:,}"]
        cells += [
            _fmt_tuning(by_arm[a.name]) if a.name in by_arm else "-"
            for a in tuned
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def summary_markdown(report):
    """The scoreboard, the headline, the tuning costs and the per-task
    tables, as Markdown."""
    lines = [
        f"Keras {report.get('keras', '?')}, backend "
        f"{report.get('backend', '?')}; {report['seeds']} seeds; suggestion "
        f"rule `{report['rule']}` (the median pair of 3 range tests); wall "
        f"time {report['wall_s']:.0f} s.",
        "",
        "**Each arm against the baselines** (final test score: accuracy, or "
        "R² on a regression; mean over seeds; the verdict rule and the goal "
        "are PROTOCOL.md's; schedule-free runs on the Adam pairs only):",
        "",
    ]
    lines += scoreboard_markdown(report) + [""]
    lines += ["**Final test score**, mean ± std over seeds:", ""]
    lines += headline_markdown(report) + [""]
    lines += [
        "**Tuning cost**, in updates per seed's run, and in budgets B (a "
        f"grid is {grid_budgets(report)} B):",
        "",
    ]
    lines += tuning_markdown(report) + [""]
    for _, entries in _pairs(report):
        lines += _pair_markdown(report, entries)
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
    """Draws an arm's mean test score and band; its y-range, or None."""
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
    ax.plot(
        steps,
        mean,
        ":" if arm.tuning == "none" else "-",
        color=f"C{color}",
        lw=2.5 if arm in WORKFLOWS else 1.5,
        label=f"{arm.name} ({len(rows)} seeds)",
    )
    ax.fill_between(
        steps, curves.min(0), curves.max(0), color=f"C{color}", alpha=0.12, lw=0
    )
    return np.percentile(mean[len(mean) // 5 :], 5), curves.max()


def plot(report, name, path):
    """Test score against updates, one panel per optimizer, to `path`."""
    figure_class = require_matplotlib("The benchmark's plots")
    optimizers = report["optimizers"]
    label = f"test {metric_name(report, name)}"
    figure = figure_class(
        figsize=(6.5 * len(optimizers), 4.5), layout="constrained"
    )
    axes = figure.subplots(1, len(optimizers), squeeze=False)[0]
    for ax, opt in zip(axes, optimizers):
        spans = [
            _plot_arm(ax, report, name, opt, arm, color)
            for color, arm in enumerate(arms_of(report))
        ]
        spans = [s for s in spans if s is not None]
        if spans:
            lows, highs = zip(*spans)
            ax.set_ylim(max(0.0, min(lows) - 0.03), min(1.0, max(highs) + 0.01))
        ax.set_title(
            f"{name}, {opt}: {label}, mean over seeds "
            "(band: lowest to highest seed)",
            fontsize="medium",
        )
        ax.set_xlabel("updates")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
    figure.savefig(path, dpi=100)
