"""The benchmark's optimizers, arms, trainers and range tests (PROTOCOL.md,
"Optimizers", "Arms" and "Range test")."""

import contextlib
import math
import time
import warnings

import keras
import numpy as np

import clr_optimizers as co
from benchmarks.accuracy.data import SETTINGS
from benchmarks.accuracy.data import build_model

OPTIMIZERS = ("sgd", "adam")
POLICIES = ("triangular2", "1cycle")
TUNING_SEEDS = 2
RULE_SEEDS = 5
AUTHORS_RATE = 1e-2
ONE_CYCLE_DIV = 25.0
GRIDS = {
    "adam": tuple(10.0 ** (k / 2) for k in range(-6, -1)),
    "sgd": tuple(10.0 ** (k / 2) for k in range(-5, 0)),
}
RANGE = {"min_lr": 1e-5, "max_lr": 10.0, "steps": 240}
QUICK_RANGE_STEPS = 30


def grid(optimizer, quick):
    """The fixed rates tried for `optimizer` (2nd and 3rd with `quick`)."""
    rates = GRIDS[optimizer]
    return rates[1:3] if quick else rates


def jit_compile(quick):
    """Keras's `jit_compile` for the benchmark's models on this backend.

    XLA on JAX (without it, Keras's JAX trainer runs op by op) and on
    TensorFlow, except for `quick` runs on TensorFlow, where compiling costs
    more than it saves (Keras's graph without XLA then); never on PyTorch,
    eager as Keras runs it by default.
    """
    backend = keras.backend.backend()
    if backend == "torch":
        return False
    return backend == "jax" or not quick


def steps_per_execution(every):
    """Updates per compiled call: one evaluation interval on TensorFlow.

    1 elsewhere: PyTorch takes no more, and JAX unrolls the steps of a call,
    so that compiling would cost more than the calls it saves.
    """
    return every if keras.backend.backend() == "tensorflow" else 1


@contextlib.contextmanager
def one_torch_thread():
    """On PyTorch, one intra-op thread while the benchmark runs.

    The models are small: more threads only wait on each other, and on a
    busy machine each operation waits for every thread to be scheduled.
    Other backends are left as they are.
    """
    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _loss():
    """The training loss: cross-entropy on the models' logits."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def make_optimizer(optimizer, kind, updates, peak=None):
    """The clr_optimizers optimizer of an arm's trainer.

    Args:
        optimizer: "sgd" (momentum 0.9) or "adam".
        kind: "fixed", "cosine", "triangular2" or "1cycle".
        updates: The run's length; fixes the cosine decay and 1cycle.
        peak: The cosine schedule's peak rate.

    Returns:
        A `clr_optimizers.SGD` or `clr_optimizers.Adam`; the rates that
        change from run to run are set by `Trainer.run`.
    """
    settings = {"learning_rate": 1e-3}
    if kind == "cosine":
        warmup = updates // 10
        settings["learning_rate"] = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0,
            decay_steps=updates - warmup,
            alpha=0.0,
            warmup_target=peak,
            warmup_steps=warmup,
        )
    elif kind == "triangular2":
        settings["clr"] = {
            "mode": "triangular2",
            "step_size": max(1, updates // 6),
            "max_lr": 1e-2,
        }
    elif kind == "1cycle":
        settings["clr"] = {
            "mode": "1cycle",
            "total_steps": updates,
            "max_lr": 1e-2,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        }
    if optimizer == "sgd":
        if kind != "1cycle":
            settings["momentum"] = 0.9
        return co.SGD(**settings)
    return co.Adam(**settings)


class Evaluator:
    """Scores any trainer's weights on a data set's validation and test sets.

    One model per data set, shared by its trainers, so that one predict
    function (compiled once) serves every run; validation and test are
    predicted together, as one batch.
    """

    def __init__(self, task):
        """The evaluator of `task`."""
        self.model = build_model(task.name)
        self.x = np.concatenate([task.x_val, task.x_test])
        self.y = np.concatenate([task.y_val, task.y_test])
        self.split = len(task.y_val)

    def __call__(self, model):
        """(validation accuracy, test accuracy) of `model`'s weights."""
        self.model.set_weights(model.get_weights())
        logits = np.asarray(self.model.predict_on_batch(self.x))
        right = np.argmax(logits, axis=-1) == self.y
        split = self.split
        return float(np.mean(right[:split])), float(np.mean(right[split:]))


class Trainer:
    """One compiled model and optimizer, reset and reused across runs."""

    def __init__(self, task, evaluator, optimizer, kind, updates, peak, quick):
        """Compiles `task`'s model with the optimizer of `kind`.

        Args:
            task: The `data.Task`.
            evaluator: The task's `Evaluator`.
            optimizer: "sgd" or "adam".
            kind: "fixed", "cosine", "triangular2" or "1cycle".
            updates: The run's length (cosine and 1cycle are built for it).
            peak: The cosine schedule's peak rate.
            quick: Whether this is a `--quick` run.
        """
        self.task = task
        self.evaluator = evaluator
        self.kind = kind
        self.model = build_model(task.name)
        self.optimizer = make_optimizer(optimizer, kind, updates, peak)
        self.model.compile(
            optimizer=self.optimizer,
            loss=_loss(),
            jit_compile=jit_compile(quick),
            steps_per_execution=steps_per_execution(task.every),
        )
        self.optimizer.build(self.model.trainable_variables)
        self.initial = [
            (v, np.array(v.numpy())) for v in self.optimizer.variables
        ]

    def _reset(self, seed, updates, rates):
        """The seed's initial weights, fresh optimizer state, the rates.

        Nothing in training draws random numbers (no dropout; the batch
        order is `data.batch_order`'s), so no generator is seeded here.
        """
        self.model.set_weights(self.task.initial_weights[seed])
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
            opt.learning_rate = rates["max_lr"] / ONE_CYCLE_DIV
            opt.max_lr.assign(rates["max_lr"])

    def run(self, seed, updates, rates):
        """Trains for `updates` from the seed's weights; the accuracy curves.

        Args:
            seed: Fixes the initial weights and the batch order.
            updates: The number of updates, a multiple of the task's `every`.
            rates: {"lr"} (fixed), {"peak"} (cosine) or {"base_lr",
                "max_lr"} (triangular2, 1cycle).

        Returns:
            A dict: "steps", "val", "test" (accuracy every `every` updates)
            and "wall_s".
        """
        task = self.task
        self._reset(seed, updates, rates)
        x, y = task.batches(updates, seed)
        curves = {"steps": [], "val": [], "test": []}
        evaluate = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: self._evaluate(epoch, curves)
        )
        start = time.perf_counter()
        self.model.fit(
            x,
            y,
            batch_size=task.batch,
            steps_per_epoch=task.every,
            epochs=updates // task.every,
            verbose=0,
            shuffle=False,
            callbacks=[evaluate],
        )
        curves["wall_s"] = time.perf_counter() - start
        return curves

    def _evaluate(self, epoch, curves):
        """Appends the validation and test accuracy after `epoch`."""
        val, test = self.evaluator(self.model)
        curves["steps"].append((epoch + 1) * self.task.every)
        curves["val"].append(val)
        curves["test"].append(test)


class Trainers:
    """The trainers of a benchmark, each compiled once and then reused."""

    def __init__(self, quick):
        """An empty cache; `quick` goes to every trainer."""
        self.quick = quick
        self._trainers = {}
        self._evaluators = {}

    def get(self, task, optimizer, kind, updates, peak=None):
        """The trainer for `kind`, built on first use.

        Cosine and 1cycle are built for a length (and cosine for a peak);
        fixed and triangular2 are set per run.
        """
        key = (
            task.name,
            optimizer,
            kind,
            updates if kind in ("cosine", "1cycle") else 0,
            peak if kind == "cosine" else None,
        )
        if task.name not in self._evaluators:
            self._evaluators[task.name] = Evaluator(task)
        if key not in self._trainers:
            self._trainers[key] = Trainer(
                task,
                self._evaluators[task.name],
                optimizer,
                kind,
                updates,
                peak,
                self.quick,
            )
        return self._trainers[key]


def range_test(task, optimizer, seed, quick):
    """The range test of one seed, with the optimizer's plain Keras class.

    Returns:
        A dict: "suggestions" (rule: [base_lr, max_lr]), "min_loss_lr",
        "diverged", "steps" (those run) and "wall_s".
    """
    model = build_model(task.name)
    model.set_weights(task.initial_weights[seed])
    opt = (
        keras.optimizers.SGD(momentum=0.9)
        if optimizer == "sgd"
        else keras.optimizers.Adam()
    )
    model.compile(optimizer=opt, loss=_loss(), metrics=["accuracy"])
    steps = QUICK_RANGE_STEPS if quick else RANGE["steps"]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = co.lr_range_test(
            model,
            task.x,
            task.y,
            min_lr=RANGE["min_lr"],
            max_lr=RANGE["max_lr"],
            steps=steps,
            batch_size=task.batch,
            sweep="exponential",
            seed=seed,
            verbose=0,
            validation_data=(task.x_val, task.y_val),
        )
    return {
        "suggestions": {
            rule: [float(base), float(top)]
            for rule, (base, top) in result.suggestions.items()
        },
        "min_loss_lr": result.min_loss_lr,
        "diverged": result.diverged,
        "steps": len(result.losses),
        "wall_s": time.perf_counter() - start,
    }


def usable(base, top):
    """Whether a suggested (base_lr, max_lr) pair can be trained with."""
    return math.isfinite(base) and math.isfinite(top) and top > 0


class Arm:
    """A named way to train: its trainer, its length and its rates.

    `results` below is the run's record (`run.Results`): the tuned fixed
    rate, the range tests' suggestions, the chosen rule and earlier runs.
    `tuning` is what chose the arm's rates: "grid" (the fixed rate's grid
    search), "none" or "range test"; `half`: whether it runs for B/2.
    """

    kind = "fixed"
    rule = None
    tuning = "grid"
    half = False

    def __init__(self, name):
        """An arm called `name` in the runs and tables."""
        self.name = name

    def __repr__(self):
        """The arm's class and name."""
        return f"{type(self).__name__}({self.name!r})"

    def applies(self, dataset, optimizer):
        """Whether the arm runs on data set `dataset` with `optimizer`."""
        return True

    def updates(self, task):
        """The run's length: the budget B."""
        return task.budget

    def peak(self, results, job):
        """The cosine schedule's peak (None for other kinds)."""
        return None

    def rates(self, results, job):
        """The run's rates, or None when there are none to train with."""
        raise NotImplementedError

    def reused(self, results, job):
        """An earlier run that is also this arm's run of `job`, or None."""
        return None

    def fields(self, results):
        """Extra columns of the arm's runs."""
        return {}


class GridArm(Arm):
    """One rate of the fixed-rate grid, on the tuning seeds."""

    def __init__(self, rate):
        """The grid run at `rate`."""
        super().__init__("grid")
        self.rate = rate

    def rates(self, results, job):
        """The grid rate."""
        return {"lr": self.rate}


class FixedArm(Arm):
    """The tuned fixed rate; the tuning seeds' grid runs are reused."""

    def rates(self, results, job):
        """The grid's best rate."""
        return {"lr": results.fixed_rate(job.dataset, job.optimizer)}

    def reused(self, results, job):
        """The grid run at the tuned rate, on a tuning seed."""
        if job.seed not in results.tuning_seeds:
            return None
        rate = results.fixed_rate(job.dataset, job.optimizer)
        return results.find(job, "grid", lr=rate)


class AuthorsArm(Arm):
    """MNIST-1D's authors' protocol: Adam at a fixed 1e-2, 6,000 updates."""

    tuning = "none"

    def applies(self, dataset, optimizer):
        """MNIST-1D with Adam only."""
        return SETTINGS[dataset]["authors"] is not None and optimizer == "adam"

    def updates(self, task):
        """The authors' number of updates."""
        return task.authors

    def rates(self, results, job):
        """The published rate."""
        return {"lr": AUTHORS_RATE}


class CosineArm(Arm):
    """Keras's CosineDecay with warmup, peaking at the tuned fixed rate."""

    kind = "cosine"

    def peak(self, results, job):
        """The tuned fixed rate."""
        return results.fixed_rate(job.dataset, job.optimizer)

    def rates(self, results, job):
        """The peak."""
        return {"peak": self.peak(results, job)}


class ClrArm(Arm):
    """triangular2 or 1cycle between a range test's suggested bounds."""

    tuning = "range test"

    def __init__(self, policy, half=False, rule=None):
        """The CLR arm of `policy`.

        Args:
            policy: "triangular2" or "1cycle".
            half: Run for B/2 updates instead of B.
            rule: A suggestion rule: an arm of the rule comparison (B/2
                updates). None: the rule the comparison chose.
        """
        if rule is not None:
            name = f"rule {rule} {policy}"
        else:
            name = policy + (" B/2" if half else "")
        super().__init__(name)
        self.kind = policy
        self.policy = policy
        self.half = half or rule is not None
        self.rule = rule

    def updates(self, task):
        """B, or B/2."""
        return task.half if self.half else task.budget

    def _rule(self, results):
        """The arm's rule, or the one the comparison chose."""
        return self.rule or results.default_rule

    def rates(self, results, job):
        """The seed's suggested pair, or None when it is not usable."""
        base, top = results.suggestion(job, self._rule(results))
        return {"base_lr": base, "max_lr": top} if usable(base, top) else None

    def reused(self, results, job):
        """The chosen rule's comparison run, for B/2 on a rule seed."""
        if self.rule is not None or not self.half:
            return None
        if job.seed not in results.rule_seeds:
            return None
        name = rule_arm(results.default_rule, self.policy).name
        return results.find(job, name)

    def fields(self, results):
        """The rule (and, in the comparison, the policy)."""
        if self.rule is None:
            return {"rule": results.default_rule}
        return {"rule": self.rule, "policy": self.policy}


def rule_arm(rule, policy):
    """The rule comparison's arm of `rule` and `policy`."""
    return ClrArm(policy, rule=rule)


FIXED = FixedArm("fixed")
AUTHORS = AuthorsArm("authors")
COSINE = CosineArm("cosine")
TRIANGULAR2 = ClrArm("triangular2")
ONE_CYCLE = ClrArm("1cycle")
TRIANGULAR2_HALF = ClrArm("triangular2", half=True)
ONE_CYCLE_HALF = ClrArm("1cycle", half=True)
HEADLINE = (
    FIXED,
    AUTHORS,
    COSINE,
    TRIANGULAR2,
    ONE_CYCLE,
    TRIANGULAR2_HALF,
    ONE_CYCLE_HALF,
)
ARMS = tuple(arm.name for arm in HEADLINE)
GOALS = ((TRIANGULAR2, TRIANGULAR2_HALF), (ONE_CYCLE, ONE_CYCLE_HALF))
