"""Which backend trains the benchmark's models fastest on this machine.

```
python -m benchmarks.accuracy.timing [--task mnist1d-cnn] [--updates 600]
```

Per backend, in a fresh process (Keras cannot switch backends): the task's
model with the benchmark's compiled settings, one untimed run of
`--updates` updates at a constant rate (compiling), then 3 timed runs;
prints the median milliseconds per update, evaluation included.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.accuracy.backend import BACKENDS
from benchmarks.accuracy.tasks import TASKS


def time_here(task_name, updates, repeats=3):
    """Median seconds per update of the current backend's runs."""
    from benchmarks.accuracy.backend import one_torch_thread
    from benchmarks.accuracy.tasks import Task
    from benchmarks.accuracy.training import Trainers

    task = Task(task_name, quick=False, seeds=1)
    updates -= updates % task.every
    with one_torch_thread():
        trainer = Trainers(quick=False).get(task, "adam", "fixed", updates)
        trainer.run(0, updates, {"lr": 1e-3})
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            trainer.run(0, updates, {"lr": 1e-3})
            times.append((time.perf_counter() - start) / updates)
    times.sort()
    return times[len(times) // 2]


def main(argv=None):
    """Times every backend in a subprocess; prints a table."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.accuracy.timing"
    )
    parser.add_argument("--task", default="mnist1d-cnn", choices=TASKS)
    parser.add_argument("--updates", type=int, default=600)
    parser.add_argument("--only", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only:
        print(json.dumps(time_here(args.task, args.updates)))
        return 0
    lines = [
        f"| backend | ms per update ({args.task}, evaluation included) |",
        "|---|---|",
    ]
    for backend in BACKENDS:
        env = dict(os.environ, KERAS_BACKEND=backend)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.accuracy.timing"]
            + ["--task", args.task, "--updates", str(args.updates)]
            + ["--only", backend],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = json.loads(done.stdout.strip().splitlines()[-1])
        lines.append(f"| {backend} | {1000 * seconds:.2f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
