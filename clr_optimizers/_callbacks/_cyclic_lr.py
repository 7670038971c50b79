"""`CyclicLR`: the original CLR callback's interface for any Keras optimizer.

The callback holds the cycle's settings (`CycleRates`, with a `ScaleTable`
for a custom `scale_fn`), drives the model's optimizer while `fit` runs
(`OptimizerAttachment`), and after every batch records `history` and
`update_history`, puts the latest update's rate in `fit`'s logs
(`UpdateLog`), and sets the optimizer's `learning_rate` variable to the rate
of the next update.
"""

from collections.abc import Callable
from typing import Any

import keras

from clr_optimizers._callbacks._attachment import OptimizerAttachment
from clr_optimizers._callbacks._cycle_rates import CycleRates
from clr_optimizers._callbacks._scale_table import SCALE_MODES
from clr_optimizers._callbacks._scale_table import ScaleTable
from clr_optimizers._callbacks._trainer_state import optimizer_iterations
from clr_optimizers._callbacks._update_log import UpdateLog
from clr_optimizers._compat import last_batch_of_execution
from clr_optimizers._validation import check_choice
from clr_optimizers._validation import check_gamma
from clr_optimizers._validation import check_host_function
from clr_optimizers._validation import check_mode
from clr_optimizers._validation import check_rate
from clr_optimizers._validation import check_step_size
from clr_optimizers._validation import check_whole_count
from clr_optimizers._validation import check_whole_number


class CyclicLR(keras.callbacks.Callback):
    """Cyclical learning rate callback for any Keras optimizer.

    The callback of the original CLR repository, with the same constructor,
    `history` and `_reset`, for Keras 3: migrating code changes one import.
    The rate of update `clr_iterations` is
    `clr_optimizers.cyclical_learning_rate(clr_iterations, base_lr, max_lr,
    step_size, mode, gamma)`, the formula of Smith, "Cyclical Learning Rates
    for Training Neural Networks" (https://arxiv.org/abs/1506.01186), or with
    a custom `scale_fn` the triangle scaled by `scale_fn(cycle)`
    (`scale_mode="cycle"`) or `scale_fn(clr_iterations)`
    (`scale_mode="iterations"`).

    With `warmup_steps=b > 0`, a linear warm-up comes first: update `n < b`
    applies `warmup_start_lr + (base_lr - warmup_start_lr) * n / b`, and
    update `n >= b` the cycle's rate at `clr_iterations = n - b` (update `b`
    applies `base_lr`), as Goyal et al., "Accurate, Large Minibatch SGD"
    (https://arxiv.org/abs/1706.02677). The warm-up is part of the count:
    `_reset()` starts it again.

    The rate is computed inside the training step, before every update,
    from variables the callback owns, so it is exact with any
    `steps_per_execution`: each update of an execution gets its own rate.
    `clr_iterations` counts the updates applied while the callback trains the
    model (with gradient accumulation, one per applied update); it goes on
    across `fit` calls until `_reset()`.

    The callback works with every Keras optimizer (and the one inside a
    `LossScaleOptimizer`) built with a float learning rate. While `fit` runs,
    the rate replaces the optimizer's own learning rate; the optimizer's
    variables are not changed in number or order (saving and checkpoints are
    unaffected), and its `learning_rate` variable holds the rate of the next
    update after every batch and after training, as with the original
    callback. An optimizer of clr_optimizers that has a cycle (`clr=...`) or
    a `decay` of its own is refused: it would be two schedules at once.

    A custom `scale_fn` may be any Python function, NumPy code included (such
    as `lambda x: 0.5 * (1 + np.sin(x * np.pi / 2.0))`). It is called on the
    host with NumPy float64 arguments, before each execution, for the cycles
    or iterations that execution can reach; the training step reads the
    values from a table, so no update ever uses a stale value.

    After every batch, the rate of the latest update applied goes into
    `fit`'s batch and epoch logs as `"learning_rate"`, where `History`,
    `CSVLogger` and `TensorBoard` (per update with `update_freq=1`) find it:
    list `CyclicLR` before those callbacks. `update_history` holds every
    applied update's rate, also with `steps_per_execution > 1`, evaluated
    on the host at no cost in the training step.

    Runs on the TensorFlow, JAX and PyTorch backends. JAX compiles the
    training step with the callback's variables as constants, so there the
    step is recompiled whenever a setting changes, and a custom `scale_fn`
    is evaluated for every update of the `fit` before it starts (the `fit`
    needs a known number of steps). If `fit` ends with an exception, Keras
    skips `on_train_end`, and the optimizer keeps following the callback's
    cycle until a later `fit` with the callback ends.

    Args:
        base_lr: The bottom of the cycle; a finite number >= 0.
            Defaults to `0.001`.
        max_lr: The peak of the cycle; a finite number >= 0.
            Defaults to `0.006`.
        step_size: Half a cycle, in updates; a whole number > 0 (`2000` or
            `2000.0`). Defaults to `2000.0`.
        mode: One of `"triangular"`, `"triangular2"`, `"exp_range"`; ignored
            when `scale_fn` is given. Defaults to `"triangular"`.
        gamma: The `"exp_range"` amplitude factor per update, in (0, 1].
            Defaults to `1.0`.
        scale_fn: None, or a function of one number returning the amplitude
            factor, a finite real number. Overrides `mode`. Defaults to None.
        scale_mode: `"cycle"` (`scale_fn` gets the cycle number, from 1) or
            `"iterations"` (`scale_fn` gets `clr_iterations`, from 0). Used
            only with `scale_fn`. Defaults to `"cycle"`.
        warmup_steps: The updates of a linear warm-up before the cycle; a
            whole number >= 0. Defaults to `0` (no warm-up).
        warmup_start_lr: The rate of the warm-up's first update; a finite
            number >= 0. Defaults to `0.0`.

    Attributes:
        history: Dict of lists, one entry per call of `on_train_batch_end`:
            `"lr"` (the rate of the latest update applied in the batch or
            execution), `"iterations"` (batches trained with this callback,
            counted from 1) and every key of the batch logs (such as
            `"loss"`). With `steps_per_execution=N`, Keras calls batch
            callbacks once per execution of up to N batches, so there is one
            entry per execution.
        update_history: Dict of lists, one entry per applied update, also
            inside an execution of several: `"iterations"` (the optimizer's
            `iterations` after the update, from 1) and `"learning_rate"`.
        clr_iterations: Updates applied in the current cycle (an int;
            assignable).
        trn_iterations: Batches trained with this callback (an int).

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import clr_optimizers as co
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
        >>> clr = co.CyclicLR(
        ...     base_lr=0.001, max_lr=0.006, step_size=4.0, mode="triangular"
        ... )
        >>> x, y = np.random.rand(32, 4), np.random.rand(32, 1)
        >>> _ = model.fit(x, y, batch_size=4, verbose=0, callbacks=[clr])
        >>> [round(lr, 6) for lr in clr.history["lr"]]  # one per update
        [0.001, 0.00225, 0.0035, 0.00475, 0.006, 0.00475, 0.0035, 0.00225]
        >>> clr.clr_iterations, round(clr.clr(), 6)  # the next update's rate
        (8, 0.001)
        >>> clr._reset(new_base_lr=0.0005, new_max_lr=0.003)
        >>> clr.clr_iterations, round(clr.clr(), 6)
        (0, 0.0005)
    """

    def __init__(
        self,
        base_lr: float = 0.001,
        max_lr: float = 0.006,
        step_size: float = 2000.0,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[Any], Any] | None = None,
        scale_mode: str = "cycle",
        warmup_steps: float = 0,
        warmup_start_lr: float = 0.0,
    ) -> None:
        super().__init__()
        base_lr = check_rate(base_lr, "base_lr")
        max_lr = check_rate(max_lr, "max_lr")
        step_size = check_step_size(step_size, "step_size")
        warmup_steps = check_whole_count(warmup_steps, "warmup_steps")
        warmup_start_lr = check_rate(warmup_start_lr, "warmup_start_lr")
        if scale_fn is None:
            mode = check_mode(mode)
            gamma = check_gamma(gamma, mode, "gamma")
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
            self._table = None
        else:
            check_host_function(scale_fn, "scale_fn")
            scale_mode = check_choice(scale_mode, "scale_mode", SCALE_MODES)
            gamma = check_gamma(gamma, "exp_range", "gamma")
            self._table = ScaleTable(scale_fn, scale_mode)
        self._mode = mode
        self._gamma = gamma
        self._scale_fn = scale_fn
        self._scale_mode = scale_mode
        self._rates = CycleRates(
            base_lr,
            max_lr,
            step_size,
            mode,
            gamma,
            self._table,
            warmup_steps,
            warmup_start_lr,
        )
        self._link = OptimizerAttachment(self._rates, self._table)
        self._batch_begin = 0
        self._steps_per_execution = 1
        self._counts_before = (0, 0)
        self.trn_iterations = 0
        self.history: dict[str, list[Any]] = {}
        self.update_history: dict[str, list[Any]] = {}
        self._log = UpdateLog()
        self._log.history = self.update_history

    # Settings.

    @property
    def base_lr(self) -> float:
        """The bottom of the cycle (assignable)."""
        return self._rates.base_lr

    @base_lr.setter
    def base_lr(self, value: float) -> None:
        self._rates.assign(base_lr=check_rate(value, "base_lr"))
        self._link.sync()

    @property
    def max_lr(self) -> float:
        """The peak of the cycle (assignable)."""
        return self._rates.max_lr

    @max_lr.setter
    def max_lr(self, value: float) -> None:
        self._rates.assign(max_lr=check_rate(value, "max_lr"))
        self._link.sync()

    @property
    def step_size(self) -> int:
        """Half a cycle, in updates (assignable)."""
        return self._rates.step_size

    @step_size.setter
    def step_size(self, value: float) -> None:
        self._rates.assign(step_size=check_step_size(value, "step_size"))
        self._link.sync()

    @property
    def mode(self) -> str:
        """The policy given to the constructor."""
        return self._mode

    @property
    def gamma(self) -> float:
        """The `"exp_range"` amplitude factor per update."""
        return self._gamma

    @property
    def scale_fn(self) -> Callable[[Any], Any] | None:
        """The custom amplitude function, or None."""
        return self._scale_fn

    @property
    def scale_mode(self) -> str:
        """What the amplitude is a function of: `"cycle"` or `"iterations"`."""
        return self._scale_mode

    @property
    def warmup_steps(self) -> int:
        """The updates of the linear warm-up before the cycle."""
        return self._rates.warmup_steps

    @property
    def warmup_start_lr(self) -> float:
        """The rate of the warm-up's first update."""
        return self._rates.warmup_start_lr

    @property
    def clr_iterations(self) -> int:
        """Updates applied in the current cycle (assignable)."""
        return self._link.count()

    @clr_iterations.setter
    def clr_iterations(self, value: float) -> None:
        self._link.set_count(check_whole_number(value, "clr_iterations"))

    def _reset(
        self,
        new_base_lr: float | None = None,
        new_max_lr: float | None = None,
        new_step_size: float | None = None,
    ) -> None:
        """Restarts the cycle, optionally with new bounds or step size.

        `clr_iterations` goes back to 0, so the next update uses `base_lr`
        (a `"triangular2"` or `"exp_range"` cycle starts again at full
        amplitude), or with a warm-up `warmup_start_lr`, the warm-up
        starting again. Callable at any time, also during `fit` (from another
        callback); the next update uses the new settings.

        Args:
            new_base_lr: None (keep), or the new bottom of the cycle.
            new_max_lr: None (keep), or the new peak of the cycle.
            new_step_size: None (keep), or the new half cycle, in updates.
        """
        values = {}
        if new_base_lr is not None:
            values["base_lr"] = check_rate(new_base_lr, "new_base_lr")
        if new_max_lr is not None:
            values["max_lr"] = check_rate(new_max_lr, "new_max_lr")
        if new_step_size is not None:
            values["step_size"] = check_step_size(
                new_step_size, "new_step_size"
            )
        self._rates.assign(**values)
        self.clr_iterations = 0
        self._link.sync()

    def clr(self) -> float:
        """The rate of the next update, a Python float."""
        return self._rates.host_rate(self.clr_iterations)

    # Callback hooks.

    def on_train_begin(self, logs=None):
        model = self.model
        self._link.attach(model, self.params, self)
        # Read once: on JAX, `self.model` writes the carried state back to
        # the variables, which no batch should pay for.
        self._steps_per_execution = int(
            getattr(model, "steps_per_execution", 1) or 1
        )

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_begin = batch
        self._counts_before = self._counts()
        self._link.prepare_execution()

    def _counts(self):
        """`(clr_iterations, the optimizer's iterations)` now."""
        link = self._link
        return link.count(), optimizer_iterations(link.model, link.optimizer)

    def on_train_batch_end(self, batch, logs=None):
        steps = self.params.get("steps") if self.params else None
        end = last_batch_of_execution(
            self._batch_begin,
            batch,
            self._steps_per_execution,
            steps,
        )
        self.trn_iterations += max(end - self._batch_begin + 1, 1)
        count, iterations = self._counts()
        first_count, first_iterations = self._counts_before
        # Every update the execution applied, from the counts around it.
        applied = iterations - first_iterations
        rates = [self._rates.host_rate(first_count + k) for k in range(applied)]
        for k, rate in enumerate(rates):
            self._log.add(first_iterations + k + 1, rate)
        last = max(count - 1, 0)
        if not rates or first_count + applied - 1 != last:
            rates.append(self._rates.host_rate(last))
        self.history.setdefault("lr", []).append(rates[-1])
        self.history.setdefault("iterations", []).append(self.trn_iterations)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self._log.write_to(logs)
        self._link.sync()

    def on_epoch_end(self, epoch, logs=None):
        self._log.write_to(logs)

    def on_train_end(self, logs=None):
        self._link.detach()


CyclicalLR = CyclicLR
