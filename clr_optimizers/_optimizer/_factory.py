"""`with_clr`: the cyclical subclass of any Keras optimizer class."""

import keras

from clr_optimizers._compat import optional_keras_classes
from clr_optimizers._optimizer._mixin import CyclicalLearningRateMixin

_CLR_CLASSES: dict[type, type] = {}


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


def with_clr(
    optimizer_class: type,
    *,
    name: str | None = None,
    package: str = "clr_optimizers",
) -> type:
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

    Examples:
        >>> import keras
        >>> import clr_optimizers
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
