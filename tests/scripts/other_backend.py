"""Trains with clr_optimizers on another Keras backend; prints JSON.

Run by tests/test_backends.py as `KERAS_BACKEND=jax other_backend.py` (or
`torch`): the backend is chosen when Keras is first imported, so it needs its
own process. JAX's trainer carries optimizer variables statelessly, by
position, which is what this checks beside the rates; PyTorch runs the step
eagerly and takes only `steps_per_execution=1`.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from helpers import seed_data  # noqa: E402
from helpers import seed_model  # noqa: E402

import clr_optimizers as co  # noqa: E402

CASES = {
    "sgd_triangular2": (
        "SGD",
        {"mode": "triangular2", "step_size": 3, "max_lr": 0.05},
    ),
    "adam_exp_range": (
        "Adam",
        {
            "mode": "exp_range",
            "step_size": 3,
            "max_lr": 0.05,
            "clr_gamma": 0.99,
        },
    ),
    "adamw_asymmetric": (
        "AdamW",
        {"step_size": 2, "step_size_down": 5, "max_lr": 0.05},
    ),
}


def fit_case(name, clr, steps_per_execution):
    x, y = seed_data(64)
    model = seed_model()
    opt = getattr(co, name)(learning_rate=0.01, clr=clr)
    model.compile(
        opt, "binary_crossentropy", steps_per_execution=steps_per_execution
    )
    applied = []
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        verbose=0,
        shuffle=False,
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda e, logs: applied.append(
                    float(opt.current_lr)
                )
            )
        ],
    )
    return {
        "clr_iterations": int(opt.clr_iterations),
        "iterations": int(opt.iterations),
        "epoch_end_rates": applied,
        "next_rate": float(opt.learning_rate),
        "finite": all(
            bool(np.all(np.isfinite(w))) for w in model.get_weights()
        ),
    }


def eager_rates():
    opt = co.SGD(learning_rate=0.01, clr={"step_size": 4, "max_lr": 0.05})
    weight = keras.Variable(np.zeros(1, "float32"))
    rates = []
    for _ in range(10):
        weight.assign([0.0])
        opt.apply([keras.ops.ones((1,))], [weight])
        rates.append(-float(np.asarray(weight)[0]))
    opt.max_lr.assign(float("nan"))
    weight.assign([0.0])
    opt.apply([keras.ops.ones((1,))], [weight])
    return {
        "rates": rates,
        "held_rate": -float(np.asarray(weight)[0]),
        "held_updates": int(opt.held_updates),
    }


def main():
    result = {"backend": keras.backend.backend(), "eager": eager_rates()}
    spes = (1,) if keras.backend.backend() == "torch" else (1, 4)
    for key, (name, clr) in CASES.items():
        for spe in spes:
            result[f"{key}_spe{spe}"] = fit_case(name, clr, spe)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
