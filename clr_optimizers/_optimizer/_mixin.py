"""`CyclicalLearningRateMixin`: a cyclical learning rate for any Keras
optimizer class."""

import inspect
import numbers
import threading
from collections.abc import Mapping
from typing import Any

import keras
from keras import ops

from clr_optimizers._keras_private import learning_rate_variable
from clr_optimizers._optimizer import _host as host
from clr_optimizers._optimizer._held_updates import scalar_value
from clr_optimizers._optimizer._held_updates import warn_of_held_updates
from clr_optimizers._optimizer._momentum import ScheduledHyperparameter
from clr_optimizers._optimizer._momentum import find_momentum_attribute
from clr_optimizers._optimizer._momentum import momentum_as_value
from clr_optimizers._optimizer._state import CycleStateMixin
from clr_optimizers._policy._clr_dict import cyclical_schedule
from clr_optimizers._policy._clr_dict import one_cycle_schedule
from clr_optimizers._policy._clr_dict import schedule_is_valid
from clr_optimizers._policy._ops import TensorOps
from clr_optimizers._validation import EPOCHS
from clr_optimizers._validation import FIT_LENGTH_KEYS
from clr_optimizers._validation import ONE_CYCLE
from clr_optimizers._validation import check_decay
from clr_optimizers._validation import check_one_cycle_phases
from clr_optimizers._validation import check_rate
from clr_optimizers._validation import check_update_count
from clr_optimizers._validation import is_fit_length
from clr_optimizers._validation import validate_clr


class _UpdatesInProgress(threading.local):
    """The schedule of the update in progress, per optimizer, per thread.

    Thread-local because tf.distribute runs one replica per thread and merges
    in another. `schedules` exists in every thread from the start: set lazily,
    its absence at the first `torch.compile` trace is a guard that fails at
    the second step and recompiles the optimizer's update.
    """

    def __init__(self):
        self.schedules = {}


_update_in_progress = _UpdatesInProgress()


# A length's variable is the attribute of its `clr` key, but for the warm-up:
# ScheduleFreeAdamW has a `warmup_steps` of its own.
_LENGTH_ATTRIBUTES = {"warmup_steps": "clr_warmup_steps"}


def _counter_dtype():
    # Keras's "int" is int64 on TensorFlow but int32 on PyTorch, where int64
    # costs nothing; JAX keeps int32 unless its 64-bit mode is on.
    return "int64" if keras.backend.backend() == "torch" else "int"


class CyclicalLearningRateMixin(CycleStateMixin):
    """Adds a cyclical learning rate to a `keras.optimizers.Optimizer` class.

    Place it first among the bases, or use `with_clr(OptimizerClass)`. The
    rate of each update is computed once, in the training graph, from
    optimizer variables:

    ```
    base = learning_rate / (1 + decay * iterations)
    rate = cyclical_learning_rate(clr_iterations, base, max_lr, step_size,
                                  mode, clr_gamma)
    ```

    and is what Keras reads as the learning rate, so `update_step` (with the
    optimizer's own scaling, such as Adam's bias correction), decoupled weight
    decay, callbacks and logs all see it.

    Args:
        clr: None, or a dict. The cyclical policies take `"mode"`
            (`"triangular"`, `"triangular2"` or `"exp_range"`; defaults to
            `"triangular"`), `"step_size"` (updates from the bottom to the
            peak; a whole number > 0), `"max_lr"` (the peak; a finite number
            >= 0), `"clr_gamma"` (alias `"gamma"`; the `"exp_range"` factor
            per update, in (0, 1]; defaults to `1.0`), `"step_size_down"`
            (updates from the peak back to the bottom; defaults to
            `step_size`), and in place of `"mode"` a custom `"scale_fn"` (a
            function of one float tensor written with `keras.ops`) with
            `"scale_mode"` (`"cycle"` or `"iterations"`: what it receives),
            and a linear warm-up before the cycle: `"warmup_steps"` (updates
            >= 0) from `"warmup_start_lr"` (defaults to `0.0`) up to the
            base rate, after which the cycle starts at position 0.
            `{"mode": "1cycle", "max_lr": ..., "total_steps": ...}` is
            Smith & Topin's one cycle from `learning_rate` up to `max_lr`
            and down to `learning_rate / final_div_factor`, as PyTorch's
            `OneCycleLR`, with `"pct_start"` (0.3), `"final_div_factor"`
            (1e4), `"anneal"` (`"cos"` or `"linear"`) and `"three_phase"`
            (False); past `total_steps` it holds the final rate. The
            lengths `step_size`, `step_size_down` and `warmup_steps` may be
            given in epochs, `{"epochs": 2}`, and `total_steps` as `"auto"`
            (every update of the fit): `clr_optimizers.FitSchedule` plans
            them from `fit` (or call `plan_schedule`). Any mode
            takes `"base_momentum"` and `"max_momentum"` (in (0, 1)) to cycle
            the momentum term (`momentum` of SGD, RMSprop and Muon, `beta_1`
            of the Adam family and Lion) against the rate: `max_momentum` at
            the bottom of the rate's cycle, `base_momentum` at its top. With
            None the optimizer behaves exactly like its Keras class. Defaults
            to None.
        decay: Time-based decay of the base rate, as in Keras 2:
            `base = learning_rate / (1 + decay * iterations)`. Decay lowers
            the bottom of the cycle; `max_lr` stays. Defaults to `0.0`.
        lr: Alias of `learning_rate`.
        *args: The positional arguments of the Keras optimizer class.
        **kwargs: The keyword arguments of the Keras optimizer class.

    Variables, created at construction when `clr` is given (None otherwise),
    all assignable at any time without retracing:

    - `lr`: the base rate (the variable behind `learning_rate`).
    - `max_lr`: the peak of the cycle.
    - `step_size`: half a cycle, in updates (integer); absent for 1cycle.
    - `step_size_down`: the falling half, with the `step_size_down` key.
    - `clr_warmup_steps`: the warm-up's length, with the `warmup_steps` key.
    - `total_steps`: 1cycle's length, when `total_steps` is `"auto"` (0
      until a fit plans it; otherwise the length is a constant).
    - `clr_iterations`: the number of updates applied in the cycle (integer);
      `clr_iterations.assign(0)` restarts the cycle, `iterations` goes on.
    - `current_lr`: the rate the most recent update applied (before the first
      update, the rate the first update will apply).
    - `current_momentum`: likewise for the cycled momentum term, with the
      momentum keys. The optimizer's own `momentum` or `beta_1` attribute
      then reads as the value of the update in progress (or of the next).
    - `held_updates`: the number of updates that applied a held rate because
      the settings were invalid (integer; see below).

    `learning_rate` reads the rate the next update will apply; assigning
    `learning_rate` (or `lr`) sets the base rate.

    Invalid settings at run time (values assigned to these variables are not
    checked when assigned): while the base rate (after decay) or `max_lr` is
    NaN, infinite or negative, or a step size is below 1, every update
    applies the held rate, `current_lr`, does not advance the cycle and adds
    1 to `held_updates`; `fit` ends with a `RuntimeWarning`. No NaN,
    infinite or negative rate ever reaches the weights.

    Examples:
        >>> import clr_optimizers
        >>> opt = clr_optimizers.SGD(
        ...     learning_rate=0.001,
        ...     clr={"mode": "triangular", "step_size": 2000, "max_lr": 0.006},
        ... )
        >>> _ = opt.max_lr.assign(0.004)  # a new peak, without retracing
        >>> _ = opt.clr_iterations.assign(0)  # the cycle starts again
        >>> round(float(opt.learning_rate), 6)  # the rate of the next update
        0.001
    """

    _clr_config: dict[str, Any] | None = None
    decay = 0.0
    max_lr: Any = None
    step_size: Any = None
    clr_iterations: Any = None
    current_lr: Any = None
    step_size_down: Any = None
    clr_warmup_steps: Any = None
    total_steps: Any = None
    _lengths_to_plan: tuple[str, ...] = ()
    current_momentum: Any = None
    held_updates: Any = None
    _held_updates_reported = 0
    _momentum_attribute: str | None = None
    _clr_variable_count = 0
    _host: Any = None

    def __init__(
        self,
        *args: Any,
        clr: Mapping[str, Any] | None = None,
        decay: float = 0.0,
        lr: float | None = None,
        **kwargs: Any,
    ) -> None:
        if lr is not None:
            if args or "learning_rate" in kwargs:
                given = args[0] if args else kwargs["learning_rate"]
                raise ValueError(
                    "Pass the learning rate as `learning_rate` or as its alias "
                    f"`lr`, not both. Received: lr={lr!r}, "
                    f"learning_rate={given!r}"
                )
            kwargs["learning_rate"] = lr
        decay = check_decay(decay)
        clr_config = validate_clr(clr)
        momentum_attribute = self._check_arguments(
            args, kwargs, clr_config, decay
        )
        super().__init__(*args, **kwargs)
        self.decay = decay
        self._clr_config = clr_config
        self._momentum_attribute = momentum_attribute
        # Keras's own construction variables (iterations, learning_rate) come
        # first; the cyclical ones follow, before any built slot.
        self._clr_insert_index = len(self.variables)
        self._clr_variable_count = 0
        if clr_config is None:
            if decay:
                self._host = host.host_ops()
            return
        with keras.name_scope(self.name, caller=self):
            self._create_cycle_variables(clr)
        self._clr_variable_count = len(self.variables) - self._clr_insert_index
        # On an eagerly run backend (PyTorch), the update's schedule is
        # evaluated on the host; see `_host`.
        self._host = host.host_ops(self.current_lr.dtype)

    def _check_arguments(self, args, kwargs, clr_config, decay):
        """Checks the Keras arguments against the cycle; returns the name
        of the cycled momentum attribute, or None."""
        given = (
            inspect.signature(super().__init__)
            .bind_partial(*args, **kwargs)
            .arguments
        )
        rate = given.get("learning_rate")
        if (clr_config is not None or decay) and (
            isinstance(rate, numbers.Real) and not isinstance(rate, bool)
        ):
            check_rate(rate, "learning_rate")
        if clr_config is None or clr_config["base_momentum"] is None:
            return None
        attribute = find_momentum_attribute(type(self), clr_config)
        if attribute in given:
            raise ValueError(
                f"`{attribute}` is cycled by the `clr` keys "
                "'base_momentum' and 'max_momentum': leave it out. "
                f"Received: {attribute}={given[attribute]!r}, "
                f"clr['base_momentum']={clr_config['base_momentum']!r}, "
                f"clr['max_momentum']={clr_config['max_momentum']!r}"
            )
        return attribute

    def _create_cycle_variables(self, clr):
        """Creates the cycle's variables; `clr` is the argument as given."""
        config = self._clr_config
        float_dtype = keras.backend.floatx()
        self.max_lr = self._clr_variable(
            config["max_lr"], "max_lr", float_dtype
        )
        # A length that a fit plans (in epochs, or "auto") is 0 until then.
        for key in FIT_LENGTH_KEYS:
            length = config[key]
            if length is None or (
                key == "total_steps" and not is_fit_length(length)
            ):
                continue  # absent, or 1cycle's length as a constant
            value = 0 if is_fit_length(length) else length
            setattr(
                self,
                _LENGTH_ATTRIBUTES.get(key, key),
                self._clr_variable(value, key, "int"),
            )
        self._find_lengths_to_plan()
        self.clr_iterations = self._clr_variable(0, "clr_iterations", "int")
        rate, valid, momentum = self._schedule()
        if not self._lengths_to_plan and not bool(ops.convert_to_numpy(valid)):
            base = scalar_value(learning_rate_variable(self))
            raise ValueError(
                "The cycle's first rate must be a finite number >= 0. "
                f"Received: learning_rate={base!r} giving a first rate of "
                f"{ops.convert_to_numpy(rate)!r}, clr={clr!r}"
            )
        self.current_lr = self._clr_variable(
            ops.convert_to_numpy(rate), "current_lr", float_dtype
        )
        if self._momentum_attribute is not None:
            self.current_momentum = self._clr_variable(
                ops.convert_to_numpy(momentum), "current_momentum", float_dtype
            )
            scheduled = ScheduledHyperparameter(
                self._scheduled_momentum,
                config["base_momentum"],
                config["max_momentum"],
            )
            setattr(self, self._momentum_attribute, scheduled)
        self.held_updates = self._clr_variable(0, "held_updates", "int")

    def _length_variable(self, key):
        """The variable of a length key of `clr` (None if it has none)."""
        return getattr(self, _LENGTH_ATTRIBUTES.get(key, key))

    def _find_lengths_to_plan(self):
        """Notes the lengths given in epochs or "auto" not yet planned."""
        config = self._clr_config
        self._lengths_to_plan = tuple(
            key
            for key in FIT_LENGTH_KEYS
            if config is not None
            and is_fit_length(config[key])
            and not int(ops.convert_to_numpy(self._length_variable(key)))
        )

    def plan_schedule(
        self,
        total_updates: int | None = None,
        updates_per_epoch: float | None = None,
    ) -> None:
        """Sets the lengths of the `clr` dict that a fit decides.

        A length given in epochs (`{"epochs": x}`) becomes
        `max(round(x * updates_per_epoch), 1)` updates (a warm-up may be 0),
        and 1cycle's `total_steps="auto"` becomes `total_updates`. Lengths
        already planned are kept: a resumed or continued training keeps
        its plan. `clr_optimizers.FitSchedule` calls this at the start of
        `fit`; call it yourself in a custom training loop.

        Args:
            total_updates: The number of updates the training applies, for
                `"auto"`; an int >= 1.
            updates_per_epoch: The updates of one epoch (a number > 0; with
                gradient accumulation, batches per epoch divided by the
                accumulation steps), for lengths in epochs.

        Raises:
            ValueError: If a number that a length needs is missing or
                invalid, or 1cycle's phases would not each get an update.
        """
        config = self._clr_config
        if config is None:
            return
        planned = {}
        for key in self._lengths_to_plan:
            length = config[key]
            name = f"clr[{key!r}]={length!r}"
            if isinstance(length, dict):
                if updates_per_epoch is None:
                    raise ValueError(
                        f"{name} needs the number of updates per epoch: pass "
                        "`updates_per_epoch`. Received: updates_per_epoch=None"
                    )
                check_rate(updates_per_epoch, "updates_per_epoch")
                value = round(length[EPOCHS] * updates_per_epoch)
                planned[key] = max(value, 0 if key == "warmup_steps" else 1)
            else:
                planned[key] = check_update_count(
                    total_updates, "total_updates", f" (for {name})"
                )
            if key == "total_steps":
                check_one_cycle_phases(
                    planned[key],
                    config["pct_start"],
                    config["three_phase"],
                    f" (planned for {name})",
                )
        for key, value in planned.items():
            self._length_variable(key).assign(value)
        self._lengths_to_plan = ()
        if planned:
            rate, valid, momentum = self._schedule()
            if bool(ops.convert_to_numpy(valid)):
                self.current_lr.assign(rate)
                if momentum is not None:
                    self.current_momentum.assign(momentum)

    @staticmethod
    def _clr_variable(value, name, dtype):
        if dtype == "int":
            dtype = _counter_dtype()
        return keras.Variable(
            value,
            name=name,
            dtype=dtype,
            trainable=False,
            aggregation="only_first_replica",
        )

    @property
    def _changes_the_rate(self):
        # Without a cycle or decay the optimizer is its Keras class.
        return self._clr_config is not None or bool(self.decay)

    @property
    def lr(self) -> Any:
        """The base learning rate: the variable behind `learning_rate`."""
        return learning_rate_variable(self)

    @lr.setter
    def lr(self, value: Any) -> None:
        self.learning_rate = value

    def _schedule(self, xp=None):
        """The rate and momentum of the next update, and their validity.

        Args:
            xp: The operations to compute with: None for
                `_policy.TensorOps()` (in the training graph), or the
                optimizer's `_host.HostOps` (Python float64, on the host).

        Returns:
            `(rate, valid, momentum)`. Without a cycle, `valid` and
            `momentum` are None. With one, `valid` is a scalar bool, False
            when the base rate or `max_lr` is NaN, infinite or negative, or a
            step size is below 1; the rate (and momentum) are then the held
            ones, `current_lr` (and `current_momentum`). `momentum` is None
            unless the cycle drives the momentum term.
        """
        xp = TensorOps() if xp is None else xp
        base = self._base_rate(xp)
        config = self._clr_config
        if config is None:
            return base, None, None
        # Each variable read once, shared by the schedule and the check.
        max_lr = xp.read(self.max_lr)
        position = xp.read(self.clr_iterations)
        if config["mode"] == ONE_CYCLE:
            total_steps = None
            steps_valid = None
            if self.total_steps is not None:
                total_steps = xp.read(self.total_steps)
                # Below 2 the phases have no length: held until planned.
                steps_valid = xp.greater(total_steps, 1)
                total_steps = xp.maximum(total_steps, 2)
            rate, momentum = one_cycle_schedule(
                xp, position, base, max_lr, config, total_steps
            )
        else:
            rate, momentum, steps_valid = self._cyclical(
                xp, position, base, max_lr
            )
        valid = schedule_is_valid(
            xp, base, max_lr, rate, momentum, steps_valid, config
        )
        if self.current_lr is None:  # at construction
            return rate, valid, momentum
        rate = xp.valid_or_held(valid, rate, self.current_lr)
        if momentum is not None:
            momentum = xp.valid_or_held(valid, momentum, self.current_momentum)
        return rate, valid, momentum

    def _base_rate(self, xp):
        """The bottom of the cycle: the Keras rate after time-based decay."""
        base = xp.read(super()._get_current_learning_rate())
        if self.decay:
            base = base / (1.0 + self.decay * xp.updates_applied(self))
        return base

    def _cyclical(self, xp, position, base, max_lr):
        step_size_down = self.step_size_down
        if step_size_down is not None:
            step_size_down = xp.read(step_size_down)
        warmup_steps = self.clr_warmup_steps
        if warmup_steps is not None:
            warmup_steps = xp.read(warmup_steps)
        return cyclical_schedule(
            xp,
            position,
            base,
            max_lr,
            xp.read(self.step_size),
            step_size_down,
            self._clr_config,
            warmup_steps,
        )

    def _update_schedule(self):
        # The update's cached schedule; recomputed from the same variables
        # where the cache is out of reach, as in the cross-replica thread of
        # tf.distribute.
        cache = _update_in_progress.schedules
        if id(self) in cache:
            return cache[id(self)]
        return self._schedule()

    def _get_current_learning_rate(self):
        if not self._changes_the_rate:
            return super()._get_current_learning_rate()
        return self._update_schedule()[0]

    def _scheduled_momentum(self):
        return self._update_schedule()[2]

    def _backend_apply_gradients(self, grads, trainable_variables):
        if not self._changes_the_rate:
            return super()._backend_apply_gradients(grads, trainable_variables)
        if self._lengths_to_plan:
            self._refuse_unplanned_update()
        # Computed once here; update_step, weight decay, the momentum term
        # and any other read during this update get these same tensors.
        if self._host is not None and self._host.scalars.available():
            schedule = host.begin_update(self)
        else:
            schedule = self._schedule()
        _update_in_progress.schedules[id(self)] = schedule
        try:
            return super()._backend_apply_gradients(grads, trainable_variables)
        finally:
            del _update_in_progress.schedules[id(self)]

    def _refuse_unplanned_update(self):
        lengths = ", ".join(
            f"clr[{key!r}]={self._clr_config[key]!r}"
            for key in self._lengths_to_plan
        )
        raise ValueError(
            f"Optimizer '{self.name}' cannot apply an update before a fit "
            f"plans its schedule: {lengths} takes its length from `fit`. "
            "Add the callback: `model.fit(..., callbacks=["
            "clr_optimizers.FitSchedule()])`; or, outside `fit`, call "
            "`optimizer.plan_schedule(total_updates=..., "
            "updates_per_epoch=...)` first; or give the length in updates."
        )

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Called once per applied update (not per accumulated micro-batch).
        super()._backend_update_step(grads, trainable_variables, learning_rate)
        if self._clr_config is not None:
            _, valid, momentum = self._update_schedule()
            if isinstance(valid, bool):
                host.advance(self, valid)
                return
            # An update at the held rate does not advance the cycle.
            advanced = ops.cast(valid, self.clr_iterations.dtype)
            self.current_lr.assign(
                ops.cast(learning_rate, self.current_lr.dtype)
            )
            if momentum is not None:
                self.current_momentum.assign(
                    ops.cast(momentum, self.current_momentum.dtype)
                )
            self.clr_iterations.assign_add(advanced)
            self.held_updates.assign_add(1 - advanced)

    def _parallel_update_step(self, grads, variables, learning_rate):
        # Reached only through the fused PyTorch classes (see
        # `_factory.backend_class`), which pass the momentum term to
        # `torch._foreach_*` calls that take only numbers and tensors.
        parallel_update_step = super()._parallel_update_step
        if self._momentum_attribute is None:
            return parallel_update_step(grads, variables, learning_rate)
        with momentum_as_value(self, self._momentum_attribute):
            return parallel_update_step(grads, variables, learning_rate)

    def finalize_variable_values(self, var_list: list[Any]) -> None:
        """Keras's end-of-`fit` hook; also warns of held updates.

        Warns (`RuntimeWarning`) if `held_updates` grew since the last
        warning: updates applied the held rate because the cycle's settings
        were invalid (see the class docstring).
        """
        super().finalize_variable_values(var_list)
        warn_of_held_updates(self)
