"""Compiled models and optimizers that train a run of any arm, and score it
(PROTOCOL.md, "Optimizers" and "Arms")."""

import math
import time

import keras
import numpy as np

import clr_optimizers as co
from benchmarks.accuracy.arms import ALGOPERF
from benchmarks.accuracy.arms import ONE_CYCLE_DIV
from benchmarks.accuracy.arms import SCHEDULE_FREE_RATE
from benchmarks.accuracy.arms import algoperf_warmup
from benchmarks.accuracy.backend import jit_compile
from benchmarks.accuracy.backend import steps_per_execution

KINDS = (
    "fixed",
    "cosine",
    "1cycle",
    "schedule-free",
    "schedule-free-algoperf",
    "onecycle-callback",
)
SCHEDULE_FREE_KINDS = ("schedule-free", "schedule-free-algoperf")
# The kinds whose optimizer is built for the run's length.
LENGTH_KINDS = ("cosine", "schedule-free-algoperf")


def training_loss(metric):
    """The training loss of a task scored by `metric`.

    Cross-entropy on the models' logits for "accuracy" (classification),
    the mean squared error for "r2" (regression).
    """
    if metric == "r2":
        return keras.losses.MeanSquaredError()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def plain_optimizer(optimizer):
    """Keras's own SGD (momentum 0.9) or Adam, otherwise at its defaults."""
    if optimizer == "sgd":
        return keras.optimizers.SGD(momentum=0.9)
    return keras.optimizers.Adam()


def make_optimizer(optimizer, kind, updates, peak=None):
    """The optimizer of a trainer.

    Args:
        optimizer: "sgd" (momentum 0.9) or "adam".
        kind: A name of `KINDS`: "fixed", "cosine" or "1cycle" (a
            clr_optimizers optimizer), "schedule-free" or
            "schedule-free-algoperf" (Keras's `ScheduleFreeAdamW`, with
            "adam" only), "onecycle-callback" (Keras's own optimizer, that
            a `clr_optimizers.OneCycle` callback drives).
        updates: The run's length; fixes the cosine decay and the AlgoPerf
            warm-up (1cycle's is set per run: `total_steps="auto"`, planned
            here, then assigned).
        peak: The cosine schedule's peak rate.

    Returns:
        A Keras optimizer; the rates that change from run to run are set by
        `Trainer.run`.
    """
    if kind not in KINDS:
        allowed = ", ".join(repr(k) for k in KINDS)
        raise ValueError(f"`kind` must be one of {allowed}. Received: {kind=}")
    if kind in SCHEDULE_FREE_KINDS:
        if optimizer != "adam":
            raise ValueError(
                "ScheduleFreeAdamW runs in the place of Adam only. "
                f"Received: optimizer={optimizer!r}"
            )
        if kind == "schedule-free":
            return keras.optimizers.ScheduleFreeAdamW()
        return keras.optimizers.ScheduleFreeAdamW(
            learning_rate=SCHEDULE_FREE_RATE,
            warmup_steps=algoperf_warmup(updates),
            **ALGOPERF,
        )
    if kind == "onecycle-callback":
        return plain_optimizer(optimizer)
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
    elif kind == "1cycle":
        settings["clr"] = {
            "mode": "1cycle",
            "total_steps": "auto",
            "max_lr": 1e-2,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        }
    if optimizer == "sgd":
        if kind != "1cycle":
            settings["momentum"] = 0.9
        made = co.SGD(**settings)
    else:
        made = co.Adam(**settings)
    if kind == "1cycle":
        made.plan_schedule(total_updates=updates)
    return made


def accuracy(outputs, labels):
    """The share of rows whose largest output is the label.

    A row with a non-finite output counts as wrong.
    """
    outputs = np.asarray(outputs)
    right = np.argmax(outputs, axis=-1) == np.asarray(labels)
    right &= np.all(np.isfinite(outputs), axis=-1)
    return float(np.mean(right))


def r_squared(outputs, targets):
    """R², 1 - SSE / SST, of a single-output model's predictions.

    SST is taken around the targets' own mean; a non-finite prediction
    counts as predicting 0.
    """
    predictions = np.asarray(outputs, dtype="float64").reshape(-1)
    predictions = np.where(np.isfinite(predictions), predictions, 0.0)
    targets = np.asarray(targets, dtype="float64").reshape(-1)
    errors = np.sum((targets - predictions) ** 2)
    spread = np.sum((targets - targets.mean()) ** 2)
    return float(1.0 - errors / spread)


SCORES = {"accuracy": accuracy, "r2": r_squared}


def schedule_free_weights(model, optimizer):
    """`model`'s weights with the averaged sequence of a ScheduleFreeAdamW.

    `fit` trains the "y" sequence; the evaluation weights are the "x"
    sequence, which Keras's `ScheduleFreeAdamW` keeps implicitly: for a
    trainable variable y with its `momentum` slot z, x = (y - (1 - beta_1)
    * z) / beta_1. Non-trainable weights (batch normalization's statistics)
    are returned as they are.

    Args:
        model: The model that `optimizer` trains.
        optimizer: A built `keras.optimizers.ScheduleFreeAdamW`.

    Returns:
        The weights in `model.get_weights()`'s order, NumPy arrays.
    """
    beta_1 = float(optimizer.beta_1)
    averaged = {}
    for variable in model.trainable_variables:
        index = optimizer._get_variable_index(variable)
        slot = optimizer._momentums[index]
        y = keras.ops.convert_to_numpy(variable).astype("float64")
        z = keras.ops.convert_to_numpy(slot).astype("float64")
        x = (y - (1.0 - beta_1) * z) / beta_1
        averaged[variable.path] = x.astype(variable.dtype)
    return [
        averaged.get(v.path, keras.ops.convert_to_numpy(v))
        for v in model.weights
    ]


class Evaluator:
    """Scores any trainer's weights on a task's validation and test sets.

    One model per task, shared by its trainers, so that one predict
    function (compiled once) serves every run; validation and test are
    predicted together, as one batch. The score is the task's metric
    (`SCORES`): accuracy, or R²; higher is better for both.
    """

    def __init__(self, task):
        """The evaluator of `task`."""
        self.model = task.build_model()
        self.score = SCORES[task.metric]
        self.x = np.concatenate([task.x_val, task.x_test])
        self.y = np.concatenate([task.y_val, task.y_test])
        self.split = len(task.y_val)

    def __call__(self, model):
        """(validation score, test score) of `model`'s weights."""
        return self.score_weights(model.get_weights())

    def score_weights(self, weights):
        """(validation score, test score) of the weights `weights`."""
        self.model.set_weights(weights)
        outputs = np.asarray(self.model.predict_on_batch(self.x))
        split = self.split
        return (
            self.score(outputs[:split], self.y[:split]),
            self.score(outputs[split:], self.y[split:]),
        )


class Trainer:
    """One compiled model and optimizer, reset and reused across runs."""

    def __init__(self, task, evaluator, optimizer, kind, updates, peak, quick):
        """Compiles `task`'s model with the optimizer of `kind`.

        Args:
            task: The `tasks.Task`.
            evaluator: The task's `Evaluator`.
            optimizer: "sgd" or "adam".
            kind: A name of `KINDS`.
            updates: The run's length (the cosine schedule and the AlgoPerf
                warm-up are built for it).
            peak: The cosine schedule's peak rate.
            quick: Whether this is a `--quick` run.
        """
        self.task = task
        self.evaluator = evaluator
        self.kind = kind
        self.model = task.build_model()
        self.optimizer = make_optimizer(optimizer, kind, updates, peak)
        self.model.compile(
            optimizer=self.optimizer,
            loss=training_loss(task.metric),
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
        order is `tasks.batch_order`'s), so no generator is seeded here.
        """
        self.model.set_weights(self.task.initial_weights[seed])
        for variable, value in self.initial:
            variable.assign(value)
        opt = self.optimizer
        if self.kind in SCHEDULE_FREE_KINDS:
            # ScheduleFreeAdamW's `momentum` slot (z) starts at the weights:
            # a copy (on JAX, one buffer in two variables cannot be donated).
            for variable in self.model.trainable_variables:
                index = opt._get_variable_index(variable)
                opt._momentums[index].assign(np.array(variable.numpy()))
        if self.kind in ("fixed",) + SCHEDULE_FREE_KINDS:
            opt.learning_rate = rates["lr"]
        elif self.kind == "1cycle":
            opt.learning_rate = rates["max_lr"] / ONE_CYCLE_DIV
            opt.max_lr.assign(rates["max_lr"])
            opt.total_steps.assign(updates)

    def _callbacks(self, rates):
        """The callbacks that drive the run's rate (OneCycle's kind)."""
        if self.kind == "onecycle-callback":
            return [co.OneCycle(max_lr=rates["max_lr"])]
        return []

    def run(self, seed, updates, rates):
        """Trains for `updates` from the seed's weights; the score curves.

        Args:
            seed: Fixes the initial weights and the batch order.
            updates: The number of updates, a multiple of the task's `every`.
            rates: {"lr"} (fixed, cosine: its peak; schedule-free: its
                rate), {"base_lr", "max_lr"} (1cycle) or {"max_lr"}
                (onecycle-callback).

        Returns:
            A dict: "steps", "val", "test" (the task's metric every `every`
            updates), "diverged" (a training loss was not finite) and
            "wall_s".
        """
        task = self.task
        self._reset(seed, updates, rates)
        x, y = task.batches(updates, seed)
        curves = {"steps": [], "val": [], "test": []}
        evaluate = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: self._evaluate(epoch, curves)
        )
        start = time.perf_counter()
        history = self.model.fit(
            x,
            y,
            batch_size=task.batch,
            steps_per_epoch=task.every,
            epochs=updates // task.every,
            verbose=0,
            shuffle=False,
            callbacks=self._callbacks(rates) + [evaluate],
        )
        curves["wall_s"] = time.perf_counter() - start
        losses = history.history.get("loss", [])
        curves["diverged"] = not all(math.isfinite(v) for v in losses)
        return curves

    def evaluation_weights(self):
        """The weights to score: schedule-free's averaged sequence, or the
        trained weights."""
        if self.kind in SCHEDULE_FREE_KINDS:
            return schedule_free_weights(self.model, self.optimizer)
        return self.model.get_weights()

    def _evaluate(self, epoch, curves):
        """Appends the validation and test scores after `epoch`."""
        val, test = self.evaluator.score_weights(self.evaluation_weights())
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

        Cosine is built for a length and a peak, AlgoPerf's schedule-free
        for a length; the others are set per run.
        """
        key = (
            task.name,
            optimizer,
            kind,
            updates if kind in LENGTH_KINDS else 0,
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

    def forget(self, task_name):
        """Drops a finished task's trainers (their compiled functions)."""
        self._trainers = {
            k: v for k, v in self._trainers.items() if k[0] != task_name
        }
        self._evaluators.pop(task_name, None)
