"""The schedule evaluated on the host, for backends that run the update eagerly.

PyTorch, as Keras runs it by default, executes the training step eagerly: each
`keras.ops` call is a separate dispatch of several microseconds, so the few
dozen scalar operations of the in-graph schedule would cost hundreds of
microseconds per update. On that backend the optimizer evaluates the same
policy functions (`cycle_fraction`, `one_cycle_value`) with `HostOps` in place
of `TensorOps` (see `clr_optimizers._policy._ops`): Python float64 arithmetic on
Python integers (exact at any position), from the Python values of its scalar
variables, which `TorchScalars` reads and writes in place. The per-update cost
is then a few microseconds, whatever the number of model variables.
"""

import math

import keras
from keras import ops

from clr_optimizers._keras_private import in_stateless_scope
from clr_optimizers._keras_private import in_symbolic_scope
from clr_optimizers._keras_private import variable_tensor
from clr_optimizers._policy._ops import HostOps


class TorchScalars:
    """Reads and writes scalar Keras variables of the PyTorch backend cheaply.

    A read returns the variable's value as a Python number, cached against
    the identity and version counter (`Tensor._version`, which every in-place
    write, `Variable.assign` included, advances) of the tensor behind the
    variable: an unchanged variable costs no device access, an assigned one
    one `.item()`. A write fills that tensor in place, as `Variable.assign`
    does (with `copy_`), without assign's conversions.

    Used only outside stateless and symbolic scopes and outside
    `torch.compile` tracing (`available()`); there the optimizer uses the
    `keras.ops` schedule and `assign`.

    """

    def __init__(self):
        import torch

        self._torch = torch
        self._cache = {}

    def available(self):
        """Whether the eager host path may be used now."""
        return not (
            in_stateless_scope()
            or in_symbolic_scope()
            or self._torch.compiler.is_compiling()
        )

    def read(self, variable):
        """The value of a scalar variable as a Python int or float."""
        tensor = variable_tensor(variable)
        key = id(variable)
        cached = self._cache.get(key)
        if (
            cached is not None
            and cached[0] is tensor
            and cached[1] == tensor._version
        ):
            return cached[2]
        value = tensor.item()
        self._cache[key] = (tensor, tensor._version, value)
        return value

    def write(self, variable, value):
        """Sets a scalar variable to `value` (a Python number), in place.

        An integer is cached as written. A float is not (the variable holds
        it rounded to its type): it is read back only when an update holds
        its rate, so the `.item()` that would wait for a GPU is not paid at
        every update.
        """
        tensor = variable_tensor(variable)
        tensor.fill_(value)
        if isinstance(value, int):
            self._cache[id(variable)] = (tensor, tensor._version, value)
        else:
            self._cache.pop(id(variable), None)


def host_ops(rate_dtype=None):
    """A `HostOps` over `TorchScalars` on the PyTorch backend, else None.

    Args:
        rate_dtype: The float type the rate is stored in (`current_lr`'s),
            whose largest finite value bounds the host's values; None for no
            bound. Defaults to None.
    """
    if keras.backend.backend() != "torch":
        return None
    import torch

    largest = math.inf
    if rate_dtype is not None:
        largest = float(torch.finfo(getattr(torch, rate_dtype)).max)
    return HostOps(TorchScalars(), largest)


def begin_update(optimizer):
    """The update's schedule on the host path, `optimizer._schedule(host)`.

    `current_lr` (and `current_momentum`) take the update's values now,
    and the update reads them as the variables themselves, as plain
    Keras reads its `learning_rate` variable: PyTorch's multi-tensor
    kernels take a 0-d tensor several times faster than a Python number.
    A held update leaves them as they are.

    Returns:
        `(rate, valid, momentum)`, as `optimizer._schedule`.
    """
    host = optimizer._host
    rate, valid, momentum = optimizer._schedule(host)
    if valid is None:  # decay alone
        rate = ops.convert_to_tensor(rate, keras.backend.floatx())
        return rate, None, None
    if valid:
        host.scalars.write(optimizer.current_lr, rate)
        if momentum is not None:
            host.scalars.write(optimizer.current_momentum, momentum)
    if momentum is not None:
        momentum = optimizer.current_momentum
    return optimizer.current_lr, valid, momentum


def advance(optimizer, valid):
    """The cycle's counters after an applied update on the host path.

    `begin_update` has set `current_lr` and `current_momentum`.
    """
    scalars = optimizer._host.scalars
    counter = optimizer.clr_iterations if valid else optimizer.held_updates
    scalars.write(counter, scalars.read(counter) + 1)
