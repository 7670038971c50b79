"""One mechanism that gives any Keras optimizer class a cyclical learning rate."""

import inspect
import numbers
import threading
import warnings

import keras
import numpy as np
from keras import ops

from clr_optimizers._compat import optional_keras_classes
from clr_optimizers._config import ONE_CYCLE
from clr_optimizers._config import check_decay
from clr_optimizers._config import check_rate
from clr_optimizers._config import validate_clr
from clr_optimizers._host import host_ops
from clr_optimizers._policy import TensorOps
from clr_optimizers._policy import cycle_fraction
from clr_optimizers._policy import one_cycle_value
from clr_optimizers._scheduled_value import ScheduledHyperparameter


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

# The attribute through which each kind of optimizer reads its momentum term.
_MOMENTUM_ATTRIBUTES = ("beta_1", "momentum")


def _counter_dtype():
    # Keras's "int" is int64 on TensorFlow but int32 on PyTorch, where int64
    # costs nothing; JAX keeps int32 unless its 64-bit mode is on.
    return "int64" if keras.backend.backend() == "torch" else "int"


def _scalar(value):
    if isinstance(value, keras.Variable):
        return ops.convert_to_numpy(value).item()
    return value


class CyclicalLearningRateMixin:
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
            `"scale_mode"` (`"cycle"` or `"iterations"`: what it receives).
            `{"mode": "1cycle", "max_lr": ..., "total_steps": ...}` is
            Smith & Topin's one cycle from `learning_rate` up to `max_lr`
            and down to `learning_rate / final_div_factor`, as PyTorch's
            `OneCycleLR`, with `"pct_start"` (0.3), `"final_div_factor"`
            (1e4), `"anneal"` (`"cos"` or `"linear"`) and `"three_phase"`
            (False); past `total_steps` it holds the final rate. Any mode
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
        *args, **kwargs: The arguments of the Keras optimizer class.

    Variables, created at construction when `clr` is given (None otherwise),
    all assignable at any time without retracing:

    - `lr`: the base rate (the variable behind `learning_rate`).
    - `max_lr`: the peak of the cycle.
    - `step_size`: half a cycle, in updates (integer); absent for 1cycle.
    - `step_size_down`: the falling half, with the `step_size_down` key.
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

    Invalid settings at run time: values assigned to these variables are not
    checked when assigned (they may be tensors in a graph). While the base
    rate (after decay) or `max_lr` is NaN, infinite or negative, or
    `step_size` is below 1, every update applies the held rate instead of the
    cycle's: `current_lr`, the last rate applied from valid settings. Such an
    update does not advance the cycle (`clr_iterations` stays, so a repaired
    cycle resumes where it stopped); it adds 1 to `held_updates`, and `fit`
    ends with a `RuntimeWarning` that gives the count and the settings. So a
    bad value never reaches the weights: no NaN, infinite or negative rate is
    ever applied. The check is a few scalar `keras.ops` per update, with no
    control flow. (Skipping such updates instead would need control flow
    around every weight and slot update, a per-variable cost, and an in-graph
    error is not available on every backend.) Keras's own `iterations`
    counts every update.

    Example:

    >>> opt = clr_optimizers.SGD(
    ...     learning_rate=0.001,
    ...     clr={"mode": "triangular", "step_size": 2000, "max_lr": 0.006},
    ... )
    >>> opt.max_lr.assign(0.004)
    >>> opt.clr_iterations.assign(0)
    """

    _clr_config = None
    decay = 0.0
    max_lr = None
    step_size = None
    clr_iterations = None
    current_lr = None
    step_size_down = None
    current_momentum = None
    held_updates = None
    _held_updates_reported = 0
    _momentum_attribute = None
    _clr_variable_count = 0
    _host = None

    def __init__(self, *args, clr=None, decay=0.0, lr=None, **kwargs):
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
        given = inspect.signature(super().__init__).bind_partial(
            *args, **kwargs
        ).arguments
        rate = given.get("learning_rate")
        if (clr_config is not None or decay) and (
            isinstance(rate, numbers.Real) and not isinstance(rate, bool)
        ):
            check_rate(rate, "learning_rate")
        momentum_attribute = None
        if clr_config is not None and clr_config["base_momentum"] is not None:
            momentum_attribute = self._find_momentum_attribute(clr_config)
            if momentum_attribute in given:
                raise ValueError(
                    f"`{momentum_attribute}` is cycled by the `clr` keys "
                    "'base_momentum' and 'max_momentum': leave it out. "
                    f"Received: {momentum_attribute}="
                    f"{given[momentum_attribute]!r}, "
                    f"clr['base_momentum']={clr_config['base_momentum']!r}, "
                    f"clr['max_momentum']={clr_config['max_momentum']!r}"
                )
        super().__init__(*args, **kwargs)
        self.decay = decay
        self._clr_config = clr_config
        self._momentum_attribute = momentum_attribute
        # Keras's own construction variables (iterations, learning_rate) come
        # first; the cyclical ones follow, before any built slot.
        self._clr_insert_index = len(self._variables)
        self._clr_variable_count = 0
        if clr_config is None:
            if decay:
                self._host = host_ops()
            return
        float_dtype = keras.backend.floatx()
        with keras.name_scope(self.name, caller=self):
            self.max_lr = self._clr_variable(
                clr_config["max_lr"], "max_lr", float_dtype
            )
            if clr_config["mode"] != ONE_CYCLE:
                self.step_size = self._clr_variable(
                    clr_config["step_size"], "step_size", "int"
                )
                if clr_config["step_size_down"] is not None:
                    self.step_size_down = self._clr_variable(
                        clr_config["step_size_down"], "step_size_down", "int"
                    )
            self.clr_iterations = self._clr_variable(0, "clr_iterations", "int")
            rate, valid, momentum = self._schedule()
            if not bool(ops.convert_to_numpy(valid)):
                raise ValueError(
                    "The cycle's first rate must be a finite number >= 0. "
                    f"Received: learning_rate={_scalar(self._learning_rate)!r} "
                    f"giving a first rate of {ops.convert_to_numpy(rate)!r}, "
                    f"clr={clr!r}"
                )
            self.current_lr = self._clr_variable(
                ops.convert_to_numpy(rate), "current_lr", float_dtype
            )
            if momentum_attribute is not None:
                self.current_momentum = self._clr_variable(
                    ops.convert_to_numpy(momentum),
                    "current_momentum",
                    float_dtype,
                )
                setattr(
                    self,
                    momentum_attribute,
                    ScheduledHyperparameter(
                        self._scheduled_momentum,
                        clr_config["base_momentum"],
                        clr_config["max_momentum"],
                    ),
                )
            self.held_updates = self._clr_variable(0, "held_updates", "int")
        self._clr_variable_count = len(self._variables) - self._clr_insert_index
        # On an eagerly run backend (PyTorch), the update's schedule is
        # evaluated on the host; see `_host`.
        self._host = host_ops(self.current_lr.dtype)

    @classmethod
    def _find_momentum_attribute(cls, clr_config):
        received = (
            f"Received: clr['base_momentum']={clr_config['base_momentum']!r}, "
            f"clr['max_momentum']={clr_config['max_momentum']!r}"
        )
        if issubclass(cls, optional_keras_classes("ScheduleFreeAdamW")):
            raise ValueError(
                "ScheduleFreeAdamW rebuilds its iterate from the current "
                "`beta_1` each update, so a cycled `beta_1` would not be a "
                f"momentum schedule: leave out the momentum keys. {received}"
            )
        for name in _MOMENTUM_ATTRIBUTES:
            for klass in cls.__mro__:
                init = klass.__dict__.get("__init__")
                code = getattr(init, "__code__", None)
                if code is not None and name in code.co_varnames[
                    : code.co_argcount + code.co_kwonlyargcount
                ]:
                    return name
        raise ValueError(
            f"{cls.__name__} has no momentum term (no `beta_1` or `momentum` "
            "argument) for the `clr` keys 'base_momentum' and 'max_momentum' "
            f"to cycle. {received}"
        )

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
    def clr(self):
        """The cycle's settings as a dict (None without a cycle).

        The same keys as the `clr` argument, with the current values of the
        `max_lr`, `step_size` and `step_size_down` variables.
        """
        config = self._clr_config
        if config is None:
            return None
        settings = {} if config["mode"] is None else {"mode": config["mode"]}
        settings["max_lr"] = float(ops.convert_to_numpy(self.max_lr))
        for key in ("step_size", "step_size_down"):
            variable = getattr(self, key)
            if variable is not None:
                settings[key] = int(ops.convert_to_numpy(variable))
        if config["mode"] == "exp_range":
            settings["clr_gamma"] = config["clr_gamma"]
        keys = ("scale_fn", "scale_mode", "base_momentum", "max_momentum")
        if config["mode"] == ONE_CYCLE:
            keys += (
                "total_steps",
                "pct_start",
                "final_div_factor",
                "anneal",
                "three_phase",
            )
        settings.update({k: config[k] for k in keys if config[k] is not None})
        return settings

    @property
    def _changes_the_rate(self):
        # Without a cycle or decay the optimizer is its Keras class.
        return self._clr_config is not None or bool(self.decay)

    @property
    def lr(self):
        """The base learning rate: the variable behind `learning_rate`."""
        return self._learning_rate

    @lr.setter
    def lr(self, value):
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
            rate, momentum = _one_cycle(xp, position, base, max_lr, config)
            steps_valid = None
        else:
            rate, momentum, steps_valid = self._cyclical(
                xp, position, base, max_lr
            )
        valid = _schedule_is_valid(
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
        """A cyclical policy's rate and momentum, and whether its step sizes
        are valid (>= 1)."""
        config = self._clr_config
        step_size = xp.read(self.step_size)
        steps_valid = xp.greater(step_size, 0)
        step_size_down = None
        if self.step_size_down is not None:
            step_size_down = xp.read(self.step_size_down)
            steps_valid = xp.logical_and(
                steps_valid, xp.greater(step_size_down, 0)
            )
            # At least 1, so that a bad step size never divides by zero.
            step_size_down = xp.maximum(step_size_down, 1)
        height, depth = cycle_fraction(
            position,
            xp.maximum(step_size, 1),
            mode=config["mode"],
            gamma=config["clr_gamma"],
            step_size_down=step_size_down,
            scale_fn=config["scale_fn"],
            scale_mode=config["scale_mode"],
            xp=xp,
        )
        rate = xp.to_float(base) * depth + xp.to_float(max_lr) * height
        momentum = None
        if config["base_momentum"] is not None:
            momentum = (
                config["max_momentum"] * depth + config["base_momentum"] * height
            )
        return rate, momentum, steps_valid

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
        # Computed once here; update_step, weight decay, the momentum term
        # and any other read during this update get these same tensors.
        if self._host is not None and self._host.scalars.available():
            schedule = self._host_begin_update()
        else:
            schedule = self._schedule()
        _update_in_progress.schedules[id(self)] = schedule
        try:
            return super()._backend_apply_gradients(grads, trainable_variables)
        finally:
            del _update_in_progress.schedules[id(self)]

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Called once per applied update (not per accumulated micro-batch).
        super()._backend_update_step(grads, trainable_variables, learning_rate)
        if self._clr_config is not None:
            _, valid, momentum = self._update_schedule()
            if isinstance(valid, bool):
                self._host_advance(valid)
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

    def _parallel_update_step(self, grads, trainable_variables, learning_rate):
        # Reached only through the fused PyTorch classes (see
        # `_backend_class`), which pass the momentum term to
        # `torch._foreach_*` calls that take only numbers and tensors: for
        # the update, the cycled term is replaced by its value.
        attribute = self._momentum_attribute
        if attribute is None:
            return super()._parallel_update_step(
                grads, trainable_variables, learning_rate
            )
        scheduled = getattr(self, attribute)
        value = scheduled.value()
        if isinstance(value, keras.Variable):
            value = value.value
        object.__setattr__(self, attribute, value)
        try:
            return super()._parallel_update_step(
                grads, trainable_variables, learning_rate
            )
        finally:
            object.__setattr__(self, attribute, scheduled)

    def _host_begin_update(self):
        """The update's schedule on the host path, `_schedule(self._host)`.

        `current_lr` (and `current_momentum`) take the update's values now,
        and the update reads them as the variables themselves, as plain
        Keras reads its `learning_rate` variable: PyTorch's multi-tensor
        kernels take a 0-d tensor several times faster than a Python number
        (`torch._foreach_mul_` over 122 tensors: 60 us against 215 us).
        A held update leaves them as they are.
        """
        rate, valid, momentum = self._schedule(self._host)
        if valid is None:  # decay alone
            rate = ops.convert_to_tensor(rate, keras.backend.floatx())
            return rate, None, None
        scalars = self._host.scalars
        if valid:
            scalars.write(self.current_lr, rate)
            if momentum is not None:
                scalars.write(self.current_momentum, momentum)
        if momentum is not None:
            momentum = self.current_momentum
        return self.current_lr, valid, momentum

    def _host_advance(self, valid):
        # The counters of `_backend_update_step`: `_host_begin_update` has
        # set `current_lr` and `current_momentum`.
        scalars = self._host.scalars
        counter = self.clr_iterations if valid else self.held_updates
        scalars.write(counter, scalars.read(counter) + 1)

    def finalize_variable_values(self, var_list):
        """Keras's end-of-`fit` hook; also warns of held updates.

        Warns (`RuntimeWarning`) if `held_updates` grew since the last
        warning: updates applied the held rate because the cycle's settings
        were invalid (see the class docstring).
        """
        super().finalize_variable_values(var_list)
        if self.held_updates is None:
            return
        try:
            held = int(ops.convert_to_numpy(self.held_updates))
        except Exception:
            # After a failed JAX `fit` the variables may hold no value; the
            # warning must not hide the error that ended training.
            return
        if held > self._held_updates_reported:
            warnings.warn(
                f"Optimizer '{self.name}' held its learning rate for "
                f"{held - self._held_updates_reported} update(s) ({held} in "
                "all, counted in `held_updates`): the cycle's settings were "
                "invalid, so those updates applied the last valid rate, "
                f"current_lr={_scalar(self.current_lr)}, and did not advance "
                "the cycle. The base learning rate and max_lr must be finite "
                "and >= 0, step sizes >= 1, and the rate they give (and a "
                "scale_fn's momentum) in range. Received: "
                + ", ".join(
                    f"{key}={_scalar(value)}"
                    for key, value in (
                        ("learning_rate", self._learning_rate),
                        ("max_lr", self.max_lr),
                        ("step_size", self.step_size),
                        ("step_size_down", self.step_size_down),
                        ("clr_iterations", self.clr_iterations),
                    )
                    if value is not None
                ),
                RuntimeWarning,
                stacklevel=2,
            )
        self._held_updates_reported = held

    def get_config(self):
        config = super().get_config()
        # The cycled momentum term is not a constructor value.
        config.pop(self._momentum_attribute, None)
        clr = self.clr
        if clr is not None and "scale_fn" in clr:
            clr["scale_fn"] = serialize_scale_fn(clr["scale_fn"])
        config.update({"clr": clr, "decay": self.decay})
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        clr = config.get("clr")
        if clr is not None and isinstance(clr.get("scale_fn"), dict):
            config = {
                **config,
                "clr": {
                    **clr,
                    "scale_fn": keras.saving.deserialize_keras_object(
                        clr["scale_fn"], custom_objects=custom_objects
                    ),
                },
            }
        return super().from_config(config, custom_objects=custom_objects)

    def load_own_variables(self, store):
        """Restores state, also state saved with or without a cycle.

        State saved by the same optimizer class without a cycle (a plain Keras
        optimizer, or `clr=None`) restores the shared variables (iterations,
        learning rate, slots) and keeps the cycle as constructed, with
        `clr_iterations` at 0. State saved with a cycle and loaded where there
        is none restores the shared variables and warns that the cycle's state
        has no place. Every value is checked against its variable's shape and
        kind (integer or float) before any is written, so a mismatch raises a
        `ValueError` and leaves the optimizer as it was.
        """
        n_saved = len(store.keys())
        n_own = len(self.variables)
        k = self._clr_insert_index
        saved = [store[str(i)] for i in range(n_saved)]
        if self._clr_config is not None and n_saved == n_own - (
            n_clr := self._clr_variable_count
        ):
            targets = self.variables[:k] + self.variables[k + n_clr :]
            sources = saved
        elif (
            self._clr_config is None
            and n_own
            and _looks_like_a_cycle(saved[k : k + n_saved - n_own])
        ):
            n_clr = n_saved - n_own
            targets = self.variables
            sources = saved[:k] + saved[k + n_clr :]
            warnings.warn(
                f"Optimizer '{self.name}' has no cycle (clr=None), but its "
                "saved state has one: restored iterations, learning rate and "
                "slots; the saved cycle (max_lr, step sizes, clr_iterations, "
                "current_lr...) was not restored. Construct the optimizer "
                "with the same `clr` to restore it.",
                stacklevel=2,
            )
        elif n_saved == n_own:
            targets, sources = self.variables, saved
        else:
            return super().load_own_variables(store)
        for variable, value in zip(targets, sources):
            value = np.asarray(value)
            same_kind = ("int" in str(variable.dtype)) == (
                value.dtype.kind in "iu"
            )
            if tuple(variable.shape) != tuple(value.shape) or not same_kind:
                raise ValueError(
                    f"Cannot restore optimizer '{self.name}': variable "
                    f"'{variable.path}' has shape {tuple(variable.shape)} and "
                    f"dtype {variable.dtype}, but the saved value has shape "
                    f"{tuple(value.shape)} and dtype {value.dtype}: the state "
                    "was saved by an optimizer with another layout (another "
                    "`clr`, or another class). Nothing was restored."
                )
        for variable, value in zip(targets, sources):
            variable.assign(value)


def _one_cycle(xp, position, base, max_lr, config):
    """1cycle's rate and momentum (None without the momentum keys)."""
    schedule = dict(
        total_steps=config["total_steps"],
        pct_start=config["pct_start"],
        anneal=config["anneal"],
        three_phase=config["three_phase"],
        xp=xp,
    )
    final = base / config["final_div_factor"]
    middle = (max_lr, base) if config["three_phase"] else (max_lr,)
    rate = one_cycle_value(position, (base, *middle, final), **schedule)
    momentum = None
    low, high = config["base_momentum"], config["max_momentum"]
    if low is not None:
        middle = (low, high) if config["three_phase"] else (low,)
        momentum = one_cycle_value(position, (high, *middle, high), **schedule)
    return rate, momentum


def _schedule_is_valid(xp, base, max_lr, rate, momentum, steps_valid, config):
    """The run-time guard: whether an update may apply the cycle's values.

    The settings are checked, and the rate they give too (a custom scale_fn
    or a negative clr_iterations can make it bad by itself): all finite and
    >= 0, the step sizes valid (`steps_valid`, None for 1cycle), and a custom
    scale_fn's momentum in [0, 1).
    """
    valid = xp.all_finite_nonnegative(base, max_lr, rate)
    if steps_valid is not None:
        valid = xp.logical_and(steps_valid, valid)
    if momentum is not None and config["scale_fn"] is not None:
        valid = xp.logical_and(
            valid,
            xp.logical_and(
                xp.greater_equal(momentum, 0.0), xp.less(momentum, 1.0)
            ),
        )
    return valid


def _looks_like_a_cycle(values):
    """Whether saved values have the layout of a cycle's variables.

    A cycle keeps 4 to 7 scalar variables, the first (max_lr) a float and the
    last (held_updates) an integer.
    """
    if not 4 <= len(values) <= 7:
        return False
    values = [np.asarray(v) for v in values]
    return (
        all(v.shape == () for v in values)
        and values[0].dtype.kind == "f"
        and values[-1].dtype.kind in "iu"
    )


def serialize_scale_fn(scale_fn):
    name = keras.saving.get_registered_name(scale_fn)
    if keras.saving.get_registered_object(name) is not scale_fn:
        raise ValueError(
            "To save an optimizer whose clr['scale_fn'] is a custom function, "
            "register the function for Keras serialization: define it with "
            "`def` at module level and decorate it with "
            "`@keras.saving.register_keras_serializable()`; a lambda cannot be "
            f"registered. Received: clr['scale_fn']={scale_fn!r}"
        )
    return keras.saving.serialize_keras_object(scale_fn)


_CLR_CLASSES = {}


def _backend_class(optimizer_class):
    """The class that Keras instantiates for `optimizer_class`.

    On the PyTorch backend, constructing exactly `keras.optimizers.SGD`,
    `Adam`, `AdamW`, `RMSprop`, `Adagrad`, `Adadelta`, `Adamax`, `Nadam` or
    `Lion` gives an instance of a fused subclass that updates all variables
    with multi-tensor `torch._foreach_*` calls (`TorchOptimizer.__new__`);
    a subclass of the Keras class would not get it. Building the cyclical
    class over that fused subclass keeps the fused update, and `isinstance`
    with the Keras class still holds. On other backends, and for any other
    class, this is `optimizer_class` itself.
    """
    instance = optimizer_class.__new__(optimizer_class)
    backend_class = type(instance)
    if backend_class is not optimizer_class and issubclass(
        backend_class, optimizer_class
    ):
        return backend_class
    return optimizer_class


def with_clr(optimizer_class, *, name=None, package="clr_optimizers"):
    """Returns a subclass of `optimizer_class` that takes a `clr` dict.

    The subclass accepts every argument of `optimizer_class` plus `clr`,
    `decay` and `lr` (see `CyclicalLearningRateMixin`), and is registered for
    Keras serialization as `"{package}>{name}"`, so saved models load after a
    plain `import clr_optimizers` (and of the module defining the class).

    Args:
        optimizer_class: A subclass of `keras.optimizers.Optimizer`, such as a
            user's own optimizer.
        name: Name of the new class. Defaults to `optimizer_class.__name__`.
        package: Package name for Keras serialization. Defaults to
            `"clr_optimizers"`.

    Returns:
        The new class. Calling again with the same class returns the same
        class; a class that already has the mixin is returned as it is.

    Example:

    >>> class MySGD(keras.optimizers.SGD):
    ...     pass
    >>> CyclicalMySGD = clr_optimizers.with_clr(MySGD)
    >>> opt = CyclicalMySGD(
    ...     learning_rate=0.001, clr={"step_size": 100, "max_lr": 0.01}
    ... )
    """
    if not (
        isinstance(optimizer_class, type)
        and issubclass(optimizer_class, keras.optimizers.Optimizer)
    ):
        raise TypeError(
            "`optimizer_class` must be a subclass of "
            "keras.optimizers.Optimizer. "
            f"Received: optimizer_class={optimizer_class!r}"
        )
    if issubclass(
        optimizer_class,
        optional_keras_classes("LossScaleOptimizer", "MultiOptimizer"),
    ):
        raise TypeError(
            f"{optimizer_class.__name__} wraps other optimizers and has no "
            "learning rate of its own: give the cycle to the optimizers it "
            f"wraps. Received: optimizer_class={optimizer_class.__name__}"
        )
    if issubclass(optimizer_class, CyclicalLearningRateMixin):
        return optimizer_class
    if optimizer_class in _CLR_CLASSES:
        return _CLR_CLASSES[optimizer_class]
    name = name or optimizer_class.__name__
    registered_name = f"{package}>{name}"
    if keras.saving.get_registered_object(registered_name) is not None:
        raise ValueError(
            f"A class is already registered for Keras serialization as "
            f"{registered_name!r}: pass another `name` or `package`. "
            f"Received: optimizer_class={optimizer_class!r}, name={name!r}"
        )
    base_name = f"{optimizer_class.__module__}.{optimizer_class.__qualname__}"
    cls = type(
        name,
        (CyclicalLearningRateMixin, _backend_class(optimizer_class)),
        {
            "__module__": package,
            "__qualname__": name,
            "__doc__": (
                f"`{base_name}` with a cyclical learning rate.\n\n"
                f"Takes every argument of `{base_name}`, plus `clr`, `decay`"
                " and `lr`; see `clr_optimizers.CyclicalLearningRateMixin`.\n"
            ),
        },
    )
    keras.saving.register_keras_serializable(package=package, name=name)(cls)
    _CLR_CLASSES[optimizer_class] = cls
    return cls
