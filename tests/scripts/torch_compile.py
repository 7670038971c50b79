"""Trains a model eagerly and under `torch.compile`; prints JSON.

Run by tests/test_backends.py as `KERAS_BACKEND=torch torch_compile.py CASE`,
CASE being a JSON list `[optimizer class name, its arguments, clr]`. Keras
runs a PyTorch model compiled with `jit_compile=True` through `torch.compile`,
and while it traces, the optimizer evaluates its cycle with the `keras.ops`
schedule instead of on the host (`TorchScalars.available`).

Each run starts from the same weights and trains in three fits: two epochs,
one epoch with `max_lr` set to NaN (every update holds the rate), and one
epoch with `max_lr` restored. It records, after each batch, the rate (and
momentum) the update applied, and counts the updates whose schedule was
evaluated on the host. The compiled run comes first, while nothing has run
in the process yet, and records the recompilations whose guards name
clr_optimizers (state that changed between the first steps, say).
"""

import json
import logging
import os
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from helpers import seed_data  # noqa: E402
from helpers import seed_model  # noqa: E402

import clr_optimizers as co  # noqa: E402
from clr_optimizers._optimizer import _host as host_path  # noqa: E402

EPOCHS = (2, 1, 1)
BATCH_SIZE = 8
SAMPLES = 64  # whole batches only: a partial one would retrace


def counting_host_updates(optimizer):
    """Counts the updates whose schedule the optimizer evaluates on the host.

    Returns:
        A list that gains an item at each such update.
    """
    calls = []
    begin_update = host_path.begin_update

    def counted(updating):
        if updating is optimizer:
            calls.append(1)
        return begin_update(updating)

    host_path.begin_update = counted
    return calls


class RecompilesNamingThePackage(logging.Handler):
    """Keeps dynamo's recompilation reasons that name clr_optimizers."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        message = record.getMessage()
        if "clr_optimizers" in message:
            self.messages.append(message)


def recording_recompiles():
    """A handler that collects dynamo's recompilation messages from now on."""
    import torch

    torch._logging.set_logs(recompiles=True)
    handler = RecompilesNamingThePackage()
    logging.getLogger("torch._dynamo.guards.__recompiles").addHandler(handler)
    return handler


def train(case, jit_compile):
    """Trains the seed model in the three fits; returns what it recorded.

    Args:
        case: `[optimizer class name, its arguments, clr]`.
        jit_compile: The `jit_compile` of `Model.compile`.

    Returns:
        A dict of JSON values.
    """
    name, options, clr = case
    x, y = seed_data(SAMPLES)
    model = seed_model()
    optimizer = getattr(co, name)(clr=clr, **options)
    host_updates = counting_host_updates(optimizer)
    model.compile(optimizer, "binary_crossentropy", jit_compile=jit_compile)
    rates, momenta = [], []

    def record(batch, logs):
        rates.append(float(optimizer.current_lr))
        if optimizer.current_momentum is not None:
            momenta.append(float(optimizer.current_momentum))

    recorder = keras.callbacks.LambdaCallback(on_train_batch_end=record)
    max_lr = float(optimizer.max_lr)
    fit_seconds = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        for epochs, peak in zip(EPOCHS, (max_lr, float("nan"), max_lr)):
            optimizer.max_lr.assign(peak)
            start = time.perf_counter()
            model.fit(
                x,
                y,
                batch_size=BATCH_SIZE,
                epochs=epochs,
                verbose=0,
                shuffle=False,
                callbacks=[recorder],
            )
            fit_seconds.append(time.perf_counter() - start)
    return {
        "rates": rates,
        "momenta": momenta,
        "clr_iterations": int(optimizer.clr_iterations),
        "iterations": int(optimizer.iterations),
        "held_updates": int(optimizer.held_updates),
        "next_rate": float(optimizer.learning_rate),
        "host_updates": len(host_updates),
        "held_warnings": sum(
            "held its learning rate" in str(w.message) for w in caught
        ),
        "weights": [w.tolist() for w in model.get_weights()],
        "fit_seconds": fit_seconds,
    }


def main():
    case = json.loads(sys.argv[1])
    recompiles = recording_recompiles()
    result = {
        "backend": keras.backend.backend(),
        "compiled": train(case, jit_compile=True),
        "eager": train(case, jit_compile=False),
        "recompiles_naming_the_package": recompiles.messages,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
