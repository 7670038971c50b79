"""`OneCycle`: the 1cycle policy for any Keras optimizer, as a callback.

The callback holds the cycle's settings (`OneCycleRates`), plans its length
from the `fit` (`updates_in_fit`), drives the model's optimizer while `fit`
runs (`OptimizerAttachment`, counting the optimizer's own `iterations`),
cycles its momentum term (`override_momentum`), and after every batch
records `update_history` and puts the latest update's values in `fit`'s
logs (`UpdateLog`).
"""

from typing import Any

import keras

from clr_optimizers._callbacks._attachment import OptimizerAttachment
from clr_optimizers._callbacks._attachment import driven_optimizer
from clr_optimizers._callbacks._fit_length import updates_in_fit
from clr_optimizers._callbacks._momentum_override import momentum_attribute
from clr_optimizers._callbacks._momentum_override import override_momentum
from clr_optimizers._callbacks._one_cycle_rates import OneCycleRates
from clr_optimizers._callbacks._update_log import UpdateLog
from clr_optimizers._validation import AUTO
from clr_optimizers._validation import check_choice
from clr_optimizers._validation import check_factor
from clr_optimizers._validation import check_flag
from clr_optimizers._validation import check_fraction
from clr_optimizers._validation import check_momentum
from clr_optimizers._validation import check_one_cycle_phases
from clr_optimizers._validation import check_rate
from clr_optimizers._validation import check_total_steps


class OneCycle(keras.callbacks.Callback):
    """The 1cycle policy for any Keras optimizer: fastai's `fit_one_cycle`.

    `model.fit(x, y, epochs=10, callbacks=[OneCycle(max_lr=0.01)])` trains
    with the 1cycle policy of Smith & Topin, "Super-Convergence"
    (https://arxiv.org/abs/1708.07120), as PyTorch's `OneCycleLR` computes
    it, on any Keras optimizer built with a float learning rate (also the
    one inside a `LossScaleOptimizer`). The defaults are those of fastai's
    `fit_one_cycle`.

    The rate of update `n` (counted from 0) rises from
    `max_lr / div_factor` to `max_lr` over the first `pct_start` of the
    cycle, then anneals down to `max_lr / (div_factor * final_div_factor)`,
    which the last update of the cycle applies; with `three_phase`, it first
    comes back to `max_lr / div_factor` over as many updates as it rose, then
    anneals to the final rate. The phases end at PyTorch's steps
    `pct_start * total_steps - 1` (and `2 * pct_start * total_steps - 2`)
    and `total_steps - 1`. Past the end, the final rate holds.

    With `total_steps="auto"`, the cycle spans every update that the `fit`
    applies, planned when it starts: `epochs * steps_per_epoch //
    gradient_accumulation_steps` (Keras counts the micro-batches of an
    accumulation window across epochs; a partial window at the end of the
    `fit` applies nothing). Data of unknown length needs `steps_per_epoch`.
    An int fixes the length instead.

    The count `n` is the optimizer's `iterations`: the updates applied
    since the optimizer was created. So a resumed training continues the
    planned cycle exactly as an uninterrupted one: `fit(initial_epoch=k,
    epochs=E)` on the same model, a `fit` restarted by
    `keras.callbacks.BackupAndRestore` (which restores the optimizer's
    `iterations`), or a model reloaded from a `.keras` file, each with the
    same `epochs` as the whole run (Keras's `epochs` is the final epoch, so
    the plan, every update of epochs 0 to `epochs - 1`, is the same). A new
    optimizer starts the cycle from its first update.

    The optimizer's momentum term, if it has one above 0 (`momentum` of SGD
    and RMSprop, `beta_1` of Adam, AdamW, Nadam, Lion...), cycles the other
    way, from `max_momentum` down to `base_momentum` at the peak rate and
    back, for the length of the `fit`; the optimizer gets its own value back
    at the end (and reports it in its config throughout, so a model saved
    during the `fit` saves it). Optimizers without one (Adagrad, SGD with the
    default `momentum=0`) get the rate alone; `cycle_momentum=False` leaves
    the momentum term alone.

    The rate and momentum are computed inside the training step, before
    every update, from the optimizer's `iterations`, so each update of an
    execution gets its own values with any `steps_per_execution`. Runs on
    TensorFlow, JAX and PyTorch (which takes `steps_per_execution=1` only).
    An optimizer of clr_optimizers with a cycle (`clr=...`) or a `decay` of
    its own is refused: it would follow two schedules at once.

    After every batch, the rate (`"learning_rate"`) and the momentum term
    (`"momentum"` or `"beta_1"`) of the latest update applied go into `fit`'s
    batch and epoch logs, where `History`, `CSVLogger` and `TensorBoard`
    (per update with `update_freq=1`) find them: list `OneCycle` before
    those callbacks. `update_history` holds every applied update, also
    inside an execution of several, evaluated on the host in float64.

    After the `fit`, the optimizer's `learning_rate` variable holds the rate
    the next update would get (after a whole cycle, the final rate). If
    `fit` ends with an exception, Keras skips `on_train_end`, and the
    optimizer keeps the callback's rate and momentum until a later `fit`
    with the same callback ends.

    Args:
        max_lr: The peak rate; a finite number >= 0.
        total_steps: `"auto"` (every update of each `fit`) or the cycle's
            length in updates, a whole number >= 1. Defaults to `"auto"`.
        pct_start: The fraction of the cycle spent rising, in (0, 1).
            Defaults to `0.25`.
        div_factor: The first rate is `max_lr / div_factor`; a finite
            number > 0. Defaults to `25.0`.
        final_div_factor: The last rate is the first one divided by it; a
            finite number > 0. Defaults to `1e5`.
        anneal: `"cos"` or `"linear"`. Defaults to `"cos"`.
        three_phase: Whether to come back to the first rate before the
            final descent (PyTorch's `three_phase=True`). Defaults to False.
        base_momentum: The momentum at the peak rate, in [0, 1). Defaults
            to `0.85`.
        max_momentum: The momentum at the start and end, in [0, 1).
            Defaults to `0.95`.
        cycle_momentum: Whether to cycle the optimizer's momentum term.
            Defaults to True.

    Attributes:
        update_history: Dict of lists, one entry per applied update, across
            fits: `"iterations"` (the optimizer's `iterations` after the
            update, from 1), `"learning_rate"`, and `"momentum"` or
            `"beta_1"` when the callback cycles it.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import clr_optimizers as co
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
        >>> x, y = np.random.rand(32, 4), np.random.rand(32, 1)
        >>> one_cycle = co.OneCycle(max_lr=0.01)
        >>> history = model.fit(
        ...     x, y, batch_size=8, epochs=3, verbose=0, callbacks=[one_cycle]
        ... )
        >>> one_cycle.total_steps  # 3 epochs of 4 batches
        12
        >>> rates = one_cycle.update_history["learning_rate"]
        >>> round(rates[0], 9), round(max(rates), 9), rates[-1]
        (0.0004, 0.01, 4e-09)
        >>> one_cycle.update_history["beta_1"][-1], model.optimizer.beta_1
        (0.95, 0.9)
        >>> sorted(history.history)  # per epoch, the latest update's values
        ['beta_1', 'learning_rate', 'loss']
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int | str = AUTO,
        pct_start: float = 0.25,
        div_factor: float = 25.0,
        final_div_factor: float = 1e5,
        anneal: str = "cos",
        three_phase: bool = False,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        cycle_momentum: bool = True,
    ) -> None:
        super().__init__()
        self._max_lr = check_rate(max_lr, "max_lr")
        self._total_steps = check_total_steps(total_steps)
        self._pct_start = check_fraction(pct_start, "pct_start")
        self._div_factor = check_factor(div_factor, "div_factor")
        self._final_div_factor = check_factor(
            final_div_factor, "final_div_factor"
        )
        self._anneal = check_choice(anneal, "anneal", ("cos", "linear"))
        self._three_phase = check_flag(three_phase, "three_phase")
        self._base_momentum = check_momentum(base_momentum, "base_momentum")
        self._max_momentum = check_momentum(max_momentum, "max_momentum")
        self._cycle_momentum = check_flag(cycle_momentum, "cycle_momentum")
        if self._total_steps != AUTO:
            check_one_cycle_phases(
                self._total_steps,
                self._pct_start,
                self._three_phase,
                names=("pct_start", "total_steps"),
            )
        self._rates = OneCycleRates(
            self._max_lr,
            self._pct_start,
            self._div_factor,
            self._final_div_factor,
            self._anneal,
            self._three_phase,
            self._base_momentum,
            self._max_momentum,
        )
        self._link = OptimizerAttachment(
            self._rates, None, from_iterations=True
        )
        self._momentum_name: str | None = None
        self._restore_momentum: Any = None
        self._count = 0
        self.update_history: dict[str, list[Any]] = {}
        self._log = UpdateLog()
        self._log.history = self.update_history

    # Settings.

    @property
    def max_lr(self) -> float:
        """The peak rate."""
        return self._max_lr

    @property
    def total_steps(self) -> int | str:
        """The cycle's length in updates: as given, or with `"auto"` the
        length the latest `fit` planned (`"auto"` before any)."""
        planned = self._rates.total_steps
        if self._total_steps == AUTO and planned:
            return planned
        return self._total_steps

    @property
    def pct_start(self) -> float:
        """The fraction of the cycle spent rising."""
        return self._pct_start

    @property
    def div_factor(self) -> float:
        """The first rate is `max_lr / div_factor`."""
        return self._div_factor

    @property
    def final_div_factor(self) -> float:
        """The last rate is the first one divided by `final_div_factor`."""
        return self._final_div_factor

    @property
    def anneal(self) -> str:
        """`"cos"` or `"linear"`."""
        return self._anneal

    @property
    def three_phase(self) -> bool:
        """Whether the cycle has PyTorch's third phase."""
        return self._three_phase

    @property
    def base_momentum(self) -> float:
        """The momentum at the peak rate."""
        return self._base_momentum

    @property
    def max_momentum(self) -> float:
        """The momentum at the start and end of the cycle."""
        return self._max_momentum

    @property
    def cycle_momentum(self) -> bool:
        """Whether the optimizer's momentum term is cycled."""
        return self._cycle_momentum

    # Callback hooks.

    def on_train_begin(self, logs=None):
        name = type(self).__name__
        self._release()
        optimizer = driven_optimizer(self.model, name)
        total = self._total_steps
        if total == AUTO:
            total = updates_in_fit(self.model, self.params, name)[0]
            params = self.params or {}
            check_one_cycle_phases(
                total,
                self._pct_start,
                self._three_phase,
                names=("pct_start", "total_steps"),
                context=(
                    " (total_steps='auto': every update of the fit, "
                    f"epochs={params.get('epochs')!r} of "
                    f"steps_per_epoch={params.get('steps')!r})"
                ),
            )
        self._rates.plan(total)
        self._link.attach(self.model, self.params, self)
        try:
            self._cycle_momentum_of(optimizer)
        except BaseException:
            self._release()
            raise

    def _cycle_momentum_of(self, optimizer):
        """Puts the momentum schedule on the optimizer's momentum term."""
        low, high = self._base_momentum, self._max_momentum
        attribute = None
        if self._cycle_momentum:
            attribute = momentum_attribute(optimizer, low, high)
        self._momentum_name = attribute
        if attribute is None:
            return
        link, rates = self._link, self._rates

        def read():
            return rates.graph_momentum(link.graph_count())

        self._restore_momentum = override_momentum(
            optimizer, attribute, read, low, high
        )

    def on_train_batch_begin(self, batch, logs=None):
        # Read here, not at the end of the previous execution: another
        # callback (`BackupAndRestore`) may have set the count since.
        self._count = self._link.count()

    def on_train_batch_end(self, batch, logs=None):
        count = self._link.count()
        rates, name = self._rates, self._momentum_name
        for k in range(self._count, count):
            momentum = None if name is None else rates.host_momentum(k)
            self._log.add(k + 1, rates.host_rate(k), name, momentum)
        self._log.write_to(logs)
        self._link.sync()

    def on_epoch_end(self, epoch, logs=None):
        self._log.write_to(logs)

    def on_train_end(self, logs=None):
        self._release()

    def _release(self):
        """Gives the optimizer its own rate and momentum back."""
        if self._restore_momentum is not None:
            self._restore_momentum()
            self._restore_momentum = None
        # Detaching also drops the traced train function, which read the
        # rate and momentum schedules.
        self._link.detach()
