"""`python -m clr_optimizers`: the demo, and the `plot` command.

```
python -m clr_optimizers [--updates N] [--report-every N]
python -m clr_optimizers plot [--mode MODE] [--base-lr X] [--max-lr X]
    [--step-size N] [--gamma X] [--iterations N] [--decay X] [--compare]
    [-o FILE.png|FILE.svg]
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
        description="Draw the learning rate a cyclical optimizer applies, "
        "update by update, to a PNG or SVG file. The rate is read from a "
        "clr_optimizers.SGD stepped with these settings; --compare draws the "
        "float64 formula (reference_learning_rate) over it. "
        "Needs matplotlib: pip install 'clr_optimizers[plot]'.",
    )
    plot.add_argument(
        "--mode",
        default="triangular",
        help="triangular, triangular2 or exp_range (default: triangular)",
    )
    plot.add_argument(
        "--base-lr",
        type=number_or_text,
        default=0.001,
        help="base learning rate, the bottom of the cycle (default: 0.001)",
    )
    plot.add_argument(
        "--max-lr",
        type=number_or_text,
        default=0.006,
        help="the peak of the cycle (default: 0.006)",
    )
    plot.add_argument(
        "--step-size",
        type=number_or_text,
        default=2000,
        help="half a cycle, in updates (default: 2000)",
    )
    plot.add_argument(
        "--gamma",
        type=number_or_text,
        default=1.0,
        help="exp_range amplitude factor per update, in (0, 1] (default: 1.0)",
    )
    plot.add_argument(
        "--iterations",
        type=number_or_text,
        default=None,
        help="number of updates drawn (default: 6 * step size, three cycles)",
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
        help="also draw the float64 reference formula",
    )
    plot.add_argument(
        "-o",
        "--output",
        default="clr_schedule.png",
        help="output file, .png or .svg (default: clr_schedule.png)",
    )
    return plot


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
    from clr_optimizers._validation import check_gamma
    from clr_optimizers._validation import check_iterations
    from clr_optimizers._validation import check_mode
    from clr_optimizers._validation import check_rate
    from clr_optimizers._validation import check_step_size

    try:
        mode = check_mode(args.mode, "--mode")
        settings = {
            "mode": mode,
            "base_lr": check_rate(args.base_lr, "--base-lr"),
            "max_lr": check_rate(args.max_lr, "--max-lr"),
            "step_size": check_step_size(args.step_size, "--step-size"),
            "gamma": check_gamma(args.gamma, mode, "--gamma"),
            "decay": check_rate(args.decay, "--decay"),
        }
        if args.iterations is not None:
            settings["iterations"] = check_iterations(
                args.iterations, "--iterations"
            )
    except (TypeError, ValueError) as error:
        parser.error(str(error))

    fig = plot_schedule(compare=args.compare, **settings)
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
