"""`FitSchedule`: an optimizer's schedule planned from `fit`, and logged."""

import math
import warnings

import keras

from clr_optimizers._callbacks._fit_length import updates_in_fit
from clr_optimizers._callbacks._rate_override import rate_owner
from clr_optimizers._callbacks._update_log import UpdateLog
from clr_optimizers._compat import last_batch_of_execution
from clr_optimizers._optimizer._applied import AppliedSchedule


class FitSchedule(keras.callbacks.Callback):
    """Plans an optimizer's `clr` lengths from `fit`, and logs every update.

    At the start of `fit`, a length of the optimizer's `clr` dict given in
    epochs (`{"epochs": x}`) or 1cycle's `total_steps="auto"` becomes a
    number of updates (`optimizer.plan_schedule`): `"auto"` is every update
    of the fit, `epochs * steps_per_epoch // gradient_accumulation_steps`,
    so the last update applies 1cycle's final rate. A length planned before
    (by an earlier `fit`, or restored with the optimizer by
    `BackupAndRestore` or `keras.models.load_model`) is kept: a resumed fit
    continues the planned cycle.

    After every batch, the rate (`"learning_rate"`) and the cycled momentum
    term (`"momentum"` or `"beta_1"`) of the latest update go into `fit`'s
    batch and epoch logs, where `History`, `CSVLogger` and `TensorBoard`
    (per update with `update_freq=1`) find them: list `FitSchedule` before
    those callbacks. `update_history` holds every applied update, also with
    `steps_per_execution > 1`, evaluated in float64 on the host from the
    optimizer's variables, at no cost in the training step.

    The record is computed on the host from the settings' variables read at
    each epoch's start and from the updates counted on the host, so logging
    costs no device access per batch. Settings assigned in the middle of an
    epoch (a new `max_lr`, say) apply at once in the training step but show
    in the record from the next epoch: the callback then warns at the
    epoch's end. With `log_updates=False` it only plans the lengths and
    writes the epoch logs (and one `update_history` entry per epoch).

    Args:
        log_updates: Whether to log every update (True) or only the last of
            each epoch. Defaults to True.

    Works with the optimizers of clr_optimizers (and any other Keras
    optimizer, whose rate or `LearningRateSchedule` it logs), on
    TensorFlow, JAX and PyTorch.

    Attributes:
        update_history: Dict of lists, one entry per applied update:
            `"iterations"` (the optimizer's `iterations` after it, from 1),
            `"learning_rate"`, and `"momentum"` or `"beta_1"` when the cycle
            drives it. Updates that held their rate because of invalid
            settings (see `held_updates`) are not in it.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import clr_optimizers as co
        >>> opt = co.SGD(
        ...     learning_rate=0.01,
        ...     clr={"mode": "1cycle", "max_lr": 0.1, "total_steps": "auto"},
        ... )
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=opt, loss="mse")
        >>> x, y = np.random.rand(32, 4), np.random.rand(32, 1)
        >>> monitor = co.FitSchedule()
        >>> history = model.fit(
        ...     x, y, batch_size=8, epochs=3, verbose=0, callbacks=[monitor]
        ... )
        >>> int(opt.total_steps)  # 3 epochs of 4 batches
        12
        >>> round(monitor.update_history["learning_rate"][-1], 9)  # 0.01/1e4
        1e-06
        >>> len(history.history["learning_rate"])  # one per epoch
        3
    """

    def __init__(self, log_updates: bool = True) -> None:
        super().__init__()
        if not isinstance(log_updates, bool):
            raise TypeError(
                "`log_updates` must be True or False. "
                f"Received: log_updates={log_updates!r}"
            )
        self.log_updates = log_updates
        self.update_history: dict[str, list] = {}
        self._log = UpdateLog()
        self._schedule = None
        self._counts = (0, 0)
        self._micro_batches = 0
        self._batch_begin = 0
        self._steps_per_execution = 1

    def on_train_begin(self, logs=None):
        optimizer = rate_owner(self.model.optimizer, type(self).__name__)
        if getattr(optimizer, "_lengths_to_plan", ()):
            total, per_epoch = updates_in_fit(
                self.model, self.params, type(self).__name__
            )
            optimizer.plan_schedule(total, per_epoch)
        self._log.history = self.update_history
        self._schedule = AppliedSchedule(optimizer, self.model)
        # Read once: on JAX, `self.model` writes the carried state back to
        # the variables, which no batch should pay for.
        self._steps_per_execution = _steps_per_execution(self.model)
        self._recount()

    def _recount(self):
        """Reads the counts from the optimizer (once per epoch)."""
        schedule = self._schedule
        self._counts = schedule.read_counts()
        self._micro_batches = self._counts[1] * schedule.accumulation

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_begin = batch

    def on_epoch_begin(self, epoch, logs=None):
        if self._schedule is not None:
            self._schedule.refresh()

    def on_train_batch_end(self, batch, logs=None):
        schedule = self._schedule
        if schedule is None or not self.log_updates:
            return
        # The updates of this execution, counted on the host (Keras applies
        # one every `gradient_accumulation_steps` batches) and evaluated from
        # the settings read at the epoch's start: no device access.
        steps = self.params.get("steps") if self.params else None
        end = last_batch_of_execution(
            self._batch_begin,
            batch,
            self._steps_per_execution,
            steps,
        )
        before = self._micro_batches
        self._micro_batches += max(end - self._batch_begin + 1, 1)
        accumulation = schedule.accumulation
        updates = self._micro_batches // accumulation - before // accumulation
        position, update = self._counts
        for k in range(updates):
            rate, momentum = schedule.values(position + k, update + k)
            self._log.add(
                update + k + 1, rate, schedule.momentum_name, momentum
            )
        self._counts = (position + updates, update + updates)
        self._log.write_to(logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._schedule is None:
            return
        logged = self._counts
        # The optimizer's counts are the truth: an update that held its
        # rate (invalid settings) did not advance the cycle.
        self._recount()
        position, update = self._counts
        rate, momentum = self._schedule.values(
            max(position - 1, 0), max(update - 1, 0)
        )
        if not self.log_updates:
            self._log.add(update, rate, self._schedule.momentum_name, momentum)
        elif update and (
            logged != self._counts
            or not math.isclose(
                rate, self._log.latest_rate(), rel_tol=1e-6, abs_tol=1e-12
            )
        ):
            warnings.warn(
                f"Epoch {epoch}: the logged rates may differ from the applied "
                "ones after some update of this epoch: the schedule's "
                "settings were assigned, or updates held their rate, during "
                "the epoch. The record reads the settings at each epoch's "
                f"start. Applied last: learning_rate={rate!r}.",
                RuntimeWarning,
                stacklevel=2,
            )
        self._log.write_to(logs)

    def on_train_end(self, logs=None):
        self._schedule = None


def _steps_per_execution(model):
    return int(getattr(model, "steps_per_execution", 1) or 1)
