"""`python -m benchmarks.accuracy`: the accuracy benchmark's command line.

```
python -m benchmarks.accuracy [--tasks development|confirmation|all|NAME ...]
    [--optimizer sgd|adam|all] [--seeds N] [--rule RULE]
    [--backend jax|tensorflow|torch] [--quick] [--without-find-max-lr]
    [-o/--out DIR]
```

Run it from the repository root. The protocol is in PROTOCOL.md, next to
this file.
"""

import argparse
import os
import sys

from benchmarks.accuracy.backend import BACKENDS
from benchmarks.accuracy.backend import DEFAULT_BACKEND
from benchmarks.accuracy.backend import select_backend
from benchmarks.accuracy.run import DEFAULT_OUTPUT
from benchmarks.accuracy.run import INSTALL_HINT
from benchmarks.accuracy.tasks import GROUPS
from benchmarks.accuracy.tasks import TASKS

# XLA without its backend optimizations: a `--quick` run compiles some 100
# training steps on JAX and runs each for 20 updates, so compiling them
# well would cost more than it saves.
QUICK_XLA_FLAG = "--xla_backend_optimization_level=0"


# The backend of `--quick` when none is named: PyTorch, which runs eagerly,
# compiles none of the hundreds of tiny runs' steps.
QUICK_BACKEND = "torch"


def quick_compilation(backend):
    """Sets `QUICK_XLA_FLAG` for a `--quick` run on JAX, if still possible.

    XLA reads its flags once, when JAX first compiles: so only before JAX
    is imported (the command's own process). Other backends do not compile
    a `--quick` run with XLA (`backend.jit_compile`).

    Returns:
        Whether the flag was set.
    """
    if backend != "jax" or "jax" in sys.modules:
        return False
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {QUICK_XLA_FLAG}".strip()
    return True


def number_or_text(text):
    """An int when `text` is one, else `text` (checked with the others)."""
    try:
        return int(text)
    except ValueError:
        return text


def build_parser():
    """The command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.accuracy",
        description="Train each task's model with SGD (momentum 0.9) and "
        "Adam: Keras's default rate, a tuned constant rate and a tuned "
        "CosineDecay with warm-up (grid searches on validation), 1cycle "
        "from lr_range_test's suggestion, and, in the place of Adam, "
        "Keras's ScheduleFreeAdamW at its defaults and with AlgoPerf's "
        "settings; writes runs.csv, runs.json, summary.md and a PNG per "
        "task to -o DIR. "
        "The protocol is in benchmarks/accuracy/PROTOCOL.md. Needs the "
        f"benchmark extra: {INSTALL_HINT}, from the repository root.",
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=["all"],
        help="task groups or names: "
        + ", ".join(tuple(GROUPS) + TASKS)
        + " (default: all)",
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
        "--rule",
        default=None,
        help="the range test's suggestion rule (default: the package's "
        "default rule)",
    )
    parser.add_argument(
        "--backend",
        default=None,
        help=f"Keras backend: {', '.join(BACKENDS)} (default: KERAS_BACKEND "
        f"if set, else {DEFAULT_BACKEND}, the fastest here on CPU; "
        f"{QUICK_BACKEND} with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny budgets: a smoke test of every arm "
        "(under a minute; the numbers mean nothing)",
    )
    parser.add_argument(
        "--without-find-max-lr",
        dest="with_find_max_lr",
        action="store_false",
        help="leave out the 1cycle (find_max_lr) arm (OneCycle at the "
        "max_lr that find_max_lr chooses) and its searches",
    )
    parser.add_argument(
        "-o",
        "--output",
        "--out",
        dest="output",
        default=DEFAULT_OUTPUT,
        help=f"output directory (default: {DEFAULT_OUTPUT})",
    )
    return parser


def main(argv=None):
    """Runs the benchmark and prints its tables; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = 1 if args.quick else 5
    backend = args.backend
    if backend is None and args.quick and not os.environ.get("KERAS_BACKEND"):
        # A smoke test of tiny runs: PyTorch compiles nothing.
        backend = QUICK_BACKEND
    try:
        backend = select_backend(backend)
    except ValueError as error:
        parser.error(str(error))
    if args.quick:
        quick_compilation(backend)
    from benchmarks.accuracy import run

    try:
        run.check_arguments(
            args.tasks, args.optimizer, args.seeds, args.output, args.rule
        )
    except ValueError as error:
        parser.error(str(error))
    try:
        run.require_benchmark_extra()
    except ImportError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    results = run.run_benchmark(
        tasks=args.tasks,
        optimizer=args.optimizer,
        seeds=args.seeds,
        quick=args.quick,
        output=args.output,
        rule=args.rule,
        with_find_max_lr=args.with_find_max_lr,
    )
    from benchmarks.accuracy import report

    print()
    print(report.summary_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
