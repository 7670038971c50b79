"""Trains with `tf.distribute.MirroredStrategy` over 2 logical CPU devices.

Run by tests/test_distributed.py in its own interpreter: the logical device
configuration is process-global. Each case also trains once without a
strategy, with the same global batch, as the single-device reference.
Prints one JSON object.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2,
)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from helpers import linear_loss  # noqa: E402
from helpers import recorded_rates  # noqa: E402
from helpers import recorder_data  # noqa: E402
from helpers import recorder_model  # noqa: E402
from helpers import seed_data  # noqa: E402
from helpers import seed_model  # noqa: E402
from multi_worker import train as custom_loop_seed_model  # noqa: E402

import clr_optimizers as co  # noqa: E402

BASE, PEAK, STEP = 0.001, 0.01, 3
CLR = {"mode": "triangular2", "step_size": STEP, "max_lr": PEAK}
GLOBAL_BATCH = 32
EPOCHS = 2


_mirrored = []


def mirrored():
    # One strategy for the whole process: a second one would reuse the
    # first one's collective-op keys.
    if not _mirrored:
        _mirrored.append(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    return _mirrored[0]


class RateLog(keras.callbacks.Callback):
    """The rate each update applied, read after every batch."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.current_lr.numpy()))


def fit_seed_model(strategy, optimizer_class, **options):
    x, y = seed_data(256)
    with strategy.scope():
        model = seed_model(0)
        opt = optimizer_class(learning_rate=BASE, clr=CLR, **options)
        model.compile(opt, "binary_crossentropy", jit_compile=False)
    log = RateLog()
    model.fit(
        x,
        y,
        batch_size=GLOBAL_BATCH,
        epochs=EPOCHS,
        shuffle=False,
        verbose=0,
        callbacks=[log],
    )
    return {
        "weights": [w.tolist() for w in model.get_weights()],
        "rates": log.rates,
        "clr_iterations": int(opt.clr_iterations.numpy()),
        "iterations": int(opt.iterations.numpy()),
        "next_rate": float(opt.learning_rate.numpy()),
        "replicas": strategy.num_replicas_in_sync,
    }


def recorder(strategy):
    # Global batch 2 of one-hot rows e_2s, e_2s+1: each replica gets one
    # row, the mean loss gives each of the two weights -rate_s / 2.
    n = 32
    with strategy.scope():
        model = recorder_model(n)
        opt = co.SGD(learning_rate=BASE, clr=CLR)
        # steps_per_execution > 1 fails under this strategy on CPU devices
        # in Keras 3.15 for any optimizer; jit_compile too (XLA cannot reach
        # the second device's variables).
        model.compile(opt, linear_loss, jit_compile=False)
    x, y = recorder_data(n)
    model.fit(x, y, batch_size=2, shuffle=False, verbose=0)
    return {
        "rates": recorded_rates(model).tolist(),
        "clr_iterations": int(opt.clr_iterations.numpy()),
        "iterations": int(opt.iterations.numpy()),
    }


def guard(strategy):
    # A NaN max_lr assigned at run time: every update applies the held rate,
    # counted once per global step, and the cycle pauses.
    x, y = seed_data(128)
    with strategy.scope():
        model = seed_model(0)
        opt = co.AdamW(learning_rate=BASE, weight_decay=0.1, clr=CLR)
        model.compile(opt, "binary_crossentropy", jit_compile=False)
    options = {"batch_size": GLOBAL_BATCH, "shuffle": False, "verbose": 0}
    model.fit(x[:64], y[:64], **options)
    opt.max_lr.assign(float("nan"))
    model.fit(x[64:], y[64:], **options)
    return {
        "weights": [w.tolist() for w in model.get_weights()],
        "finite": all(
            np.all(np.isfinite(np.array(v)))
            for v in model.weights + opt.variables
            if v.name not in ("max_lr", "learning_rate", "step_size")
        ),
        "held_updates": int(opt.held_updates.numpy()),
        "clr_iterations": int(opt.clr_iterations.numpy()),
        "iterations": int(opt.iterations.numpy()),
        "current_lr": float(opt.current_lr.numpy()),
    }


def main():
    single = tf.distribute.get_strategy()
    results = {
        "logical_devices": len(tf.config.list_logical_devices("CPU")),
        "fit_sgd": {
            "single": fit_seed_model(single, co.SGD, momentum=0.9),
            "mirrored": fit_seed_model(mirrored(), co.SGD, momentum=0.9),
        },
        "fit_adamw": {
            "single": fit_seed_model(single, co.AdamW, weight_decay=0.05),
            "mirrored": fit_seed_model(mirrored(), co.AdamW, weight_decay=0.05),
        },
        "custom_loop": {
            "single": custom_loop_seed_model(single),
            "mirrored": custom_loop_seed_model(mirrored()),
        },
        "recorder": recorder(mirrored()),
        "guard": {"single": guard(single), "mirrored": guard(mirrored())},
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
