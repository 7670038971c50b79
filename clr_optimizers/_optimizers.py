"""Every concrete Keras optimizer, with a cyclical learning rate.

Each class is a subclass of the Keras class of the same name, made by
`with_clr`: same constructor, plus `clr`, `decay` and `lr`. A class that the
installed Keras lacks or cannot run (`ScheduleFreeAdamW` before Keras 3.14,
`Muon` before 3.13) is absent, and reading its name raises an AttributeError
that names the Keras that has it.
"""

import keras

from clr_optimizers._compat import INTRODUCED_IN
from clr_optimizers._compat import has_optimizer
from clr_optimizers._compat import missing_optimizer_error
from clr_optimizers._keras_private import check_keras
from clr_optimizers._optimizer._factory import with_clr
from clr_optimizers._optimizer._mixin import CyclicalLearningRateMixin

Adadelta = with_clr(keras.optimizers.Adadelta)
Adafactor = with_clr(keras.optimizers.Adafactor)
Adagrad = with_clr(keras.optimizers.Adagrad)
Adam = with_clr(keras.optimizers.Adam)
AdamW = with_clr(keras.optimizers.AdamW)
Adamax = with_clr(keras.optimizers.Adamax)
Ftrl = with_clr(keras.optimizers.Ftrl)
Lamb = with_clr(keras.optimizers.Lamb)
Lion = with_clr(keras.optimizers.Lion)
Nadam = with_clr(keras.optimizers.Nadam)
RMSprop = with_clr(keras.optimizers.RMSprop)
SGD = with_clr(keras.optimizers.SGD)
if has_optimizer("Muon"):
    Muon = with_clr(keras.optimizers.Muon)
if has_optimizer("ScheduleFreeAdamW"):
    ScheduleFreeAdamW = with_clr(keras.optimizers.ScheduleFreeAdamW)

OPTIMIZERS = tuple(
    sorted(
        (
            value
            for value in list(globals().values())
            if isinstance(value, type)
            and issubclass(value, CyclicalLearningRateMixin)
            and value is not CyclicalLearningRateMixin
        ),
        key=lambda cls: cls.__name__,
    )
)
"""One cyclical class per optimizer of the installed Keras, by name."""

# The Keras class (on PyTorch, its fused subclass) behind each one.
check_keras([keras.optimizers.Optimizer, *(c.__bases__[1] for c in OPTIMIZERS)])


def __getattr__(name):
    if name in INTRODUCED_IN:
        raise missing_optimizer_error(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
