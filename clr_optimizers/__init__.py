"""Cyclical learning rates for every Keras 3 optimizer.

Smith, "Cyclical Learning Rates for Training Neural Networks",
https://arxiv.org/abs/1506.01186.
"""

from importlib import metadata as _metadata

from clr_optimizers import _optimizers
from clr_optimizers._callbacks._cyclic_lr import CyclicalLR
from clr_optimizers._callbacks._cyclic_lr import CyclicLR
from clr_optimizers._callbacks._fit_schedule import FitSchedule
from clr_optimizers._callbacks._one_cycle import OneCycle
from clr_optimizers._callbacks._snapshots import CycleSnapshots
from clr_optimizers._compat import INTRODUCED_IN
from clr_optimizers._compat import missing_optimizer_error
from clr_optimizers._optimizer._factory import with_clr
from clr_optimizers._optimizer._mixin import CyclicalLearningRateMixin
from clr_optimizers._optimizers import OPTIMIZERS
from clr_optimizers._optimizers import SGD
from clr_optimizers._optimizers import Adadelta
from clr_optimizers._optimizers import Adafactor
from clr_optimizers._optimizers import Adagrad
from clr_optimizers._optimizers import Adam
from clr_optimizers._optimizers import Adamax
from clr_optimizers._optimizers import AdamW
from clr_optimizers._optimizers import Ftrl
from clr_optimizers._optimizers import Lamb
from clr_optimizers._optimizers import Lion
from clr_optimizers._optimizers import Nadam
from clr_optimizers._optimizers import RMSprop
from clr_optimizers._peak import FindMaxLRResult
from clr_optimizers._peak import Trial
from clr_optimizers._peak import find_max_lr
from clr_optimizers._plotting import plot_history
from clr_optimizers._plotting import plot_schedule
from clr_optimizers._policy._cyclical import cyclical_learning_rate
from clr_optimizers._policy._one_cycle import one_cycle_value
from clr_optimizers._policy._reference import reference_learning_rate
from clr_optimizers._range_test._loop import lr_range_test
from clr_optimizers._range_test._result import LRRangeTestResult
from clr_optimizers._schedule import CyclicalLearningRate
from clr_optimizers._validation import CLR_MODES
from clr_optimizers._validation import MODES

__all__ = [
    "CLR_MODES",
    "MODES",
    "OPTIMIZERS",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "CyclicalLearningRate",
    "CyclicalLearningRateMixin",
    "CyclicalLR",
    "CyclicLR",
    "CycleSnapshots",
    "FindMaxLRResult",
    "FitSchedule",
    "Ftrl",
    "Lamb",
    "Lion",
    "LRRangeTestResult",
    "Nadam",
    "OneCycle",
    "RMSprop",
    "Trial",
    "cyclical_learning_rate",
    "find_max_lr",
    "lr_range_test",
    "plot_history",
    "plot_schedule",
    "one_cycle_value",
    "reference_learning_rate",
    "with_clr",
]

try:
    __version__ = _metadata.version("clr_optimizers")
except _metadata.PackageNotFoundError:  # imported from a checkout, uninstalled
    __version__ = "0+unknown"

# Optimizer classes that only newer Keras releases have (INTRODUCED_IN).
for _name in INTRODUCED_IN:
    if _name in vars(_optimizers):
        globals()[_name] = getattr(_optimizers, _name)
        __all__.append(_name)
del _name


def __getattr__(name):
    # Reached only for names not defined above.
    if name in INTRODUCED_IN:
        raise missing_optimizer_error(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
