"""`lr_range_test`: the training loop of the learning rate range test."""

import itertools
from typing import Any

import keras
from keras import ops

from clr_optimizers._callbacks._rate_override import override_learning_rate
from clr_optimizers._callbacks._rate_override import rate_owner
from clr_optimizers._keras_private import micro_batch_counter
from clr_optimizers._model_state import restore
from clr_optimizers._model_state import snapshot
from clr_optimizers._range_test._data import batch_source
from clr_optimizers._range_test._data import validation_batches
from clr_optimizers._range_test._record import Recorder
from clr_optimizers._range_test._result import LRRangeTestResult
from clr_optimizers._range_test._result import warn_if_inconclusive
from clr_optimizers._range_test._sweep import SWEEPS
from clr_optimizers._range_test._sweep import applied_rates
from clr_optimizers._range_test._sweep import rate_table
from clr_optimizers._range_test._sweep import sweep_rates
from clr_optimizers._range_test._sweep import swept_rate
from clr_optimizers._validation import VALIDATION_DATASET
from clr_optimizers._validation import check_beta
from clr_optimizers._validation import check_compiled_model
from clr_optimizers._validation import check_count
from clr_optimizers._validation import check_divergence_factor
from clr_optimizers._validation import check_rate_range
from clr_optimizers._validation import check_sweep
from clr_optimizers._validation import check_training_data
from clr_optimizers._validation import check_validation_input
from clr_optimizers._validation import check_validation_steps
from clr_optimizers._validation import check_verbose


def lr_range_test(
    model: Any,
    x: Any,
    y: Any = None,
    *,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    steps: int = 100,
    batch_size: int | None = None,
    sample_weight: Any = None,
    sweep: str = "exponential",
    beta: float = 0.98,
    divergence_factor: float = 4.0,
    shuffle: bool = True,
    seed: int | None = None,
    verbose: int = 1,
    validation_data: Any = None,
    validation_steps: int | None = None,
) -> LRRangeTestResult:
    """The learning rate range test, to choose `base_lr` and `max_lr`.

    Section 3.3 of Smith, "Cyclical Learning Rates for Training Neural
    Networks" (https://arxiv.org/abs/1506.01186): train for a few steps while
    the learning rate rises from `min_lr` to `max_lr`, and watch the loss
    (and accuracy) fall, flatten and blow up. The test stops early once the
    smoothed loss exceeds `divergence_factor` times its lowest value (or is
    not finite). Afterwards the model's variables (weights, non-trainable
    state, random seeds), the optimizer's variables (iterations, slots,
    learning rate) and the metrics are restored to what they were, so
    training can start from the same point with the chosen bounds.

    The model must be compiled: the test trains with the model's optimizer
    and loss, one `train_on_batch` per step, and sets the optimizer's
    learning rate to the swept value (any Keras optimizer, plain or of
    clr_optimizers, cycle or schedule included: they are bypassed during the
    test). Test with the optimizer you will train with. It runs on every
    backend (TensorFlow, JAX, PyTorch).

    One step is one applied update. With an optimizer built with
    `gradient_accumulation_steps=g`, a step trains `g` batches (the first
    step only as many as complete the optimizer's current accumulation),
    the last of which applies the update at the step's rate; its loss and
    accuracy are the sample-weighted means over the `g` batches of the
    next step, all computed with the weights the update left.

    Reproducible: after `keras.utils.set_random_seed(s)`, the same model
    and data give the same curves and suggestions on every backend. With
    `seed=None` the shuffling's seed is drawn from NumPy's global
    generator, which `set_random_seed` seeds. Dropout and other random
    layers follow Keras's seeding: their seed state is one of the model's
    variables, restored after the test (on PyTorch, dropout draws from
    torch's global generator, which `set_random_seed` seeds too).

    The rates: `min_lr * (max_lr / min_lr)**(i / (steps - 1))` for
    `sweep="exponential"` (the default, as fastai's `lr_find`: 100 steps
    from 1e-7 to 10, about 12 per factor 10; use 10 or more), or
    `min_lr + (max_lr - min_lr) * i / (steps - 1)` for `sweep="linear"`
    (as in the paper, over a range you already know).
    See `LRRangeTestResult` for what is recorded and for the rule behind
    `suggested_base_lr` and `suggested_max_lr`.

    Args:
        model: A compiled `keras.Model`.
        x: Input data: a NumPy array or tensor (or a list or dict of them),
            or a `tf.data.Dataset` or other iterable of batches
            `(x, y)` or `(x, y, sample_weight)` (restarted when exhausted).
        y: Targets, like `x`, for array data. Defaults to None.
        min_lr: The first rate; a finite number >= 0 (> 0 for
            `sweep="exponential"`). Defaults to `1e-7`.
        max_lr: The last rate; a finite number > `min_lr`. Defaults to
            `10.0`.
        steps: The number of rates (and training steps), an integer >= 2.
            Defaults to `100`.
        batch_size: Samples per step for array data (defaults to 32); must
            be None for a dataset, which is batched already.
        sample_weight: Optional per-sample weights for array data.
        sweep: `"exponential"` or `"linear"`. Defaults to
            `"exponential"`.
        beta: Smoothing factor of the loss' moving average, in [0, 1); 0
            disables smoothing. Defaults to `0.98`.
        divergence_factor: Stop once the smoothed loss exceeds this many
            times its lowest value; a number > 1, or None to run all
            `steps` (a non-finite loss stops the test regardless). The ratio
            test applies while the lowest loss is > 0. Defaults to `4.0`.
        shuffle: Whether to shuffle array data (at every pass).
            Defaults to True.
        seed: Seed of the shuffling, or None (the default) to draw one from
            NumPy's global generator (seeded by
            `keras.utils.set_random_seed`).
        verbose: 0 (silent) or 1 (a `keras.utils.Progbar`). Defaults to `1`.
        validation_data: None, a fixed held-out batch `(x_val, y_val)` or
            `(x_val, y_val, sample_weight)` (a tuple), or a dataset of such
            batches (a `tf.data.Dataset` or another iterable that is not a
            tuple or list): each step's loss and accuracy are then those
            of the held-out data, evaluated with the weights just updated,
            as in the paper's figures (validation accuracy), instead of the
            next training batch's. A batch is evaluated with
            `test_on_batch`; a dataset's first `validation_steps` batches
            (taken once, so that every step sees the same ones) with
            `model.evaluate`, whose loss is their sample-weighted mean.
            Defaults to None.
        validation_steps: With a dataset as `validation_data`, how many of
            its batches to evaluate after each step: an integer >= 1, or
            None (the default) for all of them (one pass; required for an
            endless `tf.data.Dataset`). Must be None otherwise.

    Returns:
        An `LRRangeTestResult`.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import clr_optimizers as co
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=co.SGD(), loss="mse")
        >>> x = np.random.rand(64, 4)
        >>> y = x @ np.array([[1.0], [-2.0], [3.0], [0.5]])
        >>> result = co.lr_range_test(
        ...     model, x, y, min_lr=1e-3, max_lr=10.0, steps=20,
        ...     batch_size=64, sweep="exponential", verbose=0,
        ... )
        >>> result.diverged  # the loss blew up before the last rate
        True
        >>> 0 < result.suggested_base_lr < result.suggested_max_lr < 1
        True
        >>> # The test put the model and its optimizer back as they were:
        >>> int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        0
        >>> clr = co.CyclicLR(
        ...     base_lr=result.suggested_base_lr,
        ...     max_lr=result.suggested_max_lr,
        ...     step_size=4,
        ... )
        >>> _ = model.fit(x, y, batch_size=16, verbose=0, callbacks=[clr])
    """
    check_compiled_model(model)
    optimizer = rate_owner(model.optimizer, "lr_range_test")
    min_lr, max_lr = check_rate_range(min_lr, max_lr)
    steps = check_count(steps, "steps", 2)
    sweep = check_sweep(sweep, min_lr, SWEEPS)
    check_beta(beta)
    check_divergence_factor(divergence_factor)
    check_verbose(verbose)
    check_training_data(x)
    kind = check_validation_input(validation_data)
    validation_steps = check_validation_steps(
        validation_steps, validation_data, kind
    )
    batches = batch_source(x, y, sample_weight, batch_size, shuffle, seed)
    if kind == VALIDATION_DATASET:
        validation_data = validation_batches(validation_data, validation_steps)

    rates = sweep_rates(min_lr, max_lr, steps, sweep)
    table = rate_table(rates)
    applied = applied_rates(rates)
    first = next(batches)
    saved = _build_and_snapshot(model, optimizer, first)
    group_sizes = _group_sizes(optimizer)
    progress = _Progress(steps, verbose)
    recorder = Recorder(beta, divergence_factor)
    remove_override = override_learning_rate(
        optimizer, swept_rate(optimizer, table), lr_range_test
    )
    try:
        _run(
            model,
            itertools.chain([first], batches),
            _validator(model, validation_data, kind),
            group_sizes,
            recorder,
            progress,
            applied,
        )
    finally:
        remove_override()
        restore(saved)
        # The traced train function reads the test's rate: retrace.
        model.train_function = None
    progress.finish(recorder, applied)
    result = _result(recorder, applied, sweep, validation_data is not None)
    warn_if_inconclusive(result)
    return result


def _build_and_snapshot(model, optimizer, batch):
    """Builds what the first step would create, then snapshots it all.

    The snapshot holds the model's variables (weights, non-trainable state,
    random seeds), the optimizer's (iterations, slots, learning rate) and
    the metrics', as `(variable, NumPy copy)` pairs.
    """
    if not model.built:
        model(batch[0])
    if not optimizer.built or not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return snapshot(model)


def _group_sizes(optimizer):
    """The number of batches of each update: `sizes(i)` for update `i`.

    One, without gradient accumulation. With `gradient_accumulation_steps`
    `g`, the optimizer applies an update every `g` batches (when its
    micro-batch count reaches a multiple of `g`): the first update takes
    the batches that complete the accumulation in progress, every later
    one `g`.
    """
    g = int(getattr(optimizer, "gradient_accumulation_steps", None) or 1)
    done = int(ops.convert_to_numpy(micro_batch_counter(optimizer))) % g
    return lambda i: g - done if i == 0 else g


def _validator(model, validation_data, kind):
    """None, or a function returning the held-out data's logs.

    A fixed batch is evaluated with `test_on_batch`; the batches taken
    from a dataset with `model.evaluate`, as one pass over them.
    """
    if validation_data is None:
        return None
    if kind != VALIDATION_DATASET:

        def validate():
            # Per-batch metrics: Keras before 3.12 does not reset them in
            # test_on_batch.
            model.reset_metrics()
            return model.test_on_batch(*validation_data, return_dict=True)

        return validate

    def replay():
        for batch in validation_data:
            yield _without_trailing_none(batch)

    def validate():
        return model.evaluate(
            replay(),
            steps=len(validation_data),
            verbose=0,
            return_dict=True,
        )

    return validate


def _without_trailing_none(batch):
    """`(x, y, sample_weight)` without the trailing Nones Keras's generator
    adapter cannot take."""
    batch = tuple(batch)
    while len(batch) > 1 and batch[-1] is None:
        batch = batch[:-1]
    return batch


def _train_update(model, batches, size):
    """Trains `size` batches (one update); returns their mean logs.

    The mean of each value weighted by the batches' sample counts, as
    Keras averages the loss over the batches of an epoch; one batch's logs
    as they are.
    """
    logs, counts = [], []
    for _ in range(size):
        batch = next(batches)
        # Per-batch metrics: Keras before 3.12 does not reset them in
        # train_on_batch.
        model.reset_metrics()
        logs.append(model.train_on_batch(*batch, return_dict=True))
        counts.append(_sample_count(batch))
    if size == 1:
        return logs[0]
    total = sum(counts)
    return {
        key: sum(n * float(log[key]) for n, log in zip(counts, logs)) / total
        for key in logs[0]
    }


def _sample_count(batch):
    """The number of samples of a batch `(x, y, sample_weight)`."""
    leaves = [leaf for leaf in keras.tree.flatten(batch[0]) if leaf is not None]
    return int(leaves[0].shape[0])


def _logs_after_each_step(model, batches, validate, group_sizes, steps):
    """Trains one update per rate; yields `(i, logs)` for i in 0 ... steps.

    Update `i` applies the `i`-th rate, at the last of its
    `group_sizes(i)` batches; the loss after it is that of the forward
    passes of update `i + 1`, so one extra update (at rate 0) measures the
    last. The logs of `i = 0` are those of the first update's forward
    passes, before any update. With `validate`, the logs of `i > 0` are the
    held-out data's, evaluated before update `i + 1` with the weights
    update `i` left.
    """
    model.make_train_function(force=True)
    for i in range(steps + 1):
        if validate is not None and i > 0:
            held_out = validate()
        if i < steps or validate is None:
            logs = _train_update(model, batches, group_sizes(i))
        if validate is not None and i > 0:
            logs = held_out
        yield i, logs


def _run(model, batches, validate, group_sizes, recorder, progress, applied):
    """The loop: records each step's logs until the sweep ends or diverges.

    One step (one applied update) per rate of `applied`, plus the extra one
    that measures the last loss.
    """
    for i, logs in _logs_after_each_step(
        model, batches, validate, group_sizes, len(applied)
    ):
        if i == 0:
            recorder.track_accuracy(logs)
            continue
        smoothed = recorder.add(logs)
        progress.update(i, applied[i - 1], smoothed)
        if recorder.diverged:
            break


class _Progress:
    """Keras's progress bar over the steps, showing the rate and the loss."""

    def __init__(self, steps, verbose):
        self.steps = steps
        self.bar = None
        if verbose:
            self.bar = keras.utils.Progbar(
                steps, verbose=verbose, stateful_metrics=["lr", "loss"]
            )

    def update(self, count, rate, loss, finalize=None):
        """Shows `count` steps done, the last at `rate` with `loss`."""
        if self.bar is not None:
            self.bar.update(
                count, values=[("lr", rate), ("loss", loss)], finalize=finalize
            )

    def finish(self, recorder, applied):
        """Closes the bar of a test that stopped before the last step."""
        count = len(recorder)
        if count < self.steps:
            self.update(
                count, applied[count - 1], recorder.loss.smoothed[-1], True
            )


def _result(recorder, applied, sweep, validation):
    """The `LRRangeTestResult` of what `recorder` holds."""
    accuracy = recorder.accuracy
    return LRRangeTestResult(
        learning_rates=applied[: len(recorder)],
        losses=recorder.loss.smoothed,
        raw_losses=recorder.loss.raw,
        accuracies=None if accuracy is None else accuracy.smoothed,
        raw_accuracies=None if accuracy is None else accuracy.raw,
        accuracy_name=recorder.accuracy_name,
        diverged=recorder.diverged,
        sweep=sweep,
        validation=validation,
    )
