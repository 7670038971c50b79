"""Training step time: in-graph cyclical rate vs. plain Keras vs. a callback.

What is measured
----------------
For each case, three variants train the same architecture on the same data,
each from the same freshly initialized weights (same seed):

* ``plain``: the plain Keras optimizer (``keras.optimizers.SGD`` /
  ``keras.optimizers.AdamW``) with a constant learning rate.
* ``clr``: the ``clr_optimizers`` optimizer with a ``clr`` dict; the cyclical
  rate is computed once per update inside the training graph.
* ``callback``: the plain Keras optimizer plus a Keras callback that computes
  the cyclical rate in Python (``clr_optimizers.reference_learning_rate``) and
  assigns it to ``optimizer.learning_rate`` in ``on_train_batch_begin``, the
  way a cyclical rate was applied before it moved into the optimizer.
* ``carry``: the plain Keras optimizer holding, unused, as many scalar
  variables as the cycle keeps (``max_lr``, ``step_size``,
  ``clr_iterations``, ``current_lr``, ``held_updates``). It separates what
  holding the cycle's state costs a backend from what computing the rate
  costs: JAX passes every optimizer variable in and out of its jitted step.
* ``logged``: the ``clr`` variant plus ``clr_optimizers.FitSchedule()``,
  which puts every update's rate in ``fit``'s logs and its per-update record.
  The ratio logged/CLR is the cost of that logging.

Cases:

* ``small``: an MLP with 2 hidden Dense layers of 32 units, SGD. The model is
  tiny, so any per-step cost of the optimizer shows most.
* ``deep``: an MLP with 60 hidden Dense layers of 32 units plus the output
  layer (122 trainable variables, printed), AdamW(weight_decay=0.01).

The backend is Keras's, from ``KERAS_BACKEND``, each in its normal mode:
``jit_compile="auto"``, Keras's default: the jitted step on JAX; on
TensorFlow the ``tf.function`` graph on a CPU-only machine and XLA where there
is a GPU; the eager step on PyTorch (where ``jit_compile=True`` would be
``torch.compile``). ``--jit-compile`` or ``--no-jit-compile`` overrides it for
every variant (``--jit-compile`` on TensorFlow's CPU times XLA there). The
table gives the mode each run resolved to.

Each variant's model is compiled once (``steps_per_execution=1``, the default,
so the callback runs before every update) and warmed up with one epoch, so
tracing and compilation are excluded. Then ``--repeats`` rounds follow; in
each round every variant runs ``fit(..., epochs=1, verbose=0)`` for
``--steps`` steps, the variants taking turns round-robin (the order rotates
from round to round), and the model weights are reset to the seed's initial
weights before each run. A timing callback stamps the end of every batch;
a run's step time is the median time from one batch end to the next, so the
cost of starting and ending ``fit`` and short stalls of a shared machine are
left out, while everything done at every step (data, callbacks, the train
function) is in.

Reported per case: the median over rounds of each variant's step time, and the
ratios CLR/plain, callback/plain and carry/plain, each the median over rounds
of the ratio within the round (the variants of one round run back to back, so
the slow drift of a shared machine cancels). The line under the table gives the
interquartile range of the per-round CLR/plain ratio, a gauge of the noise, and
the ratio of the two variants' fastest rounds, which load from other processes
(it only ever slows a run down) disturbs least.

Target: CLR/plain median step-time ratio <= 1.02 (at most 2% slower than the
plain optimizer). PASS/FAIL is printed per case; the exit code is 0 unless
``--check`` is given, then 1 on any miss.

Defaults: 9 rounds; 600 steps per run for ``small``, 250 for ``deep``; about
2 minutes on 2 CPU cores. Rerun (from the repository root)::

    PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 python benchmarks/bench_step_time.py
    KERAS_BACKEND=jax PYTHONPATH=. python benchmarks/bench_step_time.py
    KERAS_BACKEND=torch PYTHONPATH=. python benchmarks/bench_step_time.py

Options: ``--repeats``, ``--steps``, ``--case {small,deep,all}``,
``--batch-size``, ``--jit-compile``/``--no-jit-compile``, ``--threads``
(TensorFlow's thread pools, TensorFlow only), ``--check``, and ``--quick``
for a short smoke run. Progress goes to stderr, the table to stdout.
"""

import argparse
import gc
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import clr_optimizers as co  # noqa: E402

TARGET_RATIO = 1.02
SEED = 1234
BASE_LR = 1e-3
MAX_LR = 6e-3
STEP_SIZE = 2000
MODE = "triangular"
N_FEATURES = 32
WIDTH = 32
LOGGING_RATIO = 1.01
VARIANTS = ("plain", "clr", "callback", "carry", "logged")

CASES = {
    "small": {"hidden_layers": 2, "optimizer": "SGD", "options": {}},
    "deep": {
        "hidden_layers": 60,
        "optimizer": "AdamW",
        "options": {"weight_decay": 0.01},
    },
}


class StepTimer(keras.callbacks.Callback):
    """Records `time.perf_counter()` at the end of every training batch."""

    def __init__(self):
        super().__init__()
        self.stamps = []

    def on_train_begin(self, logs=None):
        self.stamps = []

    def on_train_batch_end(self, batch, logs=None):
        self.stamps.append(time.perf_counter())

    def seconds_per_step(self):
        """The median time from one batch end to the next.

        The median, not the mean, so that a stall of the machine during a
        few steps does not count; a cost paid at every step does.

        Returns:
            Seconds per step, over all steps but the first.
        """
        if len(self.stamps) < 3:
            raise ValueError("Time at least 3 steps (`--steps` >= 3).")
        return float(np.median(np.diff(self.stamps)))


class CyclicalRateCallback(keras.callbacks.Callback):
    """Assigns the cyclical rate to `optimizer.learning_rate` before a batch.

    The rate is computed in Python from a step count kept in Python, as a
    cyclical-learning-rate callback does.

    Args:
        base_lr: The bottom of the cycle.
        max_lr: The peak of the cycle.
        step_size: Half a cycle, in updates.
        mode: The cyclical policy, one of `clr_optimizers.MODES`.
    """

    def __init__(self, base_lr, max_lr, step_size, mode="triangular"):
        super().__init__()
        self.base_lr = base_lr
        self.max_lr = max_lr
        self.step_size = step_size
        self.mode = mode
        self.clr_iterations = 0

    def on_train_batch_begin(self, batch, logs=None):
        rate = co.reference_learning_rate(
            self.clr_iterations,
            self.base_lr,
            self.max_lr,
            self.step_size,
            mode=self.mode,
        )
        self.model.optimizer.learning_rate = float(rate)

    def on_train_batch_end(self, batch, logs=None):
        self.clr_iterations += 1


def build_model(hidden_layers):
    """An MLP of `hidden_layers` Dense(WIDTH, relu) layers and a Dense(1).

    Args:
        hidden_layers: Number of hidden Dense layers.

    Returns:
        A `keras.Sequential`, its weights drawn with the seed `SEED`.
    """
    keras.utils.set_random_seed(SEED)
    layers = [keras.Input((N_FEATURES,))]
    layers += [
        keras.layers.Dense(WIDTH, activation="relu")
        for _ in range(hidden_layers)
    ]
    layers.append(keras.layers.Dense(1))
    return keras.Sequential(layers)


def make_optimizer(variant, name, options):
    """The optimizer of one variant.

    Args:
        variant: One of `VARIANTS`.
        name: The optimizer class name, such as `"SGD"`.
        options: Further keyword arguments of the optimizer.

    Returns:
        A `clr_optimizers` optimizer with a cycle for `"clr"`, else the plain
        Keras optimizer at the base rate (holding the cycle's variables,
        unused, for `"carry"`).
    """
    if variant in ("clr", "logged"):
        clr = {"mode": MODE, "step_size": STEP_SIZE, "max_lr": MAX_LR}
        return getattr(co, name)(learning_rate=BASE_LR, clr=clr, **options)
    optimizer = getattr(keras.optimizers, name)(
        learning_rate=BASE_LR, **options
    )
    if variant == "carry":
        reference = getattr(co, name)(
            learning_rate=BASE_LR,
            clr={"mode": MODE, "step_size": STEP_SIZE, "max_lr": MAX_LR},
        )
        with keras.name_scope(optimizer.name, caller=optimizer):
            optimizer.carried = [
                keras.Variable(
                    np.zeros((), variable.dtype),
                    dtype=variable.dtype,
                    trainable=False,
                    name=variable.name,
                )
                for variable in reference.variables[
                    reference._clr_insert_index :
                ]
            ]
        if len(optimizer.variables) != len(reference.variables):
            raise AssertionError(
                "The carry variant must hold the cycle's variables."
            )
    return optimizer


class Runner:
    """One variant of one case: a compiled model and the callbacks of a run.

    Args:
        variant: One of `VARIANTS`.
        spec: The case, an entry of `CASES`.
        jit_compile: Passed to `Model.compile`.
    """

    def __init__(self, variant, spec, jit_compile):
        self.variant = variant
        self.model = build_model(spec["hidden_layers"])
        self.initial_weights = self.model.get_weights()
        optimizer = make_optimizer(variant, spec["optimizer"], spec["options"])
        self.model.compile(
            optimizer=optimizer,
            loss="mse",
            steps_per_execution=1,
            jit_compile=jit_compile,
        )
        self.timer = StepTimer()
        self.callbacks = [self.timer]
        if variant == "callback":
            self.callbacks.insert(
                0, CyclicalRateCallback(BASE_LR, MAX_LR, STEP_SIZE, MODE)
            )
        if variant == "logged":
            self.callbacks.insert(0, co.FitSchedule())

    @property
    def mode(self):
        """How the backend runs the step: XLA, graph, jit, eager or compile."""
        backend = keras.backend.backend()
        if self.model.jit_compile:
            return {"tensorflow": "XLA", "jax": "jit"}.get(
                backend, "torch.compile"
            )
        return "graph" if backend == "tensorflow" else "eager"

    @property
    def trainable_variables(self):
        """Number of trainable variables of the model."""
        return len(self.model.trainable_variables)

    def run(self, x, y, batch_size):
        """Trains one epoch from the initial weights.

        Returns:
            Seconds per step of this epoch.
        """
        self.model.set_weights(self.initial_weights)
        self.model.fit(
            x,
            y,
            batch_size=batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=self.callbacks,
        )
        return self.timer.seconds_per_step()


def quartiles(values):
    """The 25th, 50th and 75th percentiles of `values`."""
    return tuple(float(q) for q in np.percentile(values, [25, 50, 75]))


def run_case(case, steps, repeats, batch_size, jit_compile, log):
    """Times the variants of one case, interleaved.

    Args:
        case: A key of `CASES`.
        steps: Steps per timed epoch.
        repeats: Number of rounds.
        batch_size: Samples per step.
        jit_compile: Passed to `Model.compile`.
        log: Function that prints a progress line.

    Returns:
        A dict with the case's results.
    """
    spec = CASES[case]
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(steps * batch_size, N_FEATURES)).astype("float32")
    y = rng.normal(size=(steps * batch_size, 1)).astype("float32")

    runners = {}
    for variant in VARIANTS:
        start = time.perf_counter()
        runner = Runner(variant, spec, jit_compile)
        runner.run(x, y, batch_size)  # Warm-up: traces the train function.
        runners[variant] = runner
        log(
            f"  {case}/{variant}: compiled and warmed up in "
            f"{time.perf_counter() - start:.1f} s"
        )
    # Move what tracing left behind out of the collector's way, so that
    # collections during the timed runs are short and alike for all variants.
    gc.collect()
    gc.freeze()
    counts = {runner.trainable_variables for runner in runners.values()}
    if len(counts) != 1:
        raise AssertionError(f"Variants differ in variables: {counts}")
    modes = {runner.mode for runner in runners.values()}
    if len(modes) != 1:
        raise AssertionError(f"Variants differ in compilation: {modes}")

    times = {variant: [] for variant in VARIANTS}
    for round_index in range(repeats):
        shift = round_index % len(VARIANTS)
        order = VARIANTS[shift:] + VARIANTS[:shift]
        for variant in order:
            times[variant].append(runners[variant].run(x, y, batch_size))
        log(
            f"  {case} round {round_index + 1}/{repeats}: "
            + ", ".join(f"{v} {times[v][-1] * 1e3:.3f} ms" for v in VARIANTS)
        )

    clr_ratios = [c / p for c, p in zip(times["clr"], times["plain"])]
    callback_ratios = [c / p for c, p in zip(times["callback"], times["plain"])]
    carry_ratios = [c / p for c, p in zip(times["carry"], times["plain"])]
    logged_ratios = [c / p for c, p in zip(times["logged"], times["clr"])]
    return {
        "case": case,
        "optimizer": spec["optimizer"],
        "variables": counts.pop(),
        "mode": modes.pop(),
        "ms": {v: statistics.median(times[v]) * 1e3 for v in VARIANTS},
        "clr_ratio": statistics.median(clr_ratios),
        "callback_ratio": statistics.median(callback_ratios),
        "carry_ratio": statistics.median(carry_ratios),
        "logged_ratio": statistics.median(logged_ratios),
        "logged_ratio_quartiles": quartiles(logged_ratios),
        "clr_ratio_quartiles": quartiles(clr_ratios),
        "clr_ratio_best": min(times["clr"]) / min(times["plain"]),
    }


def format_table(results):
    """The results as a markdown table.

    Args:
        results: Dicts returned by `run_case`.

    Returns:
        The table as a string.
    """
    lines = [
        "| backend | mode | case | optimizer | variables | plain ms/step "
        "| CLR ms/step | callback ms/step | CLR/plain | callback/plain "
        "| carry/plain | logged/CLR |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    backend = keras.backend.backend()
    for r in results:
        lines.append(
            f"| {backend} | {r['mode']} | {r['case']} | {r['optimizer']} "
            f"| {r['variables']} "
            f"| {r['ms']['plain']:.3f} | {r['ms']['clr']:.3f} "
            f"| {r['ms']['callback']:.3f} | {r['clr_ratio']:.3f} "
            f"| {r['callback_ratio']:.3f} | {r['carry_ratio']:.3f} "
            f"| {r['logged_ratio']:.3f} |"
        )
    return "\n".join(lines)


def parse_args(argv=None):
    """Parses the command line.

    Args:
        argv: Arguments without the program name; None reads `sys.argv`.

    Returns:
        The parsed `argparse.Namespace`.
    """
    parser = argparse.ArgumentParser(
        description=(
            "Per-step training time of clr_optimizers against the plain Keras "
            "optimizer and a learning-rate callback."
        )
    )
    parser.add_argument(
        "--case",
        choices=("small", "deep", "all"),
        default="all",
        help="which model to time (default: all)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="interleaved rounds per case (default: 9; 2 with --quick)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps per epoch (default: 600 small, 250 deep; "
        "20 with --quick)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=32,
        help="samples per step (default: 32)",
    )
    parser.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help='jit_compile for every variant (default: Keras\'s "auto")',
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="TensorFlow intra- and inter-op threads (default: 0, "
        "TensorFlow's choice)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run: 2 rounds of 20 steps",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit with status 1 when CLR/plain > {TARGET_RATIO} in a case",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 9
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.steps is not None and args.steps < 3:
        parser.error("--steps must be at least 3")
    return args


def default_steps(case, quick):
    """Timed steps per epoch of a case when `--steps` is not given."""
    if quick:
        return 20
    return {"small": 600, "deep": 250}[case]


def main(argv=None):
    """Runs the benchmark and prints the table.

    Returns:
        The exit status.
    """
    args = parse_args(argv)
    backend = keras.backend.backend()
    if args.jit_compile is None:
        args.jit_compile = "auto"
    if args.threads and backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    cases = list(CASES) if args.case == "all" else [args.case]

    def log(line):
        print(line, file=sys.stderr, flush=True)

    log(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, "
        f"clr_optimizers {co.__version__}, jit_compile={args.jit_compile}, "
        f"batch_size={args.batch_size}, repeats={args.repeats}"
    )
    results = []
    for case in cases:
        steps = args.steps or default_steps(case, args.quick)
        log(f"case {case}: {steps} steps per run")
        results.append(
            run_case(
                case,
                steps,
                args.repeats,
                args.batch_size,
                args.jit_compile,
                log,
            )
        )

    print(format_table(results))
    print()
    print(f"Target: CLR/plain median step-time ratio <= {TARGET_RATIO:.2f}")
    missed = False
    for r in results:
        q1, _, q3 = r["clr_ratio_quartiles"]
        ok = r["clr_ratio"] <= TARGET_RATIO
        missed = missed or not ok
        print(
            f"{r['case']} ({r['optimizer']}, {r['variables']} variables): "
            f"CLR/plain {r['clr_ratio']:.3f} "
            f"(per-round interquartile range {q1:.3f}-{q3:.3f}; "
            f"fastest round against fastest round "
            f"{r['clr_ratio_best']:.3f}): "
            f"{'PASS' if ok else 'FAIL'}"
        )
    print(
        "Logging every update (FitSchedule), opt-in: logged/CLR median "
        "step-time ratio, within 1.01 or not"
    )
    for r in results:
        q1, _, q3 = r["logged_ratio_quartiles"]
        within = "within" if r["logged_ratio"] <= LOGGING_RATIO else "above"
        print(
            f"{r['case']}: logged/CLR {r['logged_ratio']:.3f} (per-round "
            f"interquartile range {q1:.3f}-{q3:.3f}): {within} 1.01"
        )
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
