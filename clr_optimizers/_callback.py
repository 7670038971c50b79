"""`CyclicLR`: the original CLR callback's interface for any Keras optimizer."""

import math

import keras
import numpy as np
from keras import ops

from clr_optimizers._compat import last_batch_of_execution
from clr_optimizers._compat import optional_keras_classes
from clr_optimizers._config import check_gamma
from clr_optimizers._config import check_rate
from clr_optimizers._config import check_step_size
from clr_optimizers._mixin import CyclicalLearningRateMixin
from clr_optimizers._policy import _compute_dtype
from clr_optimizers._policy import check_mode
from clr_optimizers._policy import cyclical_learning_rate
from clr_optimizers._trainer_state import constants_are_traced
from clr_optimizers._trainer_state import optimizer_iterations
from clr_optimizers._trainer_state import retrace

SCALE_MODES = ("cycle", "iterations")

# Name of the optimizer method that every read of the learning rate goes
# through (`optimizer.learning_rate`, `update_step`, weight decay).
_RATE_METHOD = "_get_current_learning_rate"


def rate_owner(optimizer, name):
    """The optimizer whose learning rate a training step reads."""
    if optimizer is None:
        raise ValueError(
            f"`{name}` needs a compiled model: call `model.compile(optimizer="
            "..., loss=...)` first. Received: model.optimizer=None"
        )
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            f"`{name}` needs a `keras.optimizers.Optimizer`. "
            f"Received: optimizer={optimizer!r}"
        )
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    if isinstance(optimizer, optional_keras_classes("MultiOptimizer")):
        raise TypeError(
            f"`{name}` cannot set one learning rate for a MultiOptimizer, "
            "whose optimizers each have their own. "
            f"Received: optimizer={optimizer!r}"
        )
    return optimizer


def override_learning_rate(optimizer, rate_fn, owner):
    """Makes every read of `optimizer`'s learning rate call `rate_fn()`.

    The override is an attribute of the optimizer instance, so the
    optimizer's variables (and thus saving and checkpoints) are untouched.

    Returns:
        A function that removes the override (restoring any earlier one).
    """
    previous = optimizer.__dict__.get(_RATE_METHOD)
    current_owner = getattr(previous, "_clr_owner", None)
    if previous is not None and current_owner is not owner:
        raise ValueError(
            f"The learning rate of optimizer '{optimizer.name}' is already "
            f"set by {current_owner!r}: one schedule at a time. "
            f"Received: {owner!r}"
        )
    rate_fn._clr_owner = owner
    object.__setattr__(optimizer, _RATE_METHOD, rate_fn)

    def restore():
        if optimizer.__dict__.get(_RATE_METHOD) is rate_fn:
            object.__delattr__(optimizer, _RATE_METHOD)

    return restore


class CyclicLR(keras.callbacks.Callback):
    """Cyclical learning rate callback for any Keras optimizer.

    The callback of the original CLR repository, with the same constructor,
    `history` and `_reset`, for Keras 3: migrating code changes one import.
    The rate follows Smith, "Cyclical Learning Rates for Training Neural
    Networks" (https://arxiv.org/abs/1506.01186):

    ```
    cycle = floor(1 + clr_iterations / (2 * step_size))
    x = abs(clr_iterations / step_size - 2 * cycle + 1)
    rate = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale
    ```

    where `scale` is `1` for `"triangular"`, `1 / 2**(cycle - 1)` for
    `"triangular2"`, `gamma**clr_iterations` for `"exp_range"`, or
    `scale_fn(cycle)` (`scale_mode="cycle"`) or `scale_fn(clr_iterations)`
    (`scale_mode="iterations"`) with a custom `scale_fn`.

    The rate is computed inside the training graph, before every update,
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
    or iterations that execution can reach; the training graph reads the
    values from a table, so no update ever uses a stale value.

    Requires the TensorFlow backend (the optimizers of clr_optimizers, given
    `clr=...`, work on every backend). If `fit` ends with an exception, Keras
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

    Attributes:
        history: Dict of lists, one entry per call of `on_train_batch_end`:
            `"lr"` (the rate of the latest update applied in the batch or
            execution), `"iterations"` (batches trained with this callback,
            counted from 1) and every key of the batch logs (such as
            `"loss"`). With `steps_per_execution=N`, Keras calls batch
            callbacks once per execution of up to N batches, so there is one
            entry per execution.
        clr_iterations: Updates applied in the current cycle (an int;
            assignable).
        trn_iterations: Batches trained with this callback (an int).

    Example:

    >>> clr = clr_optimizers.CyclicLR(
    ...     base_lr=0.001, max_lr=0.006, step_size=2000.0, mode="triangular"
    ... )
    >>> model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
    >>> model.fit(x, y, batch_size=32, epochs=10, callbacks=[clr])
    >>> clr.history["lr"][:3]
    >>> clr._reset(new_base_lr=0.0005, new_max_lr=0.003)
    """

    def __init__(
        self,
        base_lr=0.001,
        max_lr=0.006,
        step_size=2000.0,
        mode="triangular",
        gamma=1.0,
        scale_fn=None,
        scale_mode="cycle",
    ):
        super().__init__()
        base_lr = check_rate(base_lr, "base_lr")
        max_lr = check_rate(max_lr, "max_lr")
        step_size = check_step_size(step_size, "step_size")
        if scale_fn is None:
            mode = check_mode(mode)
            gamma = check_gamma(gamma, mode, "gamma")
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
        else:
            if not callable(scale_fn):
                raise TypeError(
                    "`scale_fn` must be None or a function of one number. "
                    f"Received: scale_fn={scale_fn!r}"
                )
            if scale_mode not in SCALE_MODES:
                raise ValueError(
                    "`scale_mode` must be one of "
                    f"{', '.join(repr(m) for m in SCALE_MODES)}. "
                    f"Received: scale_mode={scale_mode!r}"
                )
            gamma = check_gamma(gamma, "exp_range", "gamma")
        self._mode = mode
        self._gamma = gamma
        self._scale_fn = scale_fn
        self._scale_mode = scale_mode
        float_dtype = _compute_dtype()
        self._base_lr = self._variable(base_lr, "base_lr", float_dtype)
        self._max_lr = self._variable(max_lr, "max_lr", float_dtype)
        self._step_size = self._variable(step_size, "step_size", "int64")
        # clr_iterations == optimizer.iterations - _offset while attached.
        self._offset = self._variable(0, "clr_offset", "int64")
        self._saved_count = 0
        # Custom scale_fn: scale_fn at the arguments _table_start, +1, ...
        self._table = None
        self._table_start = self._variable(0, "scale_table_start", "int64")
        self._table_key = None
        self._table_reach = 0
        self._traced = None
        self._scale_cache = {}
        self._optimizer = None
        self._attached_model = None
        self._restore = None
        self._batch_begin = 0
        self.trn_iterations = 0
        self.history = {}

    @staticmethod
    def _variable(value, name, dtype):
        return keras.Variable(value, name=name, dtype=dtype, trainable=False)

    # Settings.

    @property
    def base_lr(self):
        """The bottom of the cycle (assignable)."""
        return float(ops.convert_to_numpy(self._base_lr))

    @base_lr.setter
    def base_lr(self, value):
        self._base_lr.assign(check_rate(value, "base_lr"))
        self._sync_optimizer()

    @property
    def max_lr(self):
        """The peak of the cycle (assignable)."""
        return float(ops.convert_to_numpy(self._max_lr))

    @max_lr.setter
    def max_lr(self, value):
        self._max_lr.assign(check_rate(value, "max_lr"))
        self._sync_optimizer()

    @property
    def step_size(self):
        """Half a cycle, in updates (assignable)."""
        return int(ops.convert_to_numpy(self._step_size))

    @step_size.setter
    def step_size(self, value):
        self._step_size.assign(check_step_size(value, "step_size"))
        self._sync_optimizer()

    @property
    def mode(self):
        return self._mode

    @property
    def gamma(self):
        return self._gamma

    @property
    def scale_fn(self):
        return self._scale_fn

    @property
    def scale_mode(self):
        return self._scale_mode

    @property
    def clr_iterations(self):
        """Updates applied in the current cycle (assignable)."""
        if self._optimizer is None:
            return self._saved_count
        iterations = optimizer_iterations(self._attached_model, self._optimizer)
        return max(iterations - int(ops.convert_to_numpy(self._offset)), 0)

    @clr_iterations.setter
    def clr_iterations(self, value):
        if (
            isinstance(value, bool)
            or not float(value).is_integer()
            or value < 0
        ):
            raise ValueError(
                "`clr_iterations` must be a whole number >= 0. "
                f"Received: clr_iterations={value!r}"
            )
        self._saved_count = int(value)
        if self._optimizer is not None:
            iterations = optimizer_iterations(
                self._attached_model, self._optimizer
            )
            self._offset.assign(iterations - self._saved_count)
            self._sync_optimizer()

    def _reset(self, new_base_lr=None, new_max_lr=None, new_step_size=None):
        """Restarts the cycle, optionally with new bounds or step size.

        `clr_iterations` goes back to 0, so the next update uses `base_lr`
        (a `"triangular2"` or `"exp_range"` cycle starts again at full
        amplitude). Callable at any time, also during `fit` (from another
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
        if "base_lr" in values:
            self._base_lr.assign(values["base_lr"])
        if "max_lr" in values:
            self._max_lr.assign(values["max_lr"])
        if "step_size" in values:
            self._step_size.assign(values["step_size"])
        self.clr_iterations = 0
        self._sync_optimizer()

    def clr(self):
        """The rate of the next update, a Python float."""
        return self._host_rate(self.clr_iterations)

    # The rate.

    def _argument(self, count, step_size):
        """The argument of scale_fn for the update number `count`."""
        if self._scale_mode == "iterations":
            return count
        return count // (2 * step_size) + 1

    def _scale_value(self, argument):
        if argument in self._scale_cache:
            return self._scale_cache[argument]
        value = self._scale_fn(np.float64(argument))
        try:
            array = np.asarray(ops.convert_to_numpy(value), dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is None or array.shape not in ((), (1,)):
            raise ValueError(
                "`scale_fn` must return a real number. Received: "
                f"scale_fn({float(argument)!r})={value!r}"
            )
        result = float(array.reshape(()))
        if not math.isfinite(result):
            raise ValueError(
                "`scale_fn` must return a finite number. Received: "
                f"scale_fn({float(argument)!r})={result!r}"
            )
        self._scale_cache[argument] = result
        return result

    def _rate(self, count, scale):
        """The rate of update number `count`, from the callback's variables."""
        if self._scale_fn is None:
            return cyclical_learning_rate(
                count,
                self._base_lr,
                self._max_lr,
                self._step_size,
                mode=self._mode,
                gamma=self._gamma,
            )
        # base + (max - base) * h * scale is the triangular cycle with the
        # peak base + (max - base) * scale.
        dtype = _compute_dtype()
        base = ops.cast(self._base_lr, dtype)
        peak = base + (ops.cast(self._max_lr, dtype) - base) * ops.cast(
            scale, dtype
        )
        return cyclical_learning_rate(count, base, peak, self._step_size)

    def _graph_rate(self):
        """The rate of the update in progress (or the next), in the graph."""
        iterations = self._optimizer.iterations
        count = ops.maximum(
            iterations - ops.cast(self._offset, iterations.dtype), 0
        )
        scale = None
        if self._scale_fn is not None:
            if self._scale_mode == "iterations":
                argument = count
            else:
                step_size = ops.cast(self._step_size, count.dtype)
                argument = ops.floor_divide(count, 2 * step_size) + 1
            index = argument - ops.cast(self._table_start, argument.dtype)
            index = ops.clip(index, 0, self._table.shape[0] - 1)
            scale = ops.take(self._table, index)
        return self._rate(count, scale)

    def _host_rate(self, count):
        scale = None
        if self._scale_fn is not None:
            scale = self._scale_value(self._argument(count, self.step_size))
        count = ops.convert_to_tensor(count, dtype="int64")
        return float(ops.convert_to_numpy(self._rate(count, scale)))

    def _fill_table(self):
        """Puts scale_fn's values for the next execution in the table."""
        if self._scale_fn is None or self._optimizer is None:
            return
        count = self.clr_iterations
        step_size = self.step_size
        length = self._table.shape[0]
        first = self._argument(count, step_size)
        # The next execution reaches the updates count ... count + reach.
        needed = self._argument(count + self._table_reach, step_size)
        if (
            self._table_key is not None
            and self._table_key[1] == step_size
            and self._table_key[0] <= first
            and needed <= self._table_key[2]
        ):
            return
        # The table holds scale_fn at first, first + 1, ..., for the updates
        # up to count + length - 1.
        last = self._argument(count + length - 1, step_size)
        self._scale_cache = {
            a: v for a, v in self._scale_cache.items() if first <= a <= last
        }
        values = [self._scale_value(a) for a in range(first, last + 1)]
        values += [values[-1]] * (length - len(values))
        self._table.assign(np.asarray(values, dtype=np.float64))
        self._table_start.assign(first)
        self._table_key = (first, step_size, last)

    def _sync_optimizer(self):
        """Refreshes the table and the optimizer's learning rate variable."""
        if self._optimizer is None:
            return
        self._table_key = None
        self._fill_table()
        self._optimizer._learning_rate.assign(
            self._host_rate(self.clr_iterations)
        )
        self._retrace_if_changed()

    def _settings(self):
        """The values the training step reads from the callback's variables."""
        return (
            self.base_lr,
            self.max_lr,
            self.step_size,
            int(ops.convert_to_numpy(self._offset)),
            self._table_key,
        )

    def _retrace_if_changed(self):
        # JAX's compiled step reads the callback's variables as constants:
        # recompile it when they change (see `_trainer_state`).
        if self._attached_model is None or not constants_are_traced():
            return
        settings = self._settings()
        if settings != self._traced:
            retrace(self._attached_model)
            self._traced = settings

    # Attaching to the model's optimizer.

    def _attach(self):
        name = type(self).__name__
        optimizer = rate_owner(getattr(self.model, "optimizer", None), name)
        if (
            isinstance(optimizer, CyclicalLearningRateMixin)
            and optimizer._changes_the_rate
        ):
            raise ValueError(
                f"Optimizer '{optimizer.name}' has a cyclical learning rate "
                f"or decay of its own: with `{name}` it would follow two "
                f"schedules at once. Use `{type(optimizer).__name__}("
                "clr=None)` or a plain keras.optimizers class with the "
                "callback, or the optimizer's `clr` without the callback. "
                f"Received: clr={optimizer.clr!r}, decay={optimizer.decay!r}"
            )
        if not isinstance(optimizer._learning_rate, keras.Variable):
            raise TypeError(
                f"`{name}` sets the learning rate itself: build optimizer "
                f"'{optimizer.name}' with a float `learning_rate`, not a "
                "schedule or a callable. Received: "
                f"learning_rate={optimizer._learning_rate!r}"
            )
        if self._optimizer is not None:
            self._detach()

        def rate():
            return self._graph_rate()

        self._restore = override_learning_rate(optimizer, rate, self)
        self._optimizer = optimizer
        self._attached_model = self.model
        try:
            iterations = optimizer_iterations(self.model, optimizer)
            self._offset.assign(iterations - self._saved_count)
            if self._scale_fn is not None:
                reach = int(getattr(self.model, "steps_per_execution", 1))
                length = reach + 1
                if constants_are_traced():
                    # The table is a constant of the compiled step: fill it
                    # for every update this fit can apply.
                    length = self._updates_in_fit(name) + 1
                self._table_reach = reach
                self._table_key = None
                if self._table is None or self._table.shape[0] != length:
                    self._table = self._variable(
                        np.ones(length), "scale_table", _compute_dtype()
                    )
            self._sync_optimizer()
        except BaseException:
            self._restore()
            self._optimizer = None
            self._attached_model = None
            self._restore = None
            raise
        # A train function traced before read the optimizer's own rate.
        self.model.make_train_function(force=True)
        self._traced = self._settings()

    def _updates_in_fit(self, name):
        params = self.params or {}
        epochs, steps = params.get("epochs"), params.get("steps")
        if not epochs or not steps:
            raise ValueError(
                f"`{name}` with a custom `scale_fn` on the JAX backend "
                "evaluates scale_fn for every update of the fit before it "
                "starts (JAX compiles the step with the values in it), so it "
                "needs the number of steps: pass arrays, or `steps_per_epoch`"
                " with a dataset or generator. "
                f"Received: epochs={epochs!r}, steps={steps!r}"
            )
        return int(epochs) * int(steps)

    def _detach(self):
        if self._optimizer is None:
            return
        self._saved_count = self.clr_iterations
        self._sync_optimizer()
        self._restore()
        self._optimizer = None
        self._restore = None
        # The traced train function reads the callback's rate: retrace.
        self._attached_model.train_function = None
        self._attached_model = None

    # Callback hooks.

    def on_train_begin(self, logs=None):
        self._attach()

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_begin = batch
        self._fill_table()
        self._retrace_if_changed()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        steps = self.params.get("steps") if self.params else None
        end = last_batch_of_execution(
            self._batch_begin,
            batch,
            getattr(self.model, "steps_per_execution", 1),
            steps,
        )
        self.trn_iterations += max(end - self._batch_begin + 1, 1)
        count = self.clr_iterations
        self.history.setdefault("lr", []).append(
            self._host_rate(max(count - 1, 0))
        )
        self.history.setdefault("iterations", []).append(self.trn_iterations)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self._sync_optimizer()

    def on_train_end(self, logs=None):
        self._detach()


CyclicalLR = CyclicLR
