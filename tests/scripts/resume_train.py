"""A training run that `tests/test_resume.py` kills and restarts.

Usage::

    resume_train.py OUT_JSON BACKUP_DIR SAVE_FREQ [KILL_EPOCH KILL_BATCH]

Trains the seed model (Adam with a triangular2 cycle, 8 updates per epoch,
4 epochs) under `keras.callbacks.BackupAndRestore(BACKUP_DIR, save_freq=...)`
(SAVE_FREQ is `epoch` or a number of batches). With KILL_EPOCH and
KILL_BATCH, at the end of that batch (after the backup callback ran) it
writes `BACKUP_DIR.ready` and then waits to be killed. Otherwise it trains
to the end and writes OUT_JSON: final weights, counters, the next rate, and
the rate applied by each update this process ran.

With the environment variable RESUME_POLICY=auto_one_cycle, the cycle is
instead a 1cycle with `total_steps="auto"`, planned by `FitSchedule`.

With SAVE_FREQ `replay:E:B`, it instead trains once, without backups, on
the batches a batch-level resume goes through: epochs 0..E-1, the first B+1
batches of epoch E, then epochs E.. to the end.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from helpers import seed_data  # noqa: E402
from helpers import seed_model  # noqa: E402

import clr_optimizers as co  # noqa: E402

BASE, PEAK, STEP = 0.001, 0.01, 5
CLR = {"mode": "triangular2", "step_size": STEP, "max_lr": PEAK}
BATCH, SAMPLES, EPOCHS = 32, 256, 4
AUTO_ONE_CYCLE = os.environ.get("RESUME_POLICY") == "auto_one_cycle"
if AUTO_ONE_CYCLE:
    CLR = {"mode": "1cycle", "max_lr": PEAK, "total_steps": "auto"}


class RateLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.current_lr))


class WaitToBeKilled(keras.callbacks.Callback):
    def __init__(self, epoch, batch, ready_path):
        super().__init__()
        self.at = (epoch, batch)
        self.ready_path = ready_path
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            with open(self.ready_path, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(600)


def build():
    model = seed_model(0)
    opt = co.Adam(learning_rate=BASE, clr=CLR)
    model.compile(opt, "binary_crossentropy", jit_compile=False)
    return model, opt


def result(model, opt, log):
    return {
        "weights": [w.tolist() for w in model.get_weights()],
        "clr_iterations": int(opt.clr_iterations),
        "iterations": int(opt.iterations),
        "next_rate": float(opt.learning_rate),
        "total_steps": None
        if opt.total_steps is None
        else int(opt.total_steps),
        "rates": log.rates,
    }


def main():
    out, backup_dir, save_freq = sys.argv[1:4]
    x, y = seed_data(SAMPLES)
    model, opt = build()
    log = RateLog()
    if save_freq.startswith("replay:"):
        epoch, batch = map(int, save_freq.split(":")[1:])
        per_epoch = SAMPLES // BATCH
        steps = (
            list(range(epoch * per_epoch))
            + list(range(epoch * per_epoch, epoch * per_epoch + batch + 1))
            + list(range(epoch * per_epoch, EPOCHS * per_epoch))
        )
        order = np.concatenate(
            [
                np.arange(s % per_epoch * BATCH, (s % per_epoch + 1) * BATCH)
                for s in steps
            ]
        )
        model.fit(
            x[order],
            y[order],
            batch_size=BATCH,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[log],
        )
    else:
        callbacks = [
            keras.callbacks.BackupAndRestore(
                backup_dir,
                save_freq="epoch" if save_freq == "epoch" else int(save_freq),
            ),
            log,
        ]
        if AUTO_ONE_CYCLE:
            callbacks.insert(1, co.FitSchedule())
        if len(sys.argv) > 4:
            epoch, batch = int(sys.argv[4]), int(sys.argv[5])
            callbacks.append(
                WaitToBeKilled(epoch, batch, backup_dir.rstrip("/") + ".ready")
            )
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=EPOCHS,
            shuffle=False,
            verbose=0,
            callbacks=callbacks,
        )
    with open(out, "w") as f:
        json.dump(result(model, opt, log), f)


if __name__ == "__main__":
    main()
