"""`python -m clr_optimizers`: the demo, and the `plot` command.

```
python -m clr_optimizers [--updates N] [--report-every N]
python -m clr_optimizers plot [--mode MODE] [--base-lr X] [--max-lr X]
    [--step-size N] [--step-size-down N] [--gamma X] [--warmup-steps N]
    [--warmup-start-lr X] [--total-steps N|auto] [--pct-start X]
    [--final-div-factor X] [--anneal cos|linear] [--three-phase]
    [--base-momentum X --max-momentum X] [--iterations N] [--decay X]
    [--compare] [-o FILE.png|FILE.svg]
```
"""

import argparse
import os
import sys

from clr_optimizers._validation import number_or_text


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m clr_optimizers",
        description="Without a command: train the seed model with SGD, "
        "RMSprop and Adam in each cyclical mode and print the applied rate "
        "beside the formula; exits with status 1 if they disagree. "
        "With `plot`: draw a schedule to a PNG or SVG file "
        "(see `python -m clr_optimizers plot --help`).",
    )
    parser.add_argument(
        "--updates",
        type=int,
        default=None,
        help="demo: updates per run (default: 6000)",
    )
    parser.add_argument(
        "--report-every",
        type=int,
        default=None,
        help="demo: print every this many updates (default: 1000)",
    )
    commands = parser.add_subparsers(dest="command", metavar="{plot}")
    return parser, _add_plot_command(commands)


def _add_plot_command(commands):
    """The `plot` command and its options."""
    plot = commands.add_parser(
        "plot",
        help="draw the learning rate of a cyclical optimizer to a file",
        description="Draw the learning rate (and momentum) a cyclical "
        "optimizer applies, update by update, to a PNG or SVG file. The "
        "values are those of a clr_optimizers.SGD with these settings, from "
        "its own schedule; --compare draws the float64 formula "
        "(reference_learning_rate) over the rate. "
        "Needs matplotlib: pip install 'clr_optimizers[plot]'.",
    )
    plot.add_argument(
        "--mode",
        default="triangular",
        help="triangular, triangular2, exp_range or 1cycle "
        "(default: triangular)",
    )
    plot.add_argument(
        "--base-lr",
        type=number_or_text,
        default=0.001,
        help="base learning rate (the optimizer's learning_rate), the bottom "
        "of the cycle (default: 0.001)",
    )
    plot.add_argument(
        "--max-lr",
        type=number_or_text,
        default=0.006,
        help="the peak of the cycle (default: 0.006)",
    )
    cyclical = plot.add_argument_group("the cyclical modes")
    cyclical.add_argument(
        "--step-size",
        type=number_or_text,
        default=None,
        help="half a cycle (the rising half), in updates (default: 2000)",
    )
    cyclical.add_argument(
        "--step-size-down",
        type=number_or_text,
        default=None,
        help="the falling half of the cycle, in updates (default: --step-size)",
    )
    cyclical.add_argument(
        "--gamma",
        dest="clr_gamma",
        metavar="GAMMA",
        type=number_or_text,
        default=None,
        help="exp_range amplitude factor per update, in (0, 1] (default: 1.0)",
    )
    cyclical.add_argument(
        "--warmup-steps",
        type=number_or_text,
        default=None,
        help="a linear warm-up of this many updates before the cycle "
        "(default: none)",
    )
    cyclical.add_argument(
        "--warmup-start-lr",
        type=number_or_text,
        default=None,
        help="the warm-up's first rate (default: 0.0)",
    )
    one_cycle = plot.add_argument_group("mode 1cycle")
    one_cycle.add_argument(
        "--total-steps",
        type=number_or_text,
        default=None,
        help="the cycle's length in updates, or 'auto': --iterations "
        "(required)",
    )
    one_cycle.add_argument(
        "--pct-start",
        type=number_or_text,
        default=None,
        help="the rising fraction of the cycle, in (0, 1) (default: 0.3)",
    )
    one_cycle.add_argument(
        "--final-div-factor",
        type=number_or_text,
        default=None,
        help="the final rate is --base-lr divided by this, >= 1 (default: 1e4)",
    )
    one_cycle.add_argument(
        "--anneal",
        default=None,
        help="cos or linear (default: cos)",
    )
    one_cycle.add_argument(
        "--three-phase",
        action="store_true",
        default=None,
        help="fall back to the base rate before the final annealing",
    )
    momentum = plot.add_argument_group(
        "any mode: the cycled momentum, drawn below the rate"
    )
    momentum.add_argument(
        "--base-momentum",
        type=number_or_text,
        default=None,
        help="the momentum at the top of the rate's cycle, in (0, 1)",
    )
    momentum.add_argument(
        "--max-momentum",
        type=number_or_text,
        default=None,
        help="the momentum at the bottom of the rate's cycle, in (0, 1)",
    )
    plot.add_argument(
        "--iterations",
        type=number_or_text,
        default=None,
        help="number of updates drawn (default: 1cycle's length, or the "
        "warm-up and three cycles)",
    )
    plot.add_argument(
        "--decay",
        type=number_or_text,
        default=0.0,
        help="time-based decay of the base rate, "
        "base / (1 + decay * n) (default: 0.0)",
    )
    plot.add_argument(
        "--compare",
        action="store_true",
        help="also draw the float64 reference formula (cyclical modes)",
    )
    plot.add_argument(
        "-o",
        "--output",
        default="clr_schedule.png",
        help="output file, .png or .svg (default: clr_schedule.png)",
    )
    return plot


# The `clr` keys of the plot command, and their options.
CLR_OPTIONS = {
    "max_lr": "--max-lr",
    "step_size": "--step-size",
    "step_size_down": "--step-size-down",
    "clr_gamma": "--gamma",
    "warmup_steps": "--warmup-steps",
    "warmup_start_lr": "--warmup-start-lr",
    "total_steps": "--total-steps",
    "pct_start": "--pct-start",
    "final_div_factor": "--final-div-factor",
    "anneal": "--anneal",
    "three_phase": "--three-phase",
    "base_momentum": "--base-momentum",
    "max_momentum": "--max-momentum",
}
# Those of `plot_schedule`'s own keywords (`mode`, `base_lr`, ...).
KEYWORD_OPTIONS = ("max_lr", "step_size", "clr_gamma")


def _run_demo(parser, args):
    updates = 6000 if args.updates is None else args.updates
    report_every = 1000 if args.report_every is None else args.report_every
    if report_every <= 0 or updates < report_every:
        parser.error(
            "--report-every must be > 0 and at most --updates. "
            f"Received: --updates={updates}, "
            f"--report-every={report_every}"
        )
    from clr_optimizers._demo import run_demo

    return 0 if run_demo(updates, report_every) else 1


def _run_plot(parser, args):
    if args.updates is not None or args.report_every is not None:
        parser.error(
            "--updates and --report-every belong to the demo, not "
            f"to `plot`. Received: --updates={args.updates}, "
            f"--report-every={args.report_every}"
        )
    suffix = os.path.splitext(args.output)[1].lower()
    if suffix not in (".png", ".svg"):
        parser.error(
            "-o/--output must end in .png or .svg. "
            f"Received: --output={args.output!r}"
        )
    try:
        from clr_optimizers._plotting import require_matplotlib

        require_matplotlib("Drawing a schedule")
    except ImportError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1

    from clr_optimizers._plotting import plot_schedule

    try:
        settings = _plot_settings(args)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    try:
        fig = plot_schedule(compare=args.compare, **settings)
    except (TypeError, ValueError) as error:
        # The checks of the `clr` dict (the rest is checked above).
        parser.error(_with_options(str(error)))
    try:
        save_options = (
            {"metadata": {"Date": None}} if suffix == ".svg" else {"dpi": 110}
        )
        fig.savefig(args.output, format=suffix[1:], **save_options)
    except OSError as error:
        print(
            f"{parser.prog}: error: cannot write {args.output!r}: {error}",
            file=sys.stderr,
        )
        return 1
    print(f"Wrote {args.output}")
    return 0


def _plot_settings(args):
    """The keywords of `plot_schedule` that the options give: a cyclical
    mode's own keywords, or else a `clr` dict."""
    from clr_optimizers._validation import CLR_MODES
    from clr_optimizers._validation import COMMON_KEYS
    from clr_optimizers._validation import CYCLIC_KEYS
    from clr_optimizers._validation import MODES
    from clr_optimizers._validation import ONE_CYCLE
    from clr_optimizers._validation import ONE_CYCLE_KEYS
    from clr_optimizers._validation import check_choice
    from clr_optimizers._validation import check_iterations
    from clr_optimizers._validation import check_rate

    mode = check_choice(args.mode, "--mode", CLR_MODES)
    given = {
        key: getattr(args, key)
        for key in CLR_OPTIONS
        if getattr(args, key) is not None
    }
    settings = {"decay": check_rate(args.decay, "--decay")}
    if args.iterations is not None:
        settings["iterations"] = check_iterations(
            args.iterations, "--iterations"
        )
    base_lr = check_rate(args.base_lr, "--base-lr")
    if mode in MODES and set(given) <= set(KEYWORD_OPTIONS):
        return {**_keyword_settings(mode, base_lr, args), **settings}
    own_keys = ONE_CYCLE_KEYS if mode == ONE_CYCLE else CYCLIC_KEYS
    for key in given:
        if key not in COMMON_KEYS + own_keys:
            where = "a cyclical mode" if mode == ONE_CYCLE else "1cycle"
            raise ValueError(
                f"`{CLR_OPTIONS[key]}` applies only to --mode {where}. "
                f"Received: --mode={mode!r}, {CLR_OPTIONS[key]}={given[key]!r}"
            )
    for first, second in (
        ("base_momentum", "max_momentum"),
        ("warmup_start_lr", "warmup_steps"),
    ):
        if first in given and second not in given:
            raise ValueError(
                f"`{CLR_OPTIONS[first]}` needs `{CLR_OPTIONS[second]}`. "
                f"Received: {CLR_OPTIONS[first]}={given[first]!r}, "
                f"{CLR_OPTIONS[second]}=None"
            )
    if "max_momentum" in given and "base_momentum" not in given:
        raise ValueError(
            "`--max-momentum` needs `--base-momentum`. Received: "
            f"--max-momentum={given['max_momentum']!r}, --base-momentum=None"
        )
    if mode == ONE_CYCLE and "total_steps" not in given:
        raise ValueError(
            "--mode 1cycle needs `--total-steps`: the cycle's length in "
            "updates, or 'auto' (--iterations). Received: --total-steps=None"
        )
    if args.compare and mode == ONE_CYCLE:
        raise ValueError(
            "`--compare` draws the formula of the cyclical modes; --mode "
            "1cycle has none. Received: --compare with --mode='1cycle'"
        )
    if given.get("total_steps") == "auto" and args.iterations is None:
        raise ValueError(
            "`--total-steps` 'auto' spans the updates drawn: give "
            "`--iterations`. Received: --total-steps='auto', "
            "--iterations=None"
        )
    clr = {"mode": mode, **given}
    if mode != ONE_CYCLE:
        clr.setdefault("step_size", 2000)
    return {"clr": clr, "learning_rate": base_lr, **settings}


def _keyword_settings(mode, base_lr, args):
    """`plot_schedule`'s own keywords of a cyclical mode, checked."""
    from clr_optimizers._validation import check_gamma
    from clr_optimizers._validation import check_rate
    from clr_optimizers._validation import check_step_size

    step_size = 2000 if args.step_size is None else args.step_size
    gamma = 1.0 if args.clr_gamma is None else args.clr_gamma
    return {
        "mode": mode,
        "base_lr": base_lr,
        "max_lr": check_rate(args.max_lr, "--max-lr"),
        "step_size": check_step_size(step_size, "--step-size"),
        "gamma": check_gamma(gamma, mode, "--gamma"),
    }


def _with_options(message):
    """An error of the `clr` checks, naming the command's options."""
    for key, option in CLR_OPTIONS.items():
        message = message.replace(f"clr[{key!r}]", option)
    return message


def main(argv=None):
    """Runs the demo, or the `plot` command; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser, plot_parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "plot":
        return _run_plot(plot_parser, args)
    return _run_demo(parser, args)


if __name__ == "__main__":
    sys.exit(main())
