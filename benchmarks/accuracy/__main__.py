"""`python -m benchmarks.accuracy`: the accuracy benchmark's command line.

```
python -m benchmarks.accuracy [--dataset mnist1d|digits|all]
    [--optimizer sgd|adam|all] [--seeds N] [--quick] [-o/--out DIR]
```

Run it from the repository root. The protocol is in PROTOCOL.md, next to
this file.
"""

import argparse
import sys

from benchmarks.accuracy import report
from benchmarks.accuracy import run
from clr_optimizers._validation import number_or_text


def build_parser():
    """The command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.accuracy",
        description="Train the MNIST-1D CNN and a digits MLP with SGD "
        "(momentum 0.9) and Adam: a tuned fixed rate (grid search on "
        "validation), Keras's CosineDecay with warmup, and triangular2 and "
        "1cycle from lr_range_test's suggestions; writes runs.csv, "
        "runs.json, summary.md and a PNG per data set to -o DIR. Runs on "
        "any Keras backend (KERAS_BACKEND). The protocol is in "
        "benchmarks/accuracy/PROTOCOL.md. Needs the benchmark extra: "
        f"{run.INSTALL_HINT}, from the repository root.",
    )
    parser.add_argument(
        "--dataset", default="all", help="mnist1d, digits or all (default: all)"
    )
    parser.add_argument(
        "--optimizer", default="all", help="sgd, adam or all (default: all)"
    )
    parser.add_argument(
        "--seeds",
        type=number_or_text,
        default=None,
        help="number of seeds, >= 1 (default: 5, or 1 with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny budgets: a smoke test of every arm "
        "(under a minute; the numbers mean nothing)",
    )
    parser.add_argument(
        "-o",
        "--output",
        "--out",
        dest="output",
        default=run.DEFAULT_OUTPUT,
        help=f"output directory (default: {run.DEFAULT_OUTPUT})",
    )
    return parser


def main(argv=None):
    """Runs the benchmark and prints its tables; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = 1 if args.quick else 5
    try:
        run.check_arguments(
            args.dataset, args.optimizer, args.seeds, args.output
        )
    except ValueError as error:
        parser.error(str(error))
    try:
        run.require_benchmark_extra()
    except ImportError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    results = run.run_benchmark(
        dataset=args.dataset,
        optimizer=args.optimizer,
        seeds=args.seeds,
        quick=args.quick,
        output=args.output,
    )
    print()
    print(report.summary_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
