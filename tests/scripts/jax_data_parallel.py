"""Trains on JAX with `keras.distribution.DataParallel` and on one device.

Run by tests/test_backends.py as
`KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2
jax_data_parallel.py`: two host devices, fixed when JAX starts, so it needs
its own process. Prints one JSON object: for each run the rates at the end of
every epoch, the counters and the final weights; and the optimizer variables
that `stateless_apply` returns, eagerly and under `jax.jit`.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from helpers import seed_data  # noqa: E402
from helpers import seed_model  # noqa: E402

import clr_optimizers as co  # noqa: E402

CLR = {"mode": "triangular2", "step_size": 3, "max_lr": 0.05}


def train():
    x, y = seed_data(128)
    model = seed_model(0)
    opt = co.AdamW(learning_rate=0.01, weight_decay=0.05, clr=CLR)
    model.compile(opt, "binary_crossentropy")
    rates = []
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda e, logs: rates.append(float(opt.current_lr))
            )
        ],
    )
    return {
        "devices": len(jax.devices()),
        # The devices holding the weights and the cycle's variables.
        "weight_devices": len(model.weights[0].value.sharding.device_set),
        "clr_devices": len(opt.clr_iterations.value.sharding.device_set),
        "epoch_end_rates": rates,
        "clr_iterations": int(opt.clr_iterations),
        "iterations": int(opt.iterations),
        "next_rate": float(opt.learning_rate),
        "weights": [w.tolist() for w in model.get_weights()],
    }


def stateless(jit):
    opt = co.SGD(learning_rate=0.01, clr={"step_size": 4, "max_lr": 0.05})
    weight = keras.Variable(np.zeros(2, "float32"))
    opt.build([weight])
    names = [v.name for v in opt.variables]
    optimizer_values = [v.value for v in opt.variables]
    trainable_values = [weight.value]
    apply = jax.jit(opt.stateless_apply) if jit else opt.stateless_apply
    rates = []
    for _ in range(6):
        new_trainable, optimizer_values = apply(
            optimizer_values, [jax.numpy.ones(2)], trainable_values
        )
        rates.append(float(trainable_values[0][0] - new_trainable[0][0]))
        trainable_values = new_trainable
    carried = dict(
        zip(
            names,
            (
                np.asarray(v).item()
                for v in optimizer_values
                if np.asarray(v).shape == ()
            ),
        )
    )
    return {
        "rates": rates,
        "carried": {
            k: carried[k]
            for k in ("clr_iterations", "current_lr", "held_updates")
        },
        "variable_clr_iterations": int(opt.clr_iterations),
    }


def main():
    result = {"single": train()}
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=jax.devices())
    )
    result["data_parallel"] = train()
    keras.distribution.set_distribution(None)
    result["stateless"] = stateless(False)
    result["stateless_jit"] = stateless(True)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
