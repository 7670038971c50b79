"""The check of every private Keras name the package uses."""

import keras
import pytest

from clr_optimizers import _keras_private


def test_the_installed_keras_has_every_private_name():
    assert _keras_private.missing_hooks(keras.optimizers.SGD) == []
    assert _keras_private._missing_attributes() == []


def test_a_missing_optimizer_attribute_fails_the_check(monkeypatch):
    monkeypatch.setattr(
        _keras_private,
        "OPTIMIZER_ATTRIBUTES",
        ("_learning_rate", "_no_such_attribute"),
    )
    with pytest.raises(
        ImportError, match=r"`Optimizer._no_such_attribute` is missing"
    ):
        _keras_private.check_keras([keras.optimizers.Optimizer])


def test_a_missing_variable_attribute_fails_the_check(monkeypatch):
    monkeypatch.setattr(
        _keras_private, "VARIABLE_ATTRIBUTES", ("_no_such_attribute",)
    )
    with pytest.raises(
        ImportError, match=r"`Variable._no_such_attribute` is missing"
    ):
        _keras_private.check_keras([keras.optimizers.Optimizer])


def test_a_changed_optional_hook_fails_the_check():
    class Changed(keras.optimizers.SGD):
        def _parallel_update_step(self, grads, variables):
            pass

    (problem,) = _keras_private.missing_hooks(Changed)
    assert problem == (
        "`Changed._parallel_update_step` takes (self, grads, variables), "
        "expected (self, grads, variables, learning_rate)"
    )


def test_the_check_creates_no_optimizer(monkeypatch):
    created = []
    original = keras.optimizers.Optimizer.__init__

    def counting(self, *args, **kwargs):
        created.append(type(self).__name__)
        original(self, *args, **kwargs)

    monkeypatch.setattr(keras.optimizers.Optimizer, "__init__", counting)
    _keras_private.check_keras([keras.optimizers.Optimizer])
    assert created == []


def test_private_accessors_read_the_keras_attributes():
    opt = keras.optimizers.SGD(learning_rate=0.25)
    assert _keras_private.learning_rate_variable(opt) is opt._learning_rate
    assert _keras_private.micro_batch_counter(opt) is opt._iterations
    assert _keras_private.rate_hook_name() in _keras_private.HOOKS
