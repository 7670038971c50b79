"""`python -m clr_optimizers`: the demo (rates beside the formula)."""

import argparse
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m clr_optimizers",
        description="Train the seed model with SGD, RMSprop and Adam in each "
        "cyclical mode and print the applied rate beside the formula. "
        "Exits with status 1 if they disagree.",
    )
    parser.add_argument("--updates", type=int, default=6000,
                        help="updates per run (default: 6000)")
    parser.add_argument("--report-every", type=int, default=1000,
                        help="print every this many updates (default: 1000)")
    args = parser.parse_args(argv)
    if args.report_every <= 0 or args.updates < args.report_every:
        parser.error("--report-every must be > 0 and at most --updates. "
                     f"Received: --updates={args.updates}, "
                     f"--report-every={args.report_every}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from clr_optimizers._demo import run_demo

    return 0 if run_demo(args.updates, args.report_every) else 1


if __name__ == "__main__":
    sys.exit(main())
