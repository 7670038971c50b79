"""`python -m clr_optimizers benchmark`: does the package's workflow train
better models than a tuned fixed rate? Measured on real data.

The protocol (fixed before the first full run; amended once afterwards, in
the rule comparison's seeds only, as stated there):

Data (no download):

- `mnist1d`: MNIST-1D (Greydanus & Kobak), generated offline with
  `mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())` (4,000
  train / 1,000 test, the standard data set). The last 500 training samples
  are the validation split; training uses the other 3,500. The authors'
  CNN: Conv1D 25 filters kernel 5 stride 2, two Conv1D 25 kernel 3 stride 2
  (ReLU, `padding="same"`), Dense 10. Batch 100.
- `digits`: scikit-learn's bundled 8x8 digits (1,797 samples, pixels / 16);
  a stratified 360-sample test split, then a stratified 288-sample
  validation split of the rest (1,149 train). MLP: Dense 128 ReLU, Dense 10.
  Batch 32.

The test set is only reported: every choice (grid rate, suggestion rule) is
made on validation accuracy.

Budget B (updates per run): 3,000 on MNIST-1D (86 epochs of 3,500), 1,500
on digits (42 epochs). Accuracy on validation and test every 50 (MNIST-1D)
or 25 (digits) updates. Seeds 0..N-1 (N=5 by default): a seed fixes the
initial weights (the same for every arm) and the order of the batches.

Optimizers: SGD with momentum 0.9, and Adam (Keras defaults otherwise).

Arms, per data set and optimizer:

- `fixed`: the best constant rate of a 5-rate log grid (half-decades:
  Adam 1e-3 ... 1e-1, SGD 3.16e-3 ... 3.16e-1), chosen by mean final
  validation accuracy over the first 2 seeds (the tuning seeds), then run on
  every seed (the tuning seeds' runs are reused). Tuning cost: 10 runs of B.
- `authors` (MNIST-1D, Adam only): the authors' protocol, Adam at a fixed
  1e-2, batch 100, 6,000 updates (on 3,500 of the 4,000 training samples,
  the rest being validation). No tuning.
- `cosine`: Keras today, `keras.optimizers.schedules.CosineDecay` from 0
  with linear warmup over B/10 updates to the peak, then cosine decay to 0
  at B; the peak is the tuned `fixed` rate (no further tuning).
- `triangular2`: `clr={"mode": "triangular2", "step_size": B/6}` (three
  cycles) between the suggestion's base_lr and max_lr.
- `1cycle`: `clr={"mode": "1cycle", "total_steps": B, "max_lr": max_lr,
  "base_momentum": 0.85, "max_momentum": 0.95}` with the defaults
  pct_start 0.3, cosine annealing, final_div_factor 1e4, and learning_rate
  max_lr / 25 (PyTorch's and fastai's div_factor): it uses the suggestion's
  max_lr only. Cycled momentum (`momentum` of SGD, `beta_1` of Adam) is part
  of 1cycle's recipe (PyTorch's and fastai's defaults).
- The CLR arms also run for B/2 updates (`triangular2 B/2`: step_size B/12;
  `1cycle B/2`: total_steps B/2).

Range test, once per seed: `lr_range_test` with the optimizer's plain Keras
class, exponential sweep 1e-5 ... 10 over 240 steps, the training batch
size, `validation_data=` the validation split (each step's loss and
accuracy those of the validation split, as in the paper's figures), other
settings default. Tuning cost: 1 range test (at most 240 updates).

Rule comparison: triangular2 and 1cycle from each rule's pair
(`minimum`, `valley`, `steepest`, `accuracy`), B/2 updates, all 5 seeds
(the headline's seeds; `RULE_SEEDS`), on every data set and optimizer run.
Score: the mean final validation accuracy over all those runs (a rule that
finds no pair scores 0 for its runs). The best-scoring rule is the one the
CLR arms use (and the package's default, `suggested_base_lr` /
`suggested_max_lr`); the comparison's B/2 runs of that rule are the CLR
arms' B/2 runs. Amended after the first full run: the rule comparison then
ran on the first 3 seeds, chose `steepest`, which then diverged on seed 4
of MNIST-1D; the amendment changes which rule is the default (and so the
rule the CLR arms use), nothing else.

Reported per arm (mean +- std over seeds): final validation and test
accuracy; updates to reach the target, the `fixed` arm's mean final
validation accuracy, on validation (first evaluation at or above it; the
count of seeds that reached it); on MNIST-1D also updates to 94% test
accuracy; wall time per run; tuning cost.

Verdict of each CLR arm against `fixed` on final test accuracy: `won` when
the difference of the means exceeds twice its standard error
(sqrt(s1^2/n1 + s2^2/n2)), `lost` when it falls short of minus twice that,
`tied` otherwise. Goal, per data set, optimizer and
policy: met when the B/2 run ends with mean final validation accuracy at or
above the target and mean final test accuracy at or above `fixed`'s, or
the full run's mean validation curve reaches the target within B/2 updates
and its mean final test accuracy is at or above `fixed`'s.

`--quick` runs every arm with tiny budgets (40 updates; the authors' arm
80), 2 grid rates, 30-step range tests and, unless `--seeds` says
otherwise, 1 seed: a smoke test of about a minute; its numbers mean
nothing.
"""

import csv
import json
import math
import os
import sys
import time

import numpy as np

DATASETS = ("mnist1d", "digits")
OPTIMIZERS = ("sgd", "adam")
POLICIES = ("triangular2", "1cycle")
ARMS = (
    "fixed", "authors", "cosine",
    "triangular2", "1cycle", "triangular2 B/2", "1cycle B/2",
)
EXTRA = "benchmark"
INSTALL_HINT = "pip install 'clr_optimizers[benchmark]'"
TUNING_SEEDS = 2
RULE_SEEDS = 5
MNIST1D_TARGET = 0.94

_GRIDS = {
    "adam": tuple(10.0 ** (k / 2) for k in range(-6, -1)),
    "sgd": tuple(10.0 ** (k / 2) for k in range(-5, 0)),
}
_SETTINGS = {
    # budget, batch size, evaluate every, authors' updates
    "mnist1d": {"budget": 3000, "batch": 100, "every": 50, "authors": 6000},
    "digits": {"budget": 1500, "batch": 32, "every": 25, "authors": None},
}
_QUICK = {"budget": 40, "every": 10, "authors": 80}
_RANGE = {"min_lr": 1e-5, "max_lr": 10.0, "steps": 240}
_QUICK_RANGE_STEPS = 30
_ONE_CYCLE_DIV = 25.0


def require_benchmark_extra():
    """Imports what the benchmark needs, or an ImportError naming the extra."""
    missing = []
    for module in ("sklearn", "mnist1d", "matplotlib"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ImportError(
            "The benchmark needs " + ", ".join(missing) + f": {INSTALL_HINT}"
            " (or, from a checkout, pip install '.[benchmark]')."
        )


def _choices(value, allowed, name):
    if isinstance(value, str):
        value = [value]
    value = list(value)
    if value == ["all"]:
        return list(allowed)
    for item in value:
        if item not in allowed:
            raise ValueError(
                f"`{name}` must be one of "
                + ", ".join(repr(a) for a in allowed + ("all",))
                + f". Received: {name}={item!r}"
            )
    if not value:
        raise ValueError(f"`{name}` must name at least one. Received: []")
    return list(dict.fromkeys(value))


def check_arguments(datasets, optimizers, seeds, out_dir):
    """Validated (datasets, optimizers, seeds, out_dir); clear errors."""
    datasets = _choices(datasets, DATASETS, "dataset")
    optimizers = _choices(optimizers, OPTIMIZERS, "optimizer")
    if (
        isinstance(seeds, bool)
        or not isinstance(seeds, (int, np.integer))
        or seeds < 1
    ):
        raise ValueError(
            f"`seeds` must be a whole number >= 1. Received: seeds={seeds!r}"
        )
    out_dir = os.fspath(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
        probe = os.path.join(out_dir, ".write_test")
        with open(probe, "w") as handle:
            handle.write("")
        os.remove(probe)
    except OSError as error:
        raise ValueError(
            "`-o/--output` must be a directory that can be created and "
            f"written to. Received: {out_dir!r} ({error.strerror or error})"
        ) from error
    return datasets, optimizers, int(seeds), out_dir


# ----------------------------------------------------------------- data


def load_dataset(name):
    """(x_train, y_train, x_val, y_val, x_test, y_test), float32 / int32."""
    if name == "mnist1d":
        import mnist1d.data

        # make_dataset generates the data (seeded); it never downloads.
        state = np.random.get_state()
        data = mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())
        np.random.set_state(state)
        x = data["x"].astype("float32")[..., None]
        y = data["y"].astype("int32")
        x_test = data["x_test"].astype("float32")[..., None]
        y_test = data["y_test"].astype("int32")
        return x[:-500], y[:-500], x[-500:], y[-500:], x_test, y_test
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    x, x_test, y, y_test = train_test_split(
        x, y, test_size=360, stratify=y, random_state=0
    )
    x, x_val, y, y_val = train_test_split(
        x, y, test_size=288, stratify=y, random_state=0
    )
    return x, y, x_val, y_val, x_test, y_test


def build_model(name, seed=None):
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    if name == "mnist1d":
        layers = [
            keras.Input((40, 1)),
            keras.layers.Conv1D(25, 5, strides=2, padding="same",
                                activation="relu"),
            keras.layers.Conv1D(25, 3, strides=2, padding="same",
                                activation="relu"),
            keras.layers.Conv1D(25, 3, strides=2, padding="same",
                                activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    else:
        layers = [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    return keras.Sequential(layers)


# ------------------------------------------------------------ training


def _optimizer(kind, optimizer, **settings):
    import clr_optimizers as co

    if optimizer == "sgd":
        if "clr" not in settings or "base_momentum" not in settings["clr"]:
            settings["momentum"] = 0.9
        return co.SGD(**settings)
    return co.Adam(**settings)


class _Trainer:
    """One compiled model and optimizer, reset and reused across runs."""

    def __init__(self, context, optimizer, kind, budget, learning_rate):
        import keras
        import tensorflow as tf

        self.context = context
        self.kind = kind
        self.model = build_model(context.name)
        if kind == "fixed":
            opt = _optimizer(kind, optimizer, learning_rate=1e-3)
        elif kind == "cosine":
            warmup = budget // 10
            schedule = keras.optimizers.schedules.CosineDecay(
                initial_learning_rate=0.0,
                decay_steps=budget - warmup,
                alpha=0.0,
                warmup_target=learning_rate,
                warmup_steps=warmup,
            )
            opt = _optimizer(kind, optimizer, learning_rate=schedule)
        elif kind == "triangular2":
            opt = _optimizer(kind, optimizer, learning_rate=1e-3, clr={
                "mode": "triangular2", "step_size": max(1, budget // 6),
                "max_lr": 1e-2,
            })
        else:
            opt = _optimizer(kind, optimizer, learning_rate=1e-3, clr={
                "mode": "1cycle", "total_steps": budget, "max_lr": 1e-2,
                "base_momentum": 0.85, "max_momentum": 0.95,
            })
        self.optimizer = opt
        self.model.compile(
            optimizer=opt,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=context.jit,
            steps_per_execution=context.every,
        )
        opt.build(self.model.trainable_variables)
        self.initial = [
            (v, np.array(keras.ops.convert_to_numpy(v)))
            for v in opt.variables
        ]
        model = self.model

        @tf.function(jit_compile=context.jit)
        def predict(x):
            return tf.argmax(model(x, training=False), axis=-1,
                             output_type=tf.int32)

        self.predict = predict

    def run(self, seed, updates, rates):
        import keras
        import tensorflow as tf

        context = self.context
        self.model.set_weights(context.initial_weights[seed])
        for variable, value in self.initial:
            variable.assign(value)
        opt = self.optimizer
        if self.kind == "fixed":
            opt.learning_rate = rates["lr"]
        elif self.kind == "triangular2":
            opt.learning_rate = rates["base_lr"]
            opt.max_lr.assign(rates["max_lr"])
            opt.step_size.assign(max(1, updates // 6))
        elif self.kind == "1cycle":
            opt.learning_rate = rates["max_lr"] / _ONE_CYCLE_DIV
            opt.max_lr.assign(rates["max_lr"])
        keras.utils.set_random_seed(seed)
        data = (
            tf.data.Dataset.from_tensor_slices((context.x, context.y))
            .shuffle(len(context.y), seed=seed, reshuffle_each_iteration=True)
            .repeat()
            .batch(context.batch, drop_remainder=True)
            .prefetch(2)
        )
        steps, val, test = [], [], []
        trainer = self

        class Evaluate(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                steps.append((epoch + 1) * context.every)
                val.append(trainer.accuracy(context.x_val, context.y_val))
                test.append(trainer.accuracy(context.x_test, context.y_test))

        start = time.perf_counter()
        self.model.fit(
            data, steps_per_epoch=context.every,
            epochs=updates // context.every, verbose=0, shuffle=False,
            callbacks=[Evaluate()],
        )
        wall = time.perf_counter() - start
        return {"steps": steps, "val": val, "test": test, "wall_s": wall}

    def accuracy(self, x, y):
        return float(np.mean(self.predict(x).numpy() == y))


class _Context:
    def __init__(self, name, quick, seeds):
        self.name = name
        settings = dict(_SETTINGS[name])
        if quick:
            settings.update(_QUICK)
        self.budget = settings["budget"]
        self.batch = settings["batch"]
        self.every = settings["every"]
        self.authors = settings["authors"] if name == "mnist1d" else None
        self.jit = not quick
        (self.x, self.y, self.x_val, self.y_val, self.x_test,
         self.y_test) = load_dataset(name)
        self.initial_weights = {}
        for seed in range(seeds):
            model = build_model(name, seed)
            self.initial_weights[seed] = model.get_weights()
        self.trainers = {}

    def trainer(self, optimizer, kind, budget, learning_rate=None):
        key = (optimizer, kind, budget if kind in ("cosine", "1cycle") else 0,
               learning_rate if kind == "cosine" else None)
        if key not in self.trainers:
            self.trainers[key] = _Trainer(
                self, optimizer, kind, budget, learning_rate
            )
        return self.trainers[key]


def _range_test(context, optimizer, seed, quick):
    import keras

    import clr_optimizers as co

    model = build_model(context.name)
    model.set_weights(context.initial_weights[seed])
    opt = (keras.optimizers.SGD(momentum=0.9) if optimizer == "sgd"
           else keras.optimizers.Adam())
    model.compile(
        optimizer=opt,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    steps = _QUICK_RANGE_STEPS if quick else _RANGE["steps"]
    start = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = co.lr_range_test(
            model, context.x, context.y, min_lr=_RANGE["min_lr"],
            max_lr=_RANGE["max_lr"], steps=steps, batch_size=context.batch,
            sweep="exponential", seed=seed, verbose=0,
            validation_data=(context.x_val, context.y_val),
        )
    return result, time.perf_counter() - start


# ------------------------------------------------------------- the runs


def _first_at(steps, values, target):
    for step, value in zip(steps, values):
        if value >= target:
            return step
    return None


def _mean_std(values):
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if not values.size:
        return math.nan, math.nan
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return float(values.mean()), std


class _Log:
    def __init__(self, stream):
        self.stream = stream
        self.count = 0
        self.start = time.perf_counter()

    def __call__(self, text):
        if self.stream is not None:
            elapsed = time.perf_counter() - self.start
            print(f"[{elapsed:7.1f}s] {text}", file=self.stream, flush=True)


def run_benchmark(
    dataset="all",
    optimizer="all",
    seeds=None,
    quick=False,
    output="benchmark_results",
    stream=sys.stdout,
):
    """Runs the benchmark (protocol: this module's docstring).

    Args:
        dataset: "mnist1d", "digits" or "all" (or a list of names).
        optimizer: "sgd", "adam" or "all" (or a list of names).
        seeds: The number of seeds, a whole number >= 1; None: 5 (the
            headline), or 1 with `quick`.
        quick: Tiny budgets, 2 grid rates, short range tests: a smoke test.
        output: Directory for runs.csv, runs.json, summary.md, summary.json
            and benchmark_<dataset>.png (created if missing).
        stream: Where the progress lines go (None: silent).

    Returns:
        A dict: "runs" (every run), "summary" (per data set, optimizer and
        arm), "rules" (the rule comparison), "default_rule", "wall_s".
    """
    if seeds is None:
        seeds = 1 if quick else 5
    datasets, optimizers, seeds, output = check_arguments(
        dataset, optimizer, seeds, output
    )
    require_benchmark_extra()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from clr_optimizers._suggest import RULES

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "The benchmark needs the TensorFlow backend (KERAS_BACKEND="
            f"tensorflow). Received: {keras.backend.backend()!r}"
        )
    log = _Log(stream)
    started = time.perf_counter()
    tuning_seeds = list(range(min(TUNING_SEEDS, seeds)))
    rule_seeds = list(range(min(RULE_SEEDS, seeds)))
    runs = []
    contexts = {}
    state = {}

    def record(context, opt, arm, seed, updates, rates, result, **extra):
        row = {
            "dataset": context.name, "optimizer": opt, "arm": arm,
            "seed": seed, "updates": updates,
            **{k: float(v) for k, v in rates.items()},
            "final_val": result["val"][-1], "final_test": result["test"][-1],
            "wall_s": round(result["wall_s"], 3),
            "curve_steps": result["steps"], "curve_val": result["val"],
            "curve_test": result["test"], **extra,
        }
        runs.append(row)
        shown = " ".join(f"{k}={v:.4g}" for k, v in rates.items())
        log(f"{context.name} {opt} {arm:<22} seed={seed} {shown} "
            f"updates={updates} val={row['final_val']:.3f} "
            f"test={row['final_test']:.3f} ({result['wall_s']:.1f}s)")
        return row

    # Phase 1: grid search, range tests, rule comparison.
    for name in datasets:
        log(f"{name}: generating the data and the initial weights")
        context = contexts[name] = _Context(name, quick, seeds)
        budget = context.budget
        half = budget // 2
        for opt in optimizers:
            grid = _GRIDS[opt]
            if quick:
                grid = (grid[1], grid[2])
            scores = {}
            for rate in grid:
                finals = []
                for seed in tuning_seeds:
                    result = context.trainer(opt, "fixed", budget).run(
                        seed, budget, {"lr": rate})
                    row = record(context, opt, "grid", seed, budget,
                                 {"lr": rate}, result)
                    finals.append(row["final_val"])
                scores[rate] = float(np.mean(finals))
            best = max(grid, key=lambda r: scores[r])
            log(f"{name} {opt}: grid {', '.join(f'{r:.3g}: {s:.3f}' for r, s in scores.items())}"
                f" -> fixed rate {best:.3g}")
            tests = {}
            for seed in range(seeds):
                result, wall = _range_test(context, opt, seed, quick)
                tests[seed] = {
                    "suggestions": {k: [float(a), float(b)]
                                    for k, (a, b) in result.suggestions.items()},
                    "min_loss_lr": result.min_loss_lr,
                    "diverged": result.diverged,
                    "steps": len(result.losses),
                    "wall_s": wall,
                }
                shown = ", ".join(f"{k} {b:.3g}" for k, (a, b) in
                                  result.suggestions.items())
                log(f"{name} {opt} range test seed={seed} "
                    f"({len(result.losses)} steps, {wall:.1f}s): max_lr {shown}")
            state[(name, opt)] = {"grid": scores, "fixed_rate": best,
                                  "range_tests": tests}
            for rule in RULES:
                for policy in POLICIES:
                    for seed in rule_seeds:
                        base, top = tests[seed]["suggestions"][rule]
                        if not (math.isfinite(base) and math.isfinite(top)
                                and top > 0):
                            runs.append({
                                "dataset": name, "optimizer": opt,
                                "arm": f"rule {rule} {policy}", "seed": seed,
                                "updates": half, "final_val": None,
                                "final_test": None, "rule": rule,
                                "policy": policy, "failed": True,
                            })
                            log(f"{name} {opt} rule {rule} seed={seed}: "
                                "no suggestion, scored 0")
                            continue
                        rates = {"base_lr": base, "max_lr": top}
                        result = context.trainer(opt, policy, half).run(
                            seed, half, rates)
                        record(context, opt, f"rule {rule} {policy}", seed,
                               half, rates, result, rule=rule, policy=policy)

    rule_scores = {}
    for rule in RULES:
        finals = [r["final_val"] or 0.0 for r in runs
                  if r.get("rule") == rule]
        rule_scores[rule] = float(np.mean(finals))
    default_rule = max(RULES, key=lambda r: rule_scores[r])
    log("rule scores (mean final validation accuracy): "
        + ", ".join(f"{k} {v:.4f}" for k, v in rule_scores.items())
        + f" -> {default_rule}")

    # Phase 2: the headline arms.
    for name in datasets:
        context = contexts[name]
        budget, half = context.budget, context.budget // 2
        for opt in optimizers:
            info = state[(name, opt)]
            rate = info["fixed_rate"]
            for row in runs:
                if (row["dataset"], row["optimizer"], row["arm"]) == (
                        name, opt, "grid") and row["lr"] == rate:
                    runs.append({**row, "arm": "fixed"})
            for seed in range(len(tuning_seeds), seeds):
                result = context.trainer(opt, "fixed", budget).run(
                    seed, budget, {"lr": rate})
                record(context, opt, "fixed", seed, budget, {"lr": rate},
                       result)
            if context.authors and opt == "adam":
                for seed in range(seeds):
                    result = context.trainer(opt, "fixed", budget).run(
                        seed, context.authors, {"lr": 1e-2})
                    record(context, opt, "authors", seed, context.authors,
                           {"lr": 1e-2}, result)
            for seed in range(seeds):
                result = context.trainer(opt, "cosine", budget, rate).run(
                    seed, budget, {"peak": rate})
                record(context, opt, "cosine", seed, budget, {"peak": rate},
                       result)
            for policy in POLICIES:
                for updates, arm in ((budget, policy),
                                     (half, f"{policy} B/2")):
                    for seed in range(seeds):
                        base, top = info["range_tests"][seed]["suggestions"][
                            default_rule]
                        rates = {"base_lr": base, "max_lr": top}
                        if updates == half and seed in rule_seeds:
                            for row in runs:
                                if (row["dataset"], row["optimizer"],
                                        row["arm"], row["seed"]) == (
                                        name, opt,
                                        f"rule {default_rule} {policy}", seed):
                                    runs.append({**row, "arm": arm})
                            continue
                        if not (math.isfinite(top) and top > 0):
                            log(f"{name} {opt} {arm} seed={seed}: no "
                                "suggestion")
                            continue
                        result = context.trainer(opt, policy, updates).run(
                            seed, updates, rates)
                        record(context, opt, arm, seed, updates, rates,
                               result, rule=default_rule)

    wall = time.perf_counter() - started
    summary = _summarize(runs, contexts, datasets, optimizers, state,
                         tuning_seeds, quick)
    rules = _rule_table(runs, datasets, optimizers, state, rule_scores)
    report = {
        "runs": runs, "summary": summary, "rules": rules,
        "rule_scores": rule_scores, "default_rule": default_rule,
        "wall_s": wall, "seeds": seeds, "quick": quick,
        "budgets": {n: contexts[n].budget for n in datasets},
        "fixed_rates": {f"{n} {o}": state[(n, o)]["fixed_rate"]
                        for n in datasets for o in optimizers},
        "grid_scores": {f"{n} {o}": {f"{r:.4g}": s for r, s in
                                     state[(n, o)]["grid"].items()}
                        for n in datasets for o in optimizers},
        "range_tests": {f"{n} {o}": state[(n, o)]["range_tests"]
                        for n in datasets for o in optimizers},
    }
    _write(report, output, datasets, optimizers, contexts)
    log(f"done in {wall:.0f}s; wrote {output}")
    return report


# ------------------------------------------------------------- reporting


def _verdict(clr, fixed):
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


def _summarize(runs, contexts, datasets, optimizers, state, tuning_seeds,
               quick):
    summary = []
    for name in datasets:
        context = contexts[name]
        for opt in optimizers:
            rows = [r for r in runs if r["dataset"] == name
                    and r["optimizer"] == opt]
            fixed = [r for r in rows if r["arm"] == "fixed"]
            target = float(np.mean([r["final_val"] for r in fixed]))
            fixed_test = [r["final_test"] for r in fixed]
            grid_runs = len(_GRIDS[opt][:2] if quick else _GRIDS[opt]) * len(
                tuning_seeds)
            range_steps = max(t["steps"] for t in
                              state[(name, opt)]["range_tests"].values())
            for arm in ARMS:
                arm_rows = [r for r in rows if r["arm"] == arm
                            and not r.get("failed")]
                if not arm_rows:
                    continue
                reach = [_first_at(r["curve_steps"], r["curve_val"], target)
                         for r in arm_rows]
                curve = np.mean([r["curve_val"] for r in arm_rows], axis=0)
                mean_reach = _first_at(arm_rows[0]["curve_steps"], curve,
                                       target)
                entry = {
                    "dataset": name, "optimizer": opt, "arm": arm,
                    "n": len(arm_rows), "updates": arm_rows[0]["updates"],
                    "target_val": target,
                    "updates_to_target": _mean_std(reach)[0],
                    "reached": sum(x is not None for x in reach),
                    "mean_curve_updates_to_target": mean_reach,
                    "final_val": _mean_std([r["final_val"] for r in arm_rows]),
                    "final_test": _mean_std(
                        [r["final_test"] for r in arm_rows]),
                    "wall_s": _mean_std([r["wall_s"] for r in arm_rows])[0],
                }
                if name == "mnist1d":
                    to94 = [_first_at(r["curve_steps"], r["curve_test"],
                                      MNIST1D_TARGET) for r in arm_rows]
                    entry["updates_to_94"] = _mean_std(to94)[0]
                    entry["reached_94"] = sum(x is not None for x in to94)
                if arm in ("fixed", "cosine"):
                    entry["tuning"] = (f"{grid_runs} runs x "
                                       f"{context.budget} updates")
                    entry["rates"] = f"{state[(name, opt)]['fixed_rate']:.3g}"
                elif arm == "authors":
                    entry["tuning"] = "none (published rate)"
                    entry["rates"] = "1e-2"
                else:
                    entry["tuning"] = f"1 range test (<= {range_steps} updates)"
                    bases = [r.get("base_lr") for r in arm_rows]
                    tops = [r.get("max_lr") for r in arm_rows]
                    entry["rates"] = (f"{np.median(bases):.3g}-"
                                      f"{np.median(tops):.3g}")
                    entry["verdict"] = _verdict(
                        [r["final_test"] for r in arm_rows], fixed_test)
                summary.append(entry)
            # The goal (item 5) per policy.
            half = context.budget // 2
            for policy in POLICIES:
                full = next((e for e in summary if e["dataset"] == name
                             and e["optimizer"] == opt
                             and e["arm"] == policy), None)
                short = next((e for e in summary if e["dataset"] == name
                              and e["optimizer"] == opt
                              and e["arm"] == f"{policy} B/2"), None)
                fixed_mean = float(np.mean(fixed_test))
                met = False
                if short is not None:
                    met |= (short["final_val"][0] >= target
                            and short["final_test"][0] >= fixed_mean)
                if full is not None:
                    reach = full["mean_curve_updates_to_target"]
                    met |= (reach is not None and reach <= half
                            and full["final_test"][0] >= fixed_mean)
                if full is not None:
                    full["goal_met"] = bool(met)
    return summary


def _rule_table(runs, datasets, optimizers, state, rule_scores):
    from clr_optimizers._suggest import RULES

    table = []
    for rule in RULES:
        entry = {"rule": rule, "score": rule_scores[rule], "cells": {}}
        for name in datasets:
            for opt in optimizers:
                tests = state[(name, opt)]["range_tests"]
                tops = [t["suggestions"][rule][1] for t in tests.values()]
                for policy in POLICIES:
                    rows = [r for r in runs if r["dataset"] == name
                            and r["optimizer"] == opt
                            and r["arm"] == f"rule {rule} {policy}"]
                    vals = [r["final_val"] or 0.0 for r in rows]
                    entry["cells"][f"{name} {opt} {policy}"] = {
                        "final_val": _mean_std(vals),
                        "median_max_lr": float(np.nanmedian(tops))
                        if np.isfinite(tops).any() else math.nan,
                    }
        table.append(entry)
    return table


def _fmt(pair, digits=3):
    mean, std = pair
    if not math.isfinite(mean):
        return "-"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _fmt_updates(value, reached, n):
    if reached == 0 or value is None or not math.isfinite(value):
        return f"never (0/{n})"
    return f"{value:,.0f} ({reached}/{n})"


def summary_markdown(report):
    """The headline and rule tables as Markdown."""
    lines = []
    summary = report["summary"]
    for name in dict.fromkeys(e["dataset"] for e in summary):
        for opt in dict.fromkeys(e["optimizer"] for e in summary
                                 if e["dataset"] == name):
            entries = [e for e in summary if e["dataset"] == name
                       and e["optimizer"] == opt]
            target = entries[0]["target_val"]
            lines.append(f"**{name}, {opt}** (target: fixed's final "
                         f"validation accuracy {target:.3f}; B = "
                         f"{report['budgets'][name]:,})")
            lines.append("")
            head = ["arm", "rates", "updates", "updates to target (val)"]
            if name == "mnist1d":
                head.append("updates to 94% (test)")
            head += ["final val", "final test", "s/run", "tuning cost",
                     "vs fixed"]
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "---|" * len(head))
            for e in entries:
                cells = [e["arm"], e["rates"], f"{e['updates']:,}",
                         _fmt_updates(e["updates_to_target"], e["reached"],
                                      e["n"])]
                if name == "mnist1d":
                    cells.append(_fmt_updates(e["updates_to_94"],
                                              e["reached_94"], e["n"]))
                cells += [_fmt(e["final_val"]), _fmt(e["final_test"]),
                          f"{e['wall_s']:.1f}", e["tuning"],
                          e.get("verdict", "")]
                lines.append("| " + " | ".join(cells) + " |")
            goals = [f"{e['arm']}: {'met' if e['goal_met'] else 'not met'}"
                     for e in entries if "goal_met" in e]
            lines.append("")
            lines.append("Goal (half the updates, at least as accurate): "
                         + "; ".join(goals) + ".")
            lines.append("")
    lines.append(f"**Suggestion rules** (mean final validation accuracy "
                 f"after B/2 updates, {min(RULE_SEEDS, report['seeds'])} "
                 "seeds; median suggested max_lr in brackets)")
    lines.append("")
    cells = list(report["rules"][0]["cells"])
    lines.append("| rule | " + " | ".join(cells) + " | mean |")
    lines.append("|" + "---|" * (len(cells) + 2))
    for entry in report["rules"]:
        row = [entry["rule"] + (" (default)" if entry["rule"]
                                == report["default_rule"] else "")]
        for key in cells:
            cell = entry["cells"][key]
            row.append(f"{cell['final_val'][0]:.3f} "
                       f"({cell['median_max_lr']:.2g})")
        row.append(f"{entry['score']:.4f}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(f"Wall time: {report['wall_s']:.0f} s.")
    return "\n".join(lines) + "\n"


_CSV_FIELDS = ("dataset", "optimizer", "arm", "seed", "updates", "lr",
               "peak", "base_lr", "max_lr", "rule", "updates_to_target",
               "updates_to_94", "final_val", "final_test", "wall_s")


def _write(report, output, datasets, optimizers, contexts):
    targets = {(e["dataset"], e["optimizer"]): e["target_val"]
               for e in report["summary"]}
    with open(os.path.join(output, "runs.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=_CSV_FIELDS,
                                extrasaction="ignore")
        writer.writeheader()
        for row in report["runs"]:
            row = dict(row)
            if row.get("curve_steps"):
                target = targets.get((row["dataset"], row["optimizer"]))
                if target is not None:
                    row["updates_to_target"] = _first_at(
                        row["curve_steps"], row["curve_val"], target)
                if row["dataset"] == "mnist1d":
                    row["updates_to_94"] = _first_at(
                        row["curve_steps"], row["curve_test"], MNIST1D_TARGET)
            writer.writerow(row)
    with open(os.path.join(output, "runs.json"), "w") as handle:
        json.dump(report, handle, indent=1, default=_json_default)
    with open(os.path.join(output, "summary.md"), "w") as handle:
        handle.write(summary_markdown(report))
    for name in datasets:
        _plot(report, name, optimizers,
              os.path.join(output, f"benchmark_{name}.png"))


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(type(value))


_PLOTTED = ("fixed", "authors", "cosine", "triangular2", "1cycle",
            "triangular2 B/2", "1cycle B/2")


def _plot(report, name, optimizers, path):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5 * len(optimizers), 4.5),
                    layout="constrained")
    axes = figure.subplots(1, len(optimizers), squeeze=False)[0]
    for ax, opt in zip(axes, optimizers):
        lows, highs = [], []
        for color, arm in enumerate(_PLOTTED):
            rows = [r for r in report["runs"] if r["dataset"] == name
                    and r["optimizer"] == opt and r["arm"] == arm
                    and r.get("curve_steps")]
            if not rows:
                continue
            steps = np.asarray(rows[0]["curve_steps"])
            curves = np.asarray([r["curve_test"] for r in rows])
            mean = curves.mean(0)
            style = {"authors": ":"}.get(arm, "--" if arm.endswith("B/2")
                                         else "-")
            ax.plot(steps, mean, style, color=f"C{color}",
                    lw=2.5 if arm == "fixed" else 1.5,
                    label=f"{arm} ({len(rows)} seeds)")
            # The band: lowest to highest seed.
            ax.fill_between(steps, curves.min(0), curves.max(0),
                            color=f"C{color}", alpha=0.12, lw=0)
            lows.append(np.percentile(mean[len(mean) // 5:], 5))
            highs.append(curves.max())
        if name == "mnist1d":
            ax.axhline(MNIST1D_TARGET, color="0.4", lw=0.8, ls=":")
        if lows:
            ax.set_ylim(max(0.0, min(lows) - 0.03),
                        min(1.0, max(highs) + 0.01))
        ax.set_title(f"{name}, {opt}: test accuracy, mean over seeds "
                     "(band: lowest to highest seed)", fontsize="medium")
        ax.set_xlabel("updates")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
    figure.savefig(path, dpi=100)
