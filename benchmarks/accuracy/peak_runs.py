"""The `find_max_lr` arm: the package's choice of peak, then `OneCycle` at
it for B updates (PROTOCOL.md, "Arms")."""

import functools

import keras

import clr_optimizers as co
from benchmarks.accuracy.backend import jit_compile
from benchmarks.accuracy.backend import steps_per_execution

# find_max_lr's budget: its default; with `--quick` (B = 20), enough for
# its range test's 30 steps and trials of 8 updates.
BUDGET = 2.0
QUICK_BUDGET = 7.0


def plain_optimizer(optimizer):
    """Keras's own SGD (momentum 0.9) or Adam, at their defaults."""
    if optimizer == "sgd":
        return keras.optimizers.SGD(momentum=0.9)
    return keras.optimizers.Adam()


def monitor(task, score="metric"):
    """What the trials are scored by: with `score="metric"`, the task's
    metric every tuning uses (the validation loss, the mean squared error,
    for R²); with `score="loss"`, the validation loss."""
    if score == "loss" or getattr(task, "metric", "accuracy") == "r2":
        return "val_loss"
    return "val_accuracy"


def compile_for_search(model, task, optimizer, quick):
    """Compiles `model` as the arm trains it, with the monitored metric."""
    regression = getattr(task, "metric", "accuracy") == "r2"
    if regression:
        loss, metrics = keras.losses.MeanSquaredError(), []
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(
        optimizer=plain_optimizer(optimizer),
        loss=loss,
        metrics=metrics,
        jit_compile=jit_compile(quick),
        steps_per_execution=steps_per_execution(task.every),
    )


def choose(task, model, seed, budget=2.0, score="metric"):
    """`find_max_lr` for a run of B updates from the model's weights."""
    return co.find_max_lr(
        model,
        task.x,
        task.y,
        epochs=task.budget // task.every,
        steps_per_epoch=task.every,
        batch_size=task.batch,
        validation_data=(task.x_val, task.y_val),
        monitor=monitor(task, score),
        budget=budget,
        seed=seed,
        verbose=0,
    )


def train(task, model, seed, result):
    """B updates of `OneCycle` at the chosen peak, in the seed's order."""
    x, y = task.batches(task.budget, seed)
    history = model.fit(
        x,
        y,
        batch_size=task.batch,
        steps_per_epoch=task.every,
        epochs=task.budget // task.every,
        shuffle=False,
        verbose=0,
        callbacks=[result.one_cycle()],
    )
    return history


@functools.cache
def _task(name, seeds):
    from benchmarks.accuracy.tasks import Task

    return Task(name, False, seeds)


def choose_and_train(
    name, optimizer, seed, budget=2.0, plot=None, score="metric"
):
    """The arm's run of (task, optimizer, seed), as a dict of results.

    With `plot`, a path: `find_max_lr`'s trials are drawn there.
    """
    from benchmarks.accuracy.training import Evaluator

    task = _task(name, 5 if seed < 5 else seed + 1)
    model = task.build_model(seed)
    model.set_weights(task.initial_weights[seed])
    compile_for_search(model, task, optimizer, quick=False)
    result = choose(task, model, seed, budget, score)
    if plot is not None:
        result.plot(plot)
    train(task, model, seed, result)
    val, test = Evaluator(task)(model)
    return {
        "task": name,
        "optimizer": optimizer,
        "seed": seed,
        "max_lr": result.max_lr,
        "cost": result.cost,
        "budget": task.budget,
        "trials": [[t.rate, t.updates, t.score, t.rung] for t in result.trials],
        "min_loss_lr": result.range_test.min_loss_lr,
        "val": val,
        "test": test,
    }
