"""The cycle in every way Keras runs an update.

Graph modes (`jit_compile`, `steps_per_execution`), custom training loops,
gradient accumulation, EMA, gradient clipping and decoupled weight decay.
Each test reads back the rate of every single update (see
`helpers`: plain SGD on one-hot rows leaves `-rate_t` in weight
`t`) and compares it with the float64 formula `seed_formula`.
"""

import itertools

import keras
import numpy as np
import pytest
from helpers import BACKEND
from helpers import JIT_COMPILE
from helpers import assert_rel
from helpers import linear_loss
from helpers import recorded_rates
from helpers import recorder_data
from helpers import recorder_model
from helpers import reference_rates
from helpers import seed_formula
from helpers import spe
from helpers import tensor

import clr_optimizers as co

BASE, PEAK, STEP = 0.01, 0.05, 5
CLR = {"mode": "triangular2", "step_size": STEP, "max_lr": PEAK}
N_STEPS = 80  # 8 half cycles, the amplitude halving every 10 updates


def fit_recorder(n_steps, jit_compile, steps_per_execution=1, **options):
    """Fits a recorder model with a CLR SGD; returns (model, optimizer)."""
    model = recorder_model(n_steps)
    opt = co.SGD(learning_rate=BASE, clr=CLR, **options)
    model.compile(
        opt,
        linear_loss,
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    x, y = recorder_data(n_steps)
    model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
    return model, opt


GRAPH_MODES = list(itertools.product([False, True], [1, 8, 32]))
if BACKEND == "torch":
    # PyTorch runs the step eagerly (jit_compile=True is torch.compile, tested
    # in tests/test_backends.py) and takes steps_per_execution=1.
    GRAPH_MODES = [(False, 1)]
NOT_TORCH = pytest.mark.skipif(
    BACKEND == "torch",
    reason="PyTorch takes steps_per_execution=1 only (Keras refuses more)",
)


@pytest.fixture(scope="module")
def graph_mode_runs():
    runs = {}
    for jit_compile, steps_per_execution in GRAPH_MODES:
        model, opt = fit_recorder(N_STEPS, jit_compile, steps_per_execution)
        runs[jit_compile, steps_per_execution] = {
            "rates": recorded_rates(model),
            "clr_iterations": int(opt.clr_iterations),
            "iterations": int(opt.iterations),
            "current_lr": float(opt.current_lr),
            "next_rate": float(opt.learning_rate),
        }
    return runs


@pytest.mark.parametrize(
    "jit_compile,steps_per_execution",
    GRAPH_MODES,
    ids=[f"jit={j}-spe={s}" for j, s in GRAPH_MODES],
)
def test_every_graph_mode_applies_the_formula_at_every_update(
    graph_mode_runs, jit_compile, steps_per_execution
):
    # 80 steps: with steps_per_execution=32 the last execution is partial.
    run = graph_mode_runs[jit_compile, steps_per_execution]
    expected = reference_rates(N_STEPS, BASE, PEAK, STEP, "triangular2")
    assert_rel(run["rates"], expected)
    assert run["clr_iterations"] == run["iterations"] == N_STEPS
    assert_rel(run["current_lr"], expected[-1])
    assert_rel(
        run["next_rate"],
        seed_formula(N_STEPS, BASE, PEAK, STEP, "triangular2"),
    )


def test_graph_modes_apply_the_same_sequence(graph_mode_runs):
    first = graph_mode_runs[GRAPH_MODES[0]]["rates"]
    for mode in GRAPH_MODES[1:]:
        assert_rel(graph_mode_runs[mode]["rates"], first, rtol=1e-6)


def tape_step(model, opt):
    import tensorflow as tf

    def step(x):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(linear_loss(None, model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))

    return step


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("jit_compile", JIT_COMPILE)
def test_custom_loop_step_in_tf_function(jit_compile):
    import tensorflow as tf

    n = 40
    model = recorder_model(n)
    opt = co.SGD(learning_rate=BASE, clr=CLR)
    step = tf.function(tape_step(model, opt), jit_compile=jit_compile)
    x, _ = recorder_data(n)
    for t in range(n):
        step(x[t : t + 1])
    assert_rel(
        recorded_rates(model),
        reference_rates(n, BASE, PEAK, STEP, "triangular2"),
    )
    assert int(opt.clr_iterations) == n


@pytest.mark.tensorflow_only
def test_custom_loop_whole_training_in_one_tf_function():
    import tensorflow as tf

    # All updates in one graph execution (a tf.while_loop): the rate is
    # read from the optimizer's variables inside the graph at every update.
    n = 40
    model = recorder_model(n)
    opt = co.SGD(learning_rate=BASE, clr=CLR)
    step = tape_step(model, opt)
    x, _ = recorder_data(n)
    x = tf.constant(x)

    @tf.function
    def train():
        for t in tf.range(n):
            step(x[t : t + 1])

    train()
    assert_rel(
        recorded_rates(model),
        reference_rates(n, BASE, PEAK, STEP, "triangular2"),
    )
    assert int(opt.clr_iterations) == n


@pytest.mark.tensorflow_only
def test_custom_loop_eager_apply_gradients():
    n = 12
    model = recorder_model(n)
    opt = co.SGD(learning_rate=BASE, clr=CLR)
    step = tape_step(model, opt)
    x, _ = recorder_data(n)
    for t in range(n):
        step(x[t : t + 1])
    assert_rel(
        recorded_rates(model),
        reference_rates(n, BASE, PEAK, STEP, "triangular2"),
    )


@pytest.mark.parametrize("jit_compile", JIT_COMPILE)
def test_gradient_accumulation_advances_once_per_applied_update(jit_compile):
    # 4 micro-batches per update, their gradients averaged: weights 4k..4k+3
    # each get -rate_k / 4, where k counts applied updates.
    accumulation = 4
    n = 64
    model, opt = fit_recorder(
        n, jit_compile, gradient_accumulation_steps=accumulation
    )
    updates = n // accumulation
    per_update = reference_rates(updates, BASE, PEAK, STEP, "triangular2")
    expected = np.repeat(per_update, accumulation) / accumulation
    assert_rel(recorded_rates(model), expected)
    assert int(opt.clr_iterations) == updates
    assert int(opt.iterations) == updates  # Keras's count of updates too
    assert_rel(opt.current_lr, per_update[-1])
    assert_rel(
        opt.learning_rate,
        seed_formula(updates, BASE, PEAK, STEP, "triangular2"),
    )


def test_decay_with_gradient_accumulation_counts_applied_updates():
    # Decay divides the base by 1 + decay * k, k the applied updates (not
    # the micro-batches).
    accumulation, decay, n = 4, 0.25, 32
    model, opt = fit_recorder(
        n, False, gradient_accumulation_steps=accumulation, decay=decay
    )
    per_update = [
        seed_formula(k, BASE / (1 + decay * k), PEAK, STEP, "triangular2")
        for k in range(n // accumulation)
    ]
    assert_rel(
        recorded_rates(model),
        np.repeat(per_update, accumulation) / accumulation,
    )


@NOT_TORCH
def test_gradient_accumulation_with_steps_per_execution():
    model, opt = fit_recorder(
        48, False, steps_per_execution=8, gradient_accumulation_steps=4
    )
    per_update = reference_rates(12, BASE, PEAK, STEP, "triangular2")
    assert_rel(recorded_rates(model), np.repeat(per_update, 4) / 4)
    assert int(opt.clr_iterations) == 12


def test_ema_averages_the_weights_the_cycle_produced():
    # With use_ema and no overwrite frequency, fit ends by writing the
    # moving average into the model: compare it with the average of the
    # reference weight trajectory, computed here in float64.
    n, momentum = 32, 0.9
    model, opt = fit_recorder(
        n,
        False,
        steps_per_execution=spe(8),
        use_ema=True,
        ema_momentum=momentum,
    )
    rates = reference_rates(n, BASE, PEAK, STEP, "triangular2")
    weights = np.zeros(n)
    average = np.zeros(n)
    for t in range(n):
        weights[t] -= rates[t]
        m = 0.0 if t == 0 else momentum  # Keras: no averaging at step 0
        average = m * average + (1 - m) * weights
    final = keras.ops.convert_to_numpy(model.weights[0])[:, 0]
    assert_rel(final, average, rtol=1e-5, atol=1e-9)
    assert int(opt.clr_iterations) == n


@pytest.mark.parametrize("clipping", ["clipnorm", "global_clipnorm"])
def test_gradient_clipping_keeps_the_cycle(clipping):
    # Gradients 3 * e_t, clipped to norm 1: each update moves one weight by
    # exactly the rate (unclipped, it would be three times the rate).
    n = 30
    model = recorder_model(n)
    opt = co.SGD(learning_rate=BASE, clr=CLR, **{clipping: 1.0})
    model.compile(opt, linear_loss, steps_per_execution=spe(8))
    x, y = recorder_data(n, scale=3.0)
    model.fit(x, y, batch_size=1, shuffle=False, verbose=0)
    assert_rel(
        recorded_rates(model),
        reference_rates(n, BASE, PEAK, STEP, "triangular2"),
        rtol=1e-6,
    )


def adamw_reference(
    w0, grads, rates, weight_decay, beta_1=0.9, beta_2=0.999, epsilon=1e-7
):
    """Keras's AdamW in float64: decoupled decay, then the Adam step."""
    w = np.array(w0, dtype=np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(grads, rates)):
        w = w - w * weight_decay * lr
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        alpha = lr * np.sqrt(1 - beta_2 ** (t + 1)) / (1 - beta_1 ** (t + 1))
        w = w - m * alpha / (np.sqrt(v) + epsilon)
    return w


@pytest.mark.parametrize(
    "jit_compile",
    [False, pytest.param(True, marks=pytest.mark.tensorflow_only)],
)
def test_adamw_weight_decay_uses_the_cyclic_rate(jit_compile):
    n, weight_decay = 24, 0.5
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=6)
    grads = rng.normal(size=(n, 6))
    weight = keras.Variable(w0.astype("float32"))
    opt = co.AdamW(learning_rate=BASE, weight_decay=weight_decay, clr=CLR)

    def step(g):
        opt.apply_gradients([(tensor(g), weight)])

    if BACKEND == "tensorflow":
        import tensorflow as tf

        step = tf.function(step, jit_compile=jit_compile)
    for g in grads.astype("float32"):
        step(g)
    rates = reference_rates(n, BASE, PEAK, STEP, "triangular2")
    expected = adamw_reference(w0, grads, rates, weight_decay)
    assert_rel(weight, expected, rtol=1e-5)
    # Against the base rate alone the decay would differ by far more.
    at_base = adamw_reference(w0, grads, np.full(n, BASE), weight_decay)
    assert np.max(np.abs(expected - at_base)) > 1e-2


def test_adamw_weight_decay_alone_follows_the_cycle():
    # Zero gradients: Adam's step is 0, and each update multiplies the
    # weight by (1 - weight_decay * rate_t) exactly.
    n, weight_decay = 30, 2.0
    weight = keras.Variable(np.ones(1, "float32"))
    opt = co.AdamW(learning_rate=BASE, weight_decay=weight_decay, clr=CLR)
    model_steps = []
    for _ in range(n):
        before = float(weight[0])
        opt.apply_gradients([(tensor(np.zeros(1, "float32")), weight)])
        model_steps.append((1 - float(weight[0]) / before) / weight_decay)
    assert_rel(
        model_steps,
        reference_rates(n, BASE, PEAK, STEP, "triangular2"),
        rtol=1e-4,
    )
