"""Every private Keras name the package touches, checked at import.

The package overrides private methods of `keras.optimizers.Optimizer`, reads
a few private attributes and calls two private scope tests. Each of them is
named here, and only here, and `check_keras` (run when the package is
imported) checks that the installed Keras still has every one, so that a
Keras release that drops or changes one fails the import with the reason
instead of training with a wrong rate.

| private name | used for |
| --- | --- |
| `Optimizer._get_current_learning_rate` | the rate of the update |
| `Optimizer._backend_apply_gradients` | the schedule, once per update |
| `Optimizer._backend_update_step` | the cycle's counters, per applied update |
| `Optimizer._parallel_update_step` | PyTorch's fused (multi-tensor) update |
| `Optimizer._learning_rate` | the variable behind `learning_rate` |
| `Optimizer._iterations` | the micro-batch count (gradient accumulation) |
| `Variable._value` | the tensor behind a PyTorch variable |
| `Model._jax_state`, `Model._jax_state_synced` | JAX's carried state |
| `in_stateless_scope`, `in_symbolic_scope` | where the host path may run |
"""

import inspect
import warnings

import keras

from clr_optimizers._compat import NEWEST_TESTED_KERAS
from clr_optimizers._compat import OLDEST_TESTED_KERAS
from clr_optimizers._compat import format_version
from clr_optimizers._compat import keras_version
from clr_optimizers._compat import tested_range

try:
    from keras.src.backend.common.stateless_scope import in_stateless_scope
    from keras.src.backend.common.symbolic_scope import in_symbolic_scope
except ImportError as error:  # pragma: no cover - depends on the release
    raise ImportError(
        "clr_optimizers cannot run on the installed Keras "
        f"{keras.__version__} (tested: {tested_range()}): it lacks "
        f"{error.name}. Install a tested Keras: pip install "
        f"'keras>={format_version(OLDEST_TESTED_KERAS)},"
        f"<{NEWEST_TESTED_KERAS[0]}.{NEWEST_TESTED_KERAS[1] + 1}'"
    ) from error

__all__ = [
    "HOOKS",
    "carried_optimizer_variables",
    "check_keras",
    "in_stateless_scope",
    "in_symbolic_scope",
    "learning_rate_variable",
    "micro_batch_counter",
    "missing_hooks",
    "rate_hook_name",
    "variable_tensor",
]

# Each overridden method, with the parameters the mixin's override takes.
HOOKS = {
    "_get_current_learning_rate": ("self",),
    "_backend_apply_gradients": ("self", "grads", "trainable_variables"),
    "_backend_update_step": (
        "self",
        "grads",
        "trainable_variables",
        "learning_rate",
    ),
}

FUSED_UPDATE_HOOK = "_parallel_update_step"
"""The fused PyTorch optimizers' update of every variable at once."""

# Overridden only where the backend's class has it: the fused PyTorch
# optimizers (multi-tensor `torch._foreach_*` updates).
OPTIONAL_HOOKS = {
    FUSED_UPDATE_HOOK: ("self", "grads", "variables", "learning_rate"),
}

# Private attributes of an optimizer instance, and of a variable.
OPTIMIZER_ATTRIBUTES = ("_learning_rate", "_iterations")
VARIABLE_ATTRIBUTES = ("_value",)


def rate_hook_name():
    """The name of the method through which Keras reads the update's rate.

    `CyclicLR` and `lr_range_test` replace it on an optimizer instance for
    the length of a `fit`.
    """
    return "_get_current_learning_rate"


def learning_rate_variable(optimizer):
    """The variable (or schedule) behind `optimizer.learning_rate`."""
    return optimizer._learning_rate


def micro_batch_counter(optimizer):
    """The variable counting micro-batches, `iterations` times accumulation.

    Keras's `iterations` is this count divided by
    `gradient_accumulation_steps`.
    """
    return optimizer._iterations


def variable_tensor(variable):
    """The backend tensor that holds a variable's value (PyTorch's)."""
    return variable._value


def carried_optimizer_variables(model):
    """The optimizer's variables as JAX's `fit` carries them, or None.

    During a JAX `fit` the trainer carries the state from step to step and
    writes it back to the Keras variables only at the end of each epoch (or
    when a callback asks for it); this is the carried state while it differs
    from the variables, and None elsewhere.
    """
    state = getattr(model, "_jax_state", None)
    if state and not getattr(model, "_jax_state_synced", True):
        return state.get("optimizer_variables")
    return None


def _signature_problem(owner, name, method, expected):
    if not callable(method):
        return f"`{owner}.{name}` is missing"
    try:
        parameters = tuple(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        parameters = None
    if parameters != expected:
        return (
            f"`{owner}.{name}` takes ({', '.join(parameters or ('?',))}), "
            f"expected ({', '.join(expected)})"
        )
    return None


def missing_hooks(optimizer_class):
    """What `optimizer_class` lacks of the overridden methods, as messages.

    Args:
        optimizer_class: A Keras optimizer class.

    Returns:
        A list of strings, one per missing method or changed signature; empty
        when every hook is there as the mixin expects it.

    Examples:
        >>> missing_hooks(keras.optimizers.SGD)
        []
    """
    owner = optimizer_class.__name__
    problems = []
    for name, expected in HOOKS.items():
        method = getattr(optimizer_class, name, None)
        problems.append(_signature_problem(owner, name, method, expected))
    for name, expected in OPTIONAL_HOOKS.items():
        method = getattr(optimizer_class, name, None)
        if method is not None:
            problems.append(_signature_problem(owner, name, method, expected))
    return [problem for problem in problems if problem is not None]


def _attribute_names(cls):
    """Every attribute name that the methods of `cls` (and its bases) use.

    Read from the methods' code, so that the check creates nothing: an
    optimizer or variable made at import would start the backend's runtime
    (TensorFlow's, before a `MultiWorkerMirroredStrategy` is configured).
    """
    names = set()
    for klass in cls.__mro__:
        for value in vars(klass).values():
            function = getattr(value, "fget", value)
            code = getattr(function, "__code__", None)
            if code is not None:
                names.update(code.co_names)
    return names


def _missing_attributes():
    """The private instance attributes this Keras lacks, as messages."""
    optimizer_names = _attribute_names(keras.optimizers.Optimizer)
    variable_names = _attribute_names(keras.Variable)
    problems = [
        f"`Optimizer.{name}` is missing"
        for name in OPTIMIZER_ATTRIBUTES
        if name not in optimizer_names
    ]
    problems += [
        f"`Variable.{name}` is missing"
        for name in VARIABLE_ATTRIBUTES
        if name not in variable_names
    ]
    return problems


def check_keras(optimizer_classes, version=None):
    """Checks that the installed Keras runs the cycle; warns when untested.

    Args:
        optimizer_classes: The Keras optimizer classes the package extends.
        version: The Keras version string. Defaults to the installed one.

    Raises:
        ImportError: If Keras is older than the oldest tested release (whose
            optimizers update `iterations` at another point), or if a class
            lacks one of the overridden methods or has it with another
            signature, or an optimizer or variable lacks a private attribute
            the package reads. The message names the installed Keras, the
            tested range and what is missing.
    """
    version = keras.__version__ if version is None else version
    installed = keras_version(version)
    oldest = format_version(OLDEST_TESTED_KERAS)
    if installed < OLDEST_TESTED_KERAS:
        raise ImportError(
            f"clr_optimizers needs Keras {oldest} or newer (tested: "
            f"{tested_range()}); older releases update the optimizer's "
            f"`iterations` at another point of the step. Received: "
            f"keras=={version}. Upgrade with: pip install 'keras>={oldest}'"
        )
    problems = []
    for optimizer_class in optimizer_classes:
        for problem in missing_hooks(optimizer_class):
            if problem not in problems:
                problems.append(problem)
    problems += _missing_attributes()
    if problems:
        raise ImportError(
            f"clr_optimizers cannot run on the installed Keras {version} "
            f"(tested: {tested_range()}): it uses private Keras names that "
            f"this Keras changed: {'; '.join(problems)}. Install a tested "
            f"Keras: pip install 'keras>={oldest},"
            f"<{NEWEST_TESTED_KERAS[0]}.{NEWEST_TESTED_KERAS[1] + 1}'"
        )
    if installed > NEWEST_TESTED_KERAS:
        warnings.warn(
            f"clr_optimizers is tested with Keras {tested_range()}; the "
            f"installed Keras {version} is newer. The private Keras names "
            "that the package uses are there with the expected signatures, "
            "so it is used; report any difference in the rates.",
            UserWarning,
            stacklevel=2,
        )
