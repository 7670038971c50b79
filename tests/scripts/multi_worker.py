"""One worker of a `tf.distribute.MultiWorkerMirroredStrategy` run.

Started by tests/test_distributed.py, twice, with TF_CONFIG naming two
workers on 127.0.0.1. Usage: `multi_worker.py OUT_JSON`. Each worker trains
the seed model with a custom loop (`strategy.run` and `apply_gradients` in a
`tf.function`) and writes its final state to OUT_JSON. The same `train`
without TF_CONFIG is the single-device reference.

A custom loop, not `Model.fit`: in Keras 3.15, `fit` under this strategy
fails before the first step for any optimizer (its symbolic build reduces a
per-replica batch that the strategy cannot reduce).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from helpers import seed_data  # noqa: E402
from helpers import seed_model  # noqa: E402

import clr_optimizers as co  # noqa: E402

BASE, PEAK, STEP = 0.001, 0.01, 3
CLR = {"mode": "triangular2", "step_size": STEP, "max_lr": PEAK}
GLOBAL_BATCH = 32
EPOCHS = 2


def train(strategy):
    """Trains the seed model; returns its final state as a dict."""
    x, y = seed_data(256)
    with strategy.scope():
        model = seed_model(0)
        opt = co.Adam(learning_rate=BASE, clr=CLR)
        loss_fn = keras.losses.BinaryCrossentropy(reduction=None)
        # Built here: left to the first `apply_gradients` inside
        # `strategy.run`, the build fails with two replicas on this Keras,
        # for any optimizer.
        opt.build(model.trainable_variables)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    dataset = strategy.experimental_distribute_dataset(dataset)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            per_sample = loss_fn(yb, model(xb, training=True))
            loss = tf.nn.compute_average_loss(
                per_sample, global_batch_size=GLOBAL_BATCH
            )
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))

    @tf.function
    def step(xb, yb):
        strategy.run(replica_step, args=(xb, yb))

    rates = []
    for _ in range(EPOCHS):
        for xb, yb in dataset:
            step(xb, yb)
            rates.append(float(opt.current_lr.numpy()))
    return {
        "weights": [w.tolist() for w in model.get_weights()],
        "rates": rates,
        "clr_iterations": int(opt.clr_iterations.numpy()),
        "iterations": int(opt.iterations.numpy()),
        "next_rate": float(opt.learning_rate.numpy()),
        "replicas": strategy.num_replicas_in_sync,
    }


def main():
    out = sys.argv[1]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    result = train(strategy)
    result["task"] = json.loads(os.environ["TF_CONFIG"])["task"]
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
