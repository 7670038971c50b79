"""A Keras deprecation of a method the package overrides fails the tests.

The optimizers override private methods of Keras's optimizers (the `HOOKS`
and `OPTIONAL_HOOKS` of `clr_optimizers._keras_private`). Keras may first
deprecate one of them (a DeprecationWarning on its calling path, or a
deprecation decorator) before it changes or drops it; these tests turn that
into a failure, for every optimizer class the package offers:

- dynamically: two updates of `fit` and one eager `optimizer.apply`, with
  every DeprecationWarning raised as an error that Keras or the package
  issues (or that any module issues about a hook, by name), after checking
  that Keras really went through each hook;
- statically: the Keras implementation of each hook, and anything wrapping
  it, has no "deprecat" in its source.
"""

import contextlib
import inspect
import re
import warnings

import keras
import numpy as np
import pytest

import clr_optimizers as co
from clr_optimizers import _keras_private

ALL_HOOKS = {**_keras_private.HOOKS, **_keras_private.OPTIONAL_HOOKS}

# NumPy 2 warns, from C, when an `__array__` takes no `copy` argument (that
# of PyTorch's tensors and that of Keras's variables); the warning is
# attributed to the Keras line that called `np.array`. It is not a Keras
# deprecation, and pyproject's filterwarnings ignores it too.
NUMPY_ARRAY_COPY = r"__array__ implementation doesn't accept a copy keyword"


def keras_implementation(cls, name):
    """`(owner, function)`: the Keras method that the mixin's `name` extends.

    The first class after the package's own in `cls.__mro__` that defines
    `name`; `(None, None)` if no Keras class does.
    """
    for klass in cls.__mro__:
        if issubclass(klass, co.CyclicalLearningRateMixin):
            continue
        if name in vars(klass):
            return klass, vars(klass)[name]
    return None, None


def deprecation_marks(function):
    """Where "deprecat" appears in `function` and the functions it wraps."""
    marks = []
    seen = set()
    while function is not None and id(function) not in seen:
        seen.add(id(function))
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            source = ""
        label = getattr(function, "__qualname__", repr(function))
        for number, line in enumerate(source.splitlines(), 1):
            if "deprecat" in line.lower():
                marks.append(f"{label}, line {number}: {line.strip()}")
        for attribute in ("__name__", "__qualname__"):
            value = str(getattr(function, attribute, ""))
            if "deprecat" in value.lower():
                marks.append(f"{label}: {attribute} = {value!r}")
        function = getattr(function, "__wrapped__", None)
    return marks


@contextlib.contextmanager
def keras_deprecations_as_errors():
    """A context in which the deprecations that concern the hooks raise.

    Raised: a DeprecationWarning attributed to a Keras module, to the package
    (a Keras hook that warns with `stacklevel=2` names the caller, the
    package's `super()` call) or to this module (the call counters below sit
    between Keras and the package), and one from anywhere whose message
    names a hook. NumPy's `__array__` warning is ignored (NUMPY_ARRAY_COPY).
    """
    hooks = "|".join(re.escape(name) for name in ALL_HOOKS)
    with warnings.catch_warnings():
        for module in (
            r"keras(\.|$)",
            r"clr_optimizers(\.|$)",
            re.escape(__name__),
        ):
            warnings.filterwarnings(
                "error", category=DeprecationWarning, module=module
            )
        warnings.filterwarnings(
            "error", message=rf".*\b({hooks})\b", category=DeprecationWarning
        )
        warnings.filterwarnings(
            "ignore", message=NUMPY_ARRAY_COPY, category=DeprecationWarning
        )
        yield


def count_hook_calls(monkeypatch, cls):
    """Counts the calls Keras makes to each of `cls`'s hooks."""
    calls = dict.fromkeys(ALL_HOOKS, 0)
    for name in ALL_HOOKS:
        if not hasattr(cls, name):
            continue
        original = getattr(cls, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, counted)
    return calls


def train_two_updates_and_apply(cls):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)]
    )
    optimizer = cls(learning_rate=1e-3, clr={"step_size": 2, "max_lr": 1e-2})
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 4)).astype("float32")
    y = rng.normal(size=(4, 1)).astype("float32")
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    variables = model.trainable_variables
    grads = [keras.ops.ones(v.shape, dtype=v.dtype) for v in variables]
    optimizer.apply(grads, variables)
    return optimizer


@pytest.mark.parametrize("cls", co.OPTIMIZERS, ids=lambda cls: cls.__name__)
def test_training_reaches_every_hook_without_a_keras_deprecation(
    cls, monkeypatch
):
    calls = count_hook_calls(monkeypatch, cls)
    with keras_deprecations_as_errors():
        optimizer = train_two_updates_and_apply(cls)
    assert int(optimizer.iterations) == 3
    # Keras went through every hook the class has (or the check above
    # proved nothing about it).
    for name in ALL_HOOKS:
        if keras_implementation(cls, name)[1] is not None:
            assert calls[name] > 0, f"Keras never called {name}"


# Every (class, hook) pair that Keras implements: the required hooks for
# every class, the optional ones where the backend's class has them.
IMPLEMENTED_HOOKS = [
    pytest.param(cls, name, id=f"{cls.__name__}-{name}")
    for cls in co.OPTIMIZERS
    for name in sorted(ALL_HOOKS)
    if keras_implementation(cls, name)[1] is not None
]


@pytest.mark.parametrize("cls", co.OPTIMIZERS, ids=lambda cls: cls.__name__)
def test_every_required_hook_is_implemented(cls):
    for name in _keras_private.HOOKS:
        assert keras_implementation(cls, name)[1] is not None, (
            f"Keras's {cls.__name__} lacks the hook {name}"
        )


@pytest.mark.parametrize("cls, name", IMPLEMENTED_HOOKS)
def test_keras_hook_is_not_marked_deprecated(cls, name):
    owner, function = keras_implementation(cls, name)
    assert not deprecation_marks(function), (
        f"Keras marks {owner.__module__}.{owner.__qualname__}.{name} "
        f"deprecated: {deprecation_marks(function)}"
    )


# The checks above can fail: a hook that warns is caught, wherever the
# warning is attributed, and a decorated hook is found.


def warning_hook(original, message, stacklevel):
    def hook(self, *args, **kwargs):
        warnings.warn(message, DeprecationWarning, stacklevel=stacklevel)
        return original(self, *args, **kwargs)

    return hook


@pytest.mark.parametrize(
    "message, stacklevel",
    [
        # Attributed to the hook's own module (here: this one).
        ("This method is deprecated", 1),
        # Attributed to the package's super() call.
        ("This method is deprecated", 2),
        ("`_backend_update_step` is deprecated", 2),
        # Attributed to Keras's caller of the hook.
        ("This method is deprecated", 3),
    ],
)
def test_a_warning_hook_fails_the_check(monkeypatch, message, stacklevel):
    cls = co.SGD
    owner, function = keras_implementation(cls, "_backend_update_step")
    monkeypatch.setattr(
        owner,
        "_backend_update_step",
        warning_hook(function, message, stacklevel),
    )
    with keras_deprecations_as_errors():
        with pytest.raises(DeprecationWarning, match="deprecated"):
            train_two_updates_and_apply(cls)


def test_a_warning_attributed_to_keras_fails_the_check():
    with keras_deprecations_as_errors():
        with pytest.raises(DeprecationWarning):
            warnings.warn_explicit(
                "This argument is deprecated",
                DeprecationWarning,
                "base_optimizer.py",
                1,
                module="keras.src.optimizers.base_optimizer",
            )
        # NumPy's `__array__` warning alone is let through.
        warnings.warn_explicit(
            "__array__ implementation doesn't accept a copy keyword, so "
            "passing copy=False failed.",
            DeprecationWarning,
            "core.py",
            1,
            module="keras.src.backend.tensorflow.core",
        )


def _deprecated(function):
    """A stand-in for a Keras deprecation decorator."""

    def wrapper(*args, **kwargs):
        warnings.warn("deprecated", DeprecationWarning, stacklevel=2)
        return function(*args, **kwargs)

    wrapper.__wrapped__ = function
    return wrapper


def test_a_decorated_hook_is_found():
    def plain(self):
        return None

    assert deprecation_marks(plain) == []
    assert deprecation_marks(_deprecated(plain))
