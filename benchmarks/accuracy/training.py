"""Compiled models and optimizers that train a run of any arm, and score it
(PROTOCOL.md, "Optimizers" and "Arms")."""

import math
import time

import keras
import numpy as np

import clr_optimizers as co
from benchmarks.accuracy.arms import ONE_CYCLE_DIV
from benchmarks.accuracy.backend import jit_compile
from benchmarks.accuracy.backend import steps_per_execution


def loss():
    """The training loss: cross-entropy on the models' logits."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def make_optimizer(optimizer, kind, updates, peak=None):
    """The clr_optimizers optimizer of a trainer.

    Args:
        optimizer: "sgd" (momentum 0.9) or "adam".
        kind: "fixed", "cosine", "triangular2" or "1cycle".
        updates: The run's length; fixes the cosine decay (1cycle's is set
            per run: `total_steps="auto"`, planned here, then assigned).
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


class Evaluator:
    """Scores any trainer's weights on a task's validation and test sets.

    One model per task, shared by its trainers, so that one predict
    function (compiled once) serves every run; validation and test are
    predicted together, as one batch.
    """

    def __init__(self, task):
        """The evaluator of `task`."""
        self.model = task.build_model()
        self.x = np.concatenate([task.x_val, task.x_test])
        self.y = np.concatenate([task.y_val, task.y_test])
        self.split = len(task.y_val)

    def __call__(self, model):
        """(validation accuracy, test accuracy) of `model`'s weights."""
        self.model.set_weights(model.get_weights())
        logits = np.asarray(self.model.predict_on_batch(self.x))
        right = np.argmax(logits, axis=-1) == self.y
        right &= np.all(np.isfinite(logits), axis=-1)
        split = self.split
        return float(np.mean(right[:split])), float(np.mean(right[split:]))


class Trainer:
    """One compiled model and optimizer, reset and reused across runs."""

    def __init__(self, task, evaluator, optimizer, kind, updates, peak, quick):
        """Compiles `task`'s model with the optimizer of `kind`.

        Args:
            task: The `tasks.Task`.
            evaluator: The task's `Evaluator`.
            optimizer: "sgd" or "adam".
            kind: "fixed", "cosine", "triangular2" or "1cycle".
            updates: The run's length (the cosine schedule is built for it).
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
            loss=loss(),
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
        if self.kind == "fixed":
            opt.learning_rate = rates["lr"]
        elif self.kind == "triangular2":
            opt.learning_rate = rates["base_lr"]
            opt.max_lr.assign(rates["max_lr"])
            opt.step_size.assign(max(1, updates // 6))
        elif self.kind == "1cycle":
            opt.learning_rate = rates["max_lr"] / ONE_CYCLE_DIV
            opt.max_lr.assign(rates["max_lr"])
            opt.total_steps.assign(updates)

    def run(self, seed, updates, rates):
        """Trains for `updates` from the seed's weights; the accuracy curves.

        Args:
            seed: Fixes the initial weights and the batch order.
            updates: The number of updates, a multiple of the task's `every`.
            rates: {"lr"} (fixed, cosine: its peak) or {"base_lr",
                "max_lr"} (triangular2, 1cycle).

        Returns:
            A dict: "steps", "val", "test" (accuracy every `every` updates),
            "diverged" (a training loss was not finite) and "wall_s".
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
            callbacks=[evaluate],
        )
        curves["wall_s"] = time.perf_counter() - start
        losses = history.history.get("loss", [])
        curves["diverged"] = not all(math.isfinite(v) for v in losses)
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

        Cosine is built for a length and a peak; the others are set per
        run.
        """
        key = (
            task.name,
            optimizer,
            kind,
            updates if kind == "cosine" else 0,
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
