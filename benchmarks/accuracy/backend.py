"""Which Keras backend the benchmark runs on, and how it compiles there
(PROTOCOL.md, "Backends")."""

import contextlib
import os
import sys

BACKENDS = ("jax", "tensorflow", "torch")
# The backend that trained the benchmark's models fastest on CPU
# (`python -m benchmarks.accuracy.timing`; docs/benchmark.md, "Backends").
DEFAULT_BACKEND = "jax"


def select_backend(name=None):
    """Sets the Keras backend before Keras is imported; returns its name.

    Args:
        name: One of `BACKENDS`; None: `KERAS_BACKEND` when it is set, else
            `DEFAULT_BACKEND`.

    Raises:
        ValueError: If `name` is not one of `BACKENDS`, or Keras is already
            imported with another backend (it cannot switch).
    """
    if name is None:
        name = os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND
    if name not in BACKENDS:
        allowed = ", ".join(repr(b) for b in BACKENDS)
        raise ValueError(
            f"`backend` must be one of {allowed}. Received: backend={name!r}"
        )
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != name:
            raise ValueError(
                f"Keras is already imported with the {current!r} backend, so "
                f"it cannot run on {name!r}: set KERAS_BACKEND={name} before "
                f"Python starts. Received: backend={name!r}"
            )
        return name
    os.environ["KERAS_BACKEND"] = name
    return name


def current_backend():
    """The backend Keras runs on."""
    import keras

    return keras.backend.backend()


def jit_compile(quick):
    """Keras's `jit_compile` for the benchmark's models on this backend.

    XLA on JAX (without it, Keras's JAX trainer runs op by op) and on
    TensorFlow, except for `quick` runs on TensorFlow, where compiling costs
    more than it saves (Keras's graph without XLA then); never on PyTorch,
    eager as Keras runs it by default.
    """
    backend = current_backend()
    if backend == "torch":
        return False
    return backend == "jax" or not quick


def steps_per_execution(every):
    """Updates per compiled call: one evaluation interval on TensorFlow.

    1 elsewhere: PyTorch takes no more, and JAX unrolls the steps of a call,
    so that compiling would cost more than the calls it saves.
    """
    return every if current_backend() == "tensorflow" else 1


@contextlib.contextmanager
def one_torch_thread():
    """On PyTorch, one intra-op thread while the benchmark runs.

    The models are small: more threads only wait on each other. Other
    backends are left as they are.
    """
    if current_backend() != "torch":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
