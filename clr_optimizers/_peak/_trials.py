"""`find_max_lr`'s trials: short 1cycle runs of `fit`, each from the same
starting point, scored on the validation data.

A `TrialRunner` snapshots every variable of the model, the optimizer and the
metrics, then, for each trial, restores them, trains `fit` on a fixed order
of batches with `OneCycle`'s policy at the trial's peak, and scores the
result. The rate of each update is `peak * unit(n)`, `unit` the 1cycle of
peak 1 and `peak` the optimizer's own `learning_rate` variable (assigned per
trial): the training step reads it from the state every backend carries, so
every trial of the same length runs the same compiled step.
"""

import dataclasses
import inspect
import math

import keras
from keras import ops

from clr_optimizers._callbacks._momentum_override import momentum_attribute
from clr_optimizers._callbacks._momentum_override import override_momentum
from clr_optimizers._callbacks._one_cycle import OneCycle
from clr_optimizers._callbacks._one_cycle_rates import OneCycleRates
from clr_optimizers._callbacks._rate_override import override_learning_rate
from clr_optimizers._keras_private import learning_rate_variable
from clr_optimizers._model_state import restore
from clr_optimizers._model_state import snapshot
from clr_optimizers._policy._ops import TensorOps


def one_cycle_defaults():
    """`OneCycle`'s default settings, by argument name (max_lr aside)."""
    parameters = inspect.signature(OneCycle.__init__).parameters
    return {
        name: p.default
        for name, p in parameters.items()
        if name not in ("self", "max_lr", "total_steps")
    }


@dataclasses.dataclass(frozen=True)
class Trial:
    """One trial of `find_max_lr`.

    Attributes:
        rate: The peak of the trial's 1cycle.
        updates: The updates the trial applied (fewer than planned when
            its loss stopped being finite).
        score: The monitored validation value after the trial (NaN when
            the trial diverged).
        rung: 1 for the first rung's short trials, 2 for the longer ones.
        diverged: Whether the training loss or the score was not finite.
    """

    rate: float
    updates: int
    score: float
    rung: int
    diverged: bool


class TrialRunner:
    """Runs `find_max_lr`'s trials on a compiled, built model.

    Args:
        model: The model, built, with its optimizer built.
        optimizer: The optimizer whose rate the training step reads.
        batches: A function of no arguments returning a fresh iterator of
            training batches `(x, y, sample_weight)`, the same order each
            time.
        accumulation: The optimizer's `gradient_accumulation_steps` (1
            without).
        validate: A function of no arguments returning the validation logs.
        monitor: The key of the validation logs to score.
    """

    def __init__(
        self, model, optimizer, batches, accumulation, validate, monitor
    ):
        self.model = model
        self.optimizer = optimizer
        self.batches = batches
        self.accumulation = accumulation
        self.validate = validate
        self.monitor = monitor
        defaults = one_cycle_defaults()
        self.unit = OneCycleRates(
            1.0,
            defaults["pct_start"],
            defaults["div_factor"],
            defaults["final_div_factor"],
            defaults["anneal"],
            defaults["three_phase"],
            defaults["base_momentum"],
            defaults["max_momentum"],
        )
        self.cycle_momentum = defaults["cycle_momentum"]
        self.saved = snapshot(model)
        self.start = int(ops.convert_to_numpy(optimizer.iterations))
        self._removers = []
        self._length = None

    def __enter__(self):
        self._install()
        return self

    def __exit__(self, *exc_info):
        for remove in reversed(self._removers):
            remove()
        self._removers = []
        restore(self.saved)

    def _count(self):
        iterations = self.optimizer.iterations
        start = ops.cast(self.start, iterations.dtype)
        return ops.maximum(iterations - start, 0)

    def _install(self):
        optimizer, unit = self.optimizer, self.unit
        peak = learning_rate_variable(optimizer)

        def rate():
            return TensorOps.read(peak) * unit.graph_rate(self._count())

        self._removers.append(override_learning_rate(optimizer, rate, self))
        low = self.unit.momentum_values[1]
        high = self.unit.momentum_values[0]
        name = None
        if self.cycle_momentum:
            name = momentum_attribute(optimizer, low, high)
        if name is not None:

            def momentum():
                return unit.graph_momentum(self._count())

            self._removers.append(
                override_momentum(optimizer, name, momentum, low, high)
            )

    def run(self, rate, updates, rung):
        """Trains a 1cycle of `updates` updates peaking at `rate`; scores it.

        Returns:
            A `Trial`.
        """
        restore(self.saved)
        learning_rate_variable(self.optimizer).assign(rate)
        if updates != self._length:
            self.unit.plan(updates)
            self._length = updates
            # The step reads the cycle's length as a constant on JAX.
            self.model.train_function = None
        history = self.model.fit(
            _fit_batches(self.batches()),
            steps_per_epoch=updates * self.accumulation,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[_StopWhenNotFinite()],
        )
        done = int(ops.convert_to_numpy(self.optimizer.iterations))
        losses = history.history.get("loss", [])
        finite = bool(losses) and all(math.isfinite(v) for v in losses)
        score = math.nan
        if finite:
            score = float(self.validate().get(self.monitor, math.nan))
        diverged = not (finite and math.isfinite(score))
        return Trial(
            rate=float(rate),
            updates=done - self.start,
            score=math.nan if diverged else score,
            rung=rung,
            diverged=diverged,
        )


def _fit_batches(batches):
    """Batches for `fit`: `(x, y)`, or `(x, y, sample_weight)` when given."""
    for x, y, sample_weight in batches:
        if sample_weight is None:
            yield (x,) if y is None else (x, y)
        else:
            yield x, y, sample_weight


class _StopWhenNotFinite(keras.callbacks.Callback):
    """Stops a trial's `fit` at the first non-finite training loss."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True
