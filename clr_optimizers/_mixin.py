"""One mechanism that gives any Keras optimizer class a cyclical learning rate."""

import threading
import warnings

import keras
from keras import ops

from clr_optimizers._config import check_decay
from clr_optimizers._config import validate_clr
from clr_optimizers._policy import cyclical_learning_rate

# The rate of the update in progress, per optimizer. Thread-local because
# tf.distribute runs one replica per thread and merges in another.
_update_in_progress = threading.local()

_CLR_VARIABLE_NAMES = ("max_lr", "step_size", "clr_iterations", "current_lr")


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
        clr: None, or a dict with the keys `"mode"` (`"triangular"`,
            `"triangular2"` or `"exp_range"`; defaults to `"triangular"`),
            `"step_size"` (half a cycle, in updates; a whole number > 0),
            `"max_lr"` (the peak of the cycle; a finite number >= 0) and
            `"clr_gamma"` (alias `"gamma"`; the `"exp_range"` factor per
            update, in (0, 1]; defaults to `1.0`). With None the optimizer
            behaves exactly like its Keras class. Defaults to None.
        decay: Time-based decay of the base rate, as in Keras 2:
            `base = learning_rate / (1 + decay * iterations)`. Decay lowers
            the bottom of the cycle; `max_lr` stays. Defaults to `0.0`.
        lr: Alias of `learning_rate`.
        *args, **kwargs: The arguments of the Keras optimizer class.

    Variables, created at construction when `clr` is given (None otherwise),
    all assignable at any time without retracing:

    - `lr`: the base rate (the variable behind `learning_rate`).
    - `max_lr`: the peak of the cycle.
    - `step_size`: half a cycle, in updates (integer).
    - `clr_iterations`: the number of updates applied in the cycle (integer);
      `clr_iterations.assign(0)` restarts the cycle, `iterations` goes on.
    - `current_lr`: the rate the most recent update applied (before the first
      update, the rate the first update will apply).

    `learning_rate` reads the rate the next update will apply; assigning
    `learning_rate` (or `lr`) sets the base rate.

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
        super().__init__(*args, **kwargs)
        self.decay = decay
        self._clr_config = clr_config
        # Keras's own construction variables (iterations, learning_rate) come
        # first; the cyclical ones follow, before any built slot.
        self._clr_insert_index = len(self._variables)
        if clr_config is None:
            return
        float_dtype = keras.backend.floatx()
        with keras.name_scope(self.name, caller=self):
            self.max_lr = self._clr_variable(
                clr_config["max_lr"], "max_lr", float_dtype
            )
            self.step_size = self._clr_variable(
                clr_config["step_size"], "step_size", "int"
            )
            self.clr_iterations = self._clr_variable(0, "clr_iterations", "int")
            self.current_lr = self._clr_variable(
                ops.convert_to_numpy(self._next_learning_rate()),
                "current_lr",
                float_dtype,
            )

    @staticmethod
    def _clr_variable(value, name, dtype):
        return keras.Variable(
            value,
            name=name,
            dtype=dtype,
            trainable=False,
            aggregation="only_first_replica",
        )

    @property
    def clr(self):
        """The cycle's settings as a dict (None without a cycle)."""
        if self._clr_config is None:
            return None
        settings = {
            "mode": self._clr_config["mode"],
            "step_size": int(ops.convert_to_numpy(self.step_size)),
            "max_lr": float(ops.convert_to_numpy(self.max_lr)),
        }
        if settings["mode"] == "exp_range":
            settings["clr_gamma"] = self._clr_config["clr_gamma"]
        return settings

    @property
    def lr(self):
        """The base learning rate: the variable behind `learning_rate`."""
        return self._learning_rate

    @lr.setter
    def lr(self, value):
        self.learning_rate = value

    def _next_learning_rate(self):
        base = super()._get_current_learning_rate()
        if self.decay:
            iterations = ops.cast(self.iterations, keras.backend.floatx())
            base = base / (1.0 + self.decay * iterations)
        config = self._clr_config
        if config is None:
            return base
        return cyclical_learning_rate(
            self.clr_iterations,
            base,
            self.max_lr,
            self.step_size,
            mode=config["mode"],
            gamma=config["clr_gamma"],
        )

    def _get_current_learning_rate(self):
        rates = getattr(_update_in_progress, "rates", None)
        if rates and id(self) in rates:
            return rates[id(self)]
        return self._next_learning_rate()

    def _backend_apply_gradients(self, grads, trainable_variables):
        if self._clr_config is None and not self.decay:
            return super()._backend_apply_gradients(grads, trainable_variables)
        if not hasattr(_update_in_progress, "rates"):
            _update_in_progress.rates = {}
        # Computed once here; update_step, weight decay and any other read
        # during this update get this same tensor.
        _update_in_progress.rates[id(self)] = self._next_learning_rate()
        try:
            return super()._backend_apply_gradients(grads, trainable_variables)
        finally:
            del _update_in_progress.rates[id(self)]

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Called once per applied update (not per accumulated micro-batch).
        super()._backend_update_step(grads, trainable_variables, learning_rate)
        if self._clr_config is not None:
            self.current_lr.assign(
                ops.cast(learning_rate, self.current_lr.dtype)
            )
            self.clr_iterations.assign_add(
                ops.cast(1, self.clr_iterations.dtype)
            )

    def get_config(self):
        config = super().get_config()
        config.update({"clr": self.clr, "decay": self.decay})
        return config

    def load_own_variables(self, store):
        """Restores state, also state saved with or without a cycle.

        State saved by the same optimizer class without a cycle (a plain Keras
        optimizer, or `clr=None`) restores the shared variables (iterations,
        learning rate, slots) and keeps the cycle as constructed, with
        `clr_iterations` at 0. State saved with a cycle and loaded where there
        is none restores the shared variables and warns that the cycle's state
        has no place.
        """
        n_saved = len(store.keys())
        n_own = len(self.variables)
        n_clr = len(_CLR_VARIABLE_NAMES)
        k = self._clr_insert_index
        if self._clr_config is not None and n_saved == n_own - n_clr:
            targets = self.variables[:k] + self.variables[k + n_clr :]
            sources = [store[str(i)] for i in range(n_saved)]
        elif self._clr_config is None and n_saved == n_own + n_clr and n_own:
            targets = self.variables
            sources = [
                store[str(i)] for i in range(n_saved) if not k <= i < k + n_clr
            ]
            warnings.warn(
                f"Optimizer '{self.name}' has no cycle (clr=None), but its "
                "saved state has one: restored iterations, learning rate and "
                "slots; the saved max_lr, step_size, clr_iterations and "
                "current_lr were not restored. Construct the optimizer with "
                "the same `clr` to restore them.",
                stacklevel=2,
            )
        else:
            return super().load_own_variables(store)
        for variable, value in zip(targets, sources):
            if tuple(variable.shape) != tuple(value.shape):
                raise ValueError(
                    f"Cannot restore optimizer '{self.name}': variable "
                    f"'{variable.path}' has shape {tuple(variable.shape)} but "
                    f"the saved value has shape {tuple(value.shape)}."
                )
        for variable, value in zip(targets, sources):
            variable.assign(value)


_CLR_CLASSES = {}


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
        (keras.optimizers.LossScaleOptimizer, keras.optimizers.MultiOptimizer),
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
        (CyclicalLearningRateMixin, optimizer_class),
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
