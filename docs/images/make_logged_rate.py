"""Makes docs/images/logged-rate.png: the rate and momentum of a short fit.

A tiny model is trained on synthetic data with 1cycle (its length planned
from the fit, `total_steps="auto"`) and the cycled momentum; the rate and
momentum of every update, logged by `clr_optimizers.FitSchedule`, are drawn
by `clr_optimizers.plot_history`. From the repository root:

    python docs/images/make_logged_rate.py
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import clr_optimizers as co  # noqa: E402

OUTPUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "logged-rate.png"
)


def main(path=OUTPUT):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) > 0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    optimizer = co.SGD(
        learning_rate=0.004,
        clr={
            "mode": "1cycle",
            "max_lr": 0.1,
            "total_steps": "auto",
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        },
    )
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    fit_schedule = co.FitSchedule()
    model.fit(
        x, y, batch_size=16, epochs=5, verbose=0, callbacks=[fit_schedule]
    )
    figure = co.plot_history(fit_schedule.update_history)
    figure.set_size_inches(7, 5)
    figure.savefig(path, dpi=90)
    print(f"Wrote {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
