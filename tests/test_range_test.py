"""`lr_range_test`: sweep, smoothing, early stop, restore and suggestion."""

import sys

import keras
import numpy as np
import pytest
from helpers import BACKEND
from helpers import NOT_TORCH
from helpers import assert_rel
from helpers import seed_data
from helpers import seed_model
from keras import ops

import clr_optimizers as co

# Short sweeps on purpose: the inconclusive-suggestion warnings are expected.
pytestmark = pytest.mark.filterwarnings("ignore:The smoothed loss")


def least_squares(seed, n=256, d=8):
    """Linear regression data, and lambda: the largest eigenvalue of the
    Hessian of the mean squared error in (kernel, bias)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * np.geomspace(0.3, 3.0, d)
    y = x @ rng.normal(size=(d, 1)) + 1.0 + 0.1 * rng.normal(size=(n, 1))
    design = np.hstack([x, np.ones((n, 1))])
    hessian = 2.0 / n * design.T @ design
    lam = np.linalg.eigvalsh(hessian).max()
    return x.astype("float32"), y.astype("float32"), lam


def linear_model(d=8, optimizer=None):
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer or keras.optimizers.SGD(), loss="mse")
    return model


@pytest.mark.parametrize(
    "sweep, low, high",
    [("linear", 0.0, 10.0), ("exponential", 1e-4, 100.0)],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_suggested_max_lr_is_below_the_divergence_limit(sweep, low, high, seed):
    # Full-batch gradient descent on least squares diverges above 2/lambda.
    x, y, lam = least_squares(seed)
    keras.utils.set_random_seed(seed)
    model = linear_model()
    result = co.lr_range_test(
        model,
        x,
        y,
        min_lr=low / lam,
        max_lr=high / lam,
        steps=100,
        batch_size=len(x),
        sweep=sweep,
        verbose=0,
    )
    assert result.diverged
    assert len(result.losses) < 100
    base_lr, max_lr = result.suggest("minimum")
    assert 0.1 / lam <= max_lr <= 2.0 / lam
    assert base_lr == pytest.approx(max_lr / 4)
    # The last five points (here the blow-up) are skipped, as fastai does,
    # so the minimum looked at is at most the overall one.
    assert max_lr <= result.min_loss_lr / 10 * (1 + 1e-6)
    # The default rule's pair is what suggested_* give.
    assert (result.suggested_base_lr, result.suggested_max_lr) == (
        result.suggestions[co.LRRangeTestResult.DEFAULT_RULE]
    )
    for rule in ("minimum", "minimum_third", "valley", "steepest"):
        base_lr, max_lr = result.suggestions[rule]
        assert 0 < max_lr <= result.learning_rates[-1]
        assert base_lr == pytest.approx(max_lr / 4)


def test_linear_and_exponential_sweeps():
    x, y, _ = least_squares(0)
    common = dict(steps=7, batch_size=64, divergence_factor=None, verbose=0)
    linear = co.lr_range_test(
        linear_model(), x, y, min_lr=0.0, max_lr=0.03, **common, sweep="linear"
    )
    np.testing.assert_array_equal(
        linear.learning_rates,
        np.float32([0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03]),
    )
    exponential = co.lr_range_test(
        linear_model(),
        x,
        y,
        min_lr=1e-6,
        max_lr=1.0,
        sweep="exponential",
        **common,
    )
    np.testing.assert_array_equal(
        exponential.learning_rates, np.float32(10.0 ** np.arange(-6, 1))
    )
    assert exponential.sweep == "exponential"


def unit_gradient_model(optimizer):
    """One weight w, loss = w: each step lowers w by exactly its rate."""
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(
        optimizer=optimizer, loss=lambda y_true, y_pred: ops.sum(y_pred, -1)
    )
    return model


@pytest.mark.parametrize(
    "optimizer",
    [
        keras.optimizers.SGD(learning_rate=0.5),
        co.SGD(learning_rate=0.5, clr={"step_size": 3, "max_lr": 2.0}),
        keras.optimizers.SGD(
            learning_rate=keras.optimizers.schedules.ExponentialDecay(
                0.5, 1, 0.5
            )
        ),
        keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()),
    ],
    ids=["sgd", "clr_sgd", "schedule_sgd", "loss_scale_sgd"],
)
def test_applies_the_swept_rates(optimizer):
    # The loss measured after step i is w = -(rate_0 + ... + rate_i): the
    # optimizer's own rate, cycle or schedule is bypassed.
    model = unit_gradient_model(optimizer)
    x, y = np.ones((8, 1), "float32"), np.zeros((8, 1), "float32")
    result = co.lr_range_test(
        model,
        x,
        y,
        min_lr=0.01,
        max_lr=0.1,
        steps=10,
        batch_size=8,
        beta=0.0,
        verbose=0,
        sweep="linear",
    )
    assert_rel(result.raw_losses, -np.cumsum(result.learning_rates), rtol=1e-6)
    assert_rel(result.losses, result.raw_losses)
    assert model.get_weights()[0][0, 0] == 0.0
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 0
    if isinstance(optimizer, co.SGD):
        assert optimizer.clr_iterations.numpy() == 0


@NOT_TORCH
def test_model_compiled_with_steps_per_execution():
    model = unit_gradient_model(keras.optimizers.SGD())
    model.compile(
        optimizer=keras.optimizers.SGD(),
        loss=lambda y_true, y_pred: ops.sum(y_pred, -1),
        steps_per_execution=4,
    )
    x, y = np.ones((8, 1), "float32"), np.zeros((8, 1), "float32")
    result = co.lr_range_test(
        model,
        x,
        y,
        min_lr=0.01,
        max_lr=0.1,
        steps=6,
        batch_size=8,
        beta=0.0,
        verbose=0,
        sweep="linear",
    )
    assert_rel(result.raw_losses, -np.cumsum(result.learning_rates), rtol=1e-6)


def constant_loss_model(optimizer=None):
    """The loss of a batch is the mean of its targets, whatever the rate."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(),
        loss=lambda y_true, y_pred: (
            ops.mean(y_true, -1) + 0.0 * ops.sum(y_pred, -1)
        ),
    )
    return model


def run_on_losses(losses, **kwargs):
    """Range test whose batch i has loss losses[i] (batches of 1)."""
    y = np.asarray(losses, "float32").reshape(-1, 1)
    x = np.zeros_like(y)
    kwargs.setdefault("steps", len(losses) - 1)
    return co.lr_range_test(
        constant_loss_model(),
        x,
        y,
        min_lr=0.0,
        max_lr=0.1,
        batch_size=1,
        shuffle=False,
        verbose=0,
        **kwargs,
        sweep="linear",
    )


def test_bias_corrected_moving_average():
    # Batch 0 is the forward pass of the first step (before any update);
    # batches 1, 2, 3 give the losses after steps 0, 1, 2.
    result = run_on_losses(
        [9.0, 4.0, 2.0, 6.0], beta=0.5, divergence_factor=None
    )
    np.testing.assert_allclose(result.raw_losses, [4.0, 2.0, 6.0])
    # avg_k = 0.5 * avg_{k-1} + 0.5 * loss_k, from 0; divided by 1 - 0.5**k:
    # avg: 2, 2, 4 -> 2 / 0.5 = 4, 2 / 0.75, 4 / 0.875.
    np.testing.assert_allclose(result.losses, [4.0, 8 / 3, 32 / 7], rtol=1e-7)
    # Not averaged from zero: the first smoothed loss is the first loss.
    assert result.losses[0] == 4.0


def test_default_smoothing_on_a_constant_loss_is_the_constant():
    result = run_on_losses([3.0] * 30, divergence_factor=None)
    np.testing.assert_allclose(result.losses, 3.0, rtol=1e-6)


def test_stops_once_the_loss_exceeds_four_times_the_best():
    losses = [1.0, 1.0, 0.5, 0.6, 1.9, 2.1, 1.0, 1.0, 1.0]
    result = run_on_losses(losses, beta=0.0)
    # Best 0.5; 1.9 is below 4 * 0.5 = 2, 2.1 above: stop there.
    assert result.diverged
    np.testing.assert_allclose(result.raw_losses, [1.0, 0.5, 0.6, 1.9, 2.1])
    assert len(result.learning_rates) == 5
    assert result.min_loss_lr == result.learning_rates[1]

    result = run_on_losses(losses, beta=0.0, divergence_factor=None)
    assert not result.diverged
    assert len(result.losses) == 8


def test_stops_on_a_non_finite_loss():
    with pytest.warns(UserWarning, match="lowest at the first rate"):
        result = run_on_losses([1.0, 1.0, np.inf, 1.0, 1.0], beta=0.0)
    assert result.diverged
    assert len(result.losses) == 2
    assert not np.isfinite(result.losses[-1])


def test_restores_weights_and_optimizer_state():
    x, y = seed_data(n=128)
    model = keras.Sequential(
        [
            keras.Input((15,)),
            keras.layers.Dense(10, activation="relu"),
            keras.layers.BatchNormalization(),
            # PyTorch's dropout draws from torch's global generator, which no
            # Keras variable holds: there two fits from the same variables
            # differ, range test or not.
            *([keras.layers.Dropout(0.3)] if BACKEND != "torch" else []),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.003),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    variables = list(model.variables) + list(model.optimizer.variables)
    before = [np.array(v.numpy()) for v in variables]
    paths = [v.path for v in variables]

    result = co.lr_range_test(
        model,
        x,
        y,
        min_lr=1e-5,
        max_lr=10.0,
        steps=30,
        batch_size=32,
        sweep="exponential",
        verbose=0,
    )
    assert len(result.losses) > 1

    variables_after = list(model.variables) + list(model.optimizer.variables)
    assert [v.path for v in variables_after] == paths
    for value, variable in zip(before, variables_after):
        np.testing.assert_array_equal(value, variable.numpy())

    # Training afterwards equals training from the restored state without a
    # range test: the rate override is gone from the traced train function.
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    after_test = model.get_weights()
    for value, variable in zip(before, variables):
        variable.assign(value)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(after_test, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unbuilt_optimizer_is_left_as_new():
    x, y, _ = least_squares(0)
    model = linear_model(optimizer=keras.optimizers.Adam(learning_rate=0.01))
    weights = model.get_weights()
    co.lr_range_test(
        model,
        x,
        y,
        min_lr=1e-4,
        max_lr=1.0,
        steps=10,
        batch_size=64,
        verbose=0,
        sweep="linear",
    )
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    optimizer = model.optimizer
    assert int(optimizer.iterations.numpy()) == 0
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(0.01)
    for variable in optimizer.variables[2:]:  # Adam's moments.
        assert not np.any(variable.numpy())


def test_records_accuracy_when_tracked():
    x, y = seed_data(n=128)
    model = seed_model()
    model.compile(
        optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"]
    )
    result = co.lr_range_test(
        model,
        x,
        y,
        min_lr=1e-3,
        max_lr=1.0,
        steps=12,
        batch_size=32,
        divergence_factor=None,
        verbose=0,
        sweep="linear",
    )
    assert result.accuracy_name == "accuracy"
    assert result.accuracies.shape == result.losses.shape == (12,)
    assert np.all((result.raw_accuracies >= 0) & (result.raw_accuracies <= 1))

    model = seed_model()
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    result = co.lr_range_test(
        model,
        x,
        y,
        min_lr=1e-3,
        max_lr=1.0,
        steps=3,
        batch_size=32,
        verbose=0,
        sweep="linear",
    )
    assert result.accuracies is None and result.accuracy_name is None


def test_dataset_input_and_progress_bar(capsys):
    import tensorflow as tf

    x, y, _ = least_squares(0, n=64)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    result = co.lr_range_test(
        linear_model(),
        dataset,
        min_lr=1e-4,
        max_lr=0.01,
        steps=10,
        verbose=1,
        sweep="linear",
    )
    assert len(result.losses) == 10
    out = capsys.readouterr().out
    assert "10/10" in out and "lr:" in out and "loss:" in out


def test_warns_when_the_loss_is_still_falling():
    x, y, lam = least_squares(0)
    with pytest.warns(UserWarning, match="still falling"):
        result = co.lr_range_test(
            linear_model(),
            x,
            y,
            min_lr=0.0,
            max_lr=0.5 / lam,
            steps=10,
            batch_size=len(x),
            verbose=0,
            sweep="linear",
        )
    assert not result.diverged


def test_plot(tmp_path, monkeypatch):
    result = run_on_losses([5.0, 4.0, 3.0, 2.5, 2.4, 2.6, 9.0], beta=0.0)
    path = tmp_path / "range.png"
    figure = result.plot(path)
    assert path.stat().st_size > 0
    assert figure.axes[-1].get_xlabel() == "learning rate"
    # Every rule that found a pair is marked, the default one named so.
    labels = figure.axes[0].get_legend_handles_labels()[1]
    default = co.LRRangeTestResult.DEFAULT_RULE
    assert any(label.startswith(f"{default} (default) max") for label in labels)
    for rule in ("minimum", "minimum_third", "valley", "steepest"):
        assert any(label.startswith(f"{rule}") for label in labels)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        result.plot()


def test_bad_inputs():
    import tensorflow as tf

    x, y, _ = least_squares(0, n=16)
    model = linear_model()

    def call(**kwargs):
        args = dict(min_lr=1e-3, max_lr=1.0, steps=5, batch_size=4, verbose=0)
        args.update(kwargs)
        target = args.pop("model", model)
        return co.lr_range_test(target, x, y, **args)

    message = r"Received: min_lr=0\.1, max_lr=0\.01"
    with pytest.raises(ValueError, match=message):
        call(min_lr=0.1, max_lr=0.01)
    with pytest.raises(ValueError, match=r"Received: min_lr=0\.1, max_lr=0\.1"):
        call(min_lr=0.1, max_lr=0.1)
    with pytest.raises(ValueError, match="Received: steps=1"):
        call(steps=1)
    with pytest.raises(ValueError, match="Received: steps=2.5"):
        call(steps=2.5)
    with pytest.raises(ValueError, match="Received: min_lr=-1.0"):
        call(min_lr=-1.0)
    with pytest.raises(ValueError, match="Received: sweep='cosine'"):
        call(sweep="cosine")
    with pytest.raises(ValueError, match="Received: min_lr=0.0"):
        call(min_lr=0.0, sweep="exponential")
    with pytest.raises(ValueError, match="Received: beta=1"):
        call(beta=1)
    with pytest.raises(ValueError, match="Received: divergence_factor=0.5"):
        call(divergence_factor=0.5)
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        call(batch_size=0)
    uncompiled = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="must be compiled"):
        call(model=uncompiled)
    with pytest.raises(TypeError, match="Received: model='model'"):
        call(model="model")
    with pytest.raises(ValueError, match="same number of samples"):
        co.lr_range_test(
            model,
            x,
            y[:5],
            min_lr=1e-3,
            max_lr=1.0,
            steps=5,
            verbose=0,
            sweep="linear",
        )
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    with pytest.raises(ValueError, match="Received: batch_size=4"):
        co.lr_range_test(
            model,
            dataset,
            min_lr=1e-3,
            max_lr=1.0,
            steps=2,
            batch_size=4,
            verbose=0,
            sweep="linear",
        )
    with pytest.raises(ValueError, match="ran out"):
        co.lr_range_test(
            model,
            iter([(x, y)]),
            min_lr=1e-3,
            max_lr=1.0,
            steps=3,
            verbose=0,
            sweep="linear",
        )


def test_suggestions_of_every_rule():
    losses = [9.0] + list(np.linspace(5.0, 1.0, 20)) + [1.5, 3.0, 6.0, 9.0]
    result = run_on_losses(losses, beta=0.0, divergence_factor=None)
    assert list(result.suggestions) == list(co.LRRangeTestResult.RULES)
    assert result.suggest("valley") == result.suggestions["valley"]
    assert result.suggest() == (
        result.suggested_base_lr,
        result.suggested_max_lr,
    )
    # No accuracy metric: the paper's rule has nothing to read.
    assert all(np.isnan(result.suggestions["accuracy"]))
    with pytest.raises(
        ValueError,
        match="'minimum', 'minimum_third', 'valley', 'steepest', "
        "'accuracy'. Received: rule='fast'",
    ):
        result.suggest("fast")


def test_the_suggested_pair_is_the_minimum_third_rule():
    # The default rule is `minimum_third`, the one the benchmark's rule
    # study on its development tasks scored best. Losses after steps 0..23
    # (beta 0: no smoothing): falling 5.0 -> 1.0 over steps 0..19, then
    # rising. trim(24) keeps indices 2..18 (a tenth, 2, at the start; 5 at
    # the end), so the lowest loss looked at is step 18's, at the rate
    # 0.1 * 18 / 23 (linear sweep 0 ... 0.1 over 24 steps): max_lr is a
    # third of it (`minimum`: a tenth), base_lr a quarter of that.
    losses = [9.0] + list(np.linspace(5.0, 1.0, 20)) + [1.5, 3.0, 6.0, 9.0]
    result = run_on_losses(losses, beta=0.0, divergence_factor=None)
    assert co.LRRangeTestResult.DEFAULT_RULE == "minimum_third"
    assert len(result.learning_rates) == 24
    assert result.suggested_max_lr == pytest.approx(0.1 * 18 / 23 / 3)
    assert result.suggested_base_lr == pytest.approx(0.1 * 18 / 23 / 12)
    assert result.suggest() == result.suggest("minimum_third")
    assert result.suggest("minimum") == pytest.approx(
        (0.1 * 18 / 23 / 40, 0.1 * 18 / 23 / 10)
    )


def test_validation_data_gives_the_held_out_batch_loss_after_each_step():
    # Full-batch gradient descent on least squares, replayed in float64: the
    # i-th loss is the held-out batch's loss with the weights after step i.
    x, y, lam = least_squares(0, n=64)
    x_val, y_val, _ = least_squares(1, n=32)
    keras.utils.set_random_seed(0)
    model = linear_model()
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    result = co.lr_range_test(
        model,
        x,
        y,
        min_lr=0.01 / lam,
        max_lr=0.5 / lam,
        steps=8,
        batch_size=len(x),
        shuffle=False,
        beta=0.0,
        verbose=0,
        validation_data=(x_val, y_val),
        sweep="linear",
    )
    assert result.validation
    expected = []
    for rate in result.learning_rates:
        residual = x @ kernel + bias - y
        kernel = kernel - rate * 2 * x.T @ residual / len(x)
        bias = bias - rate * 2 * residual.mean(0)
        expected.append(np.mean((x_val @ kernel + bias - y_val) ** 2))
    np.testing.assert_allclose(result.raw_losses, expected, rtol=1e-4)
    np.testing.assert_allclose(result.losses, expected, rtol=1e-4)
    with pytest.raises(ValueError, match="validation_data"):
        co.lr_range_test(
            model,
            x,
            y,
            min_lr=1e-3,
            max_lr=1.0,
            steps=3,
            verbose=0,
            validation_data=x_val,
            sweep="linear",
        )


def test_validation_accuracy_is_recorded():
    x, y = seed_data(n=128)
    x_val, y_val = seed_data(n=40, seed=1)
    model = seed_model()
    model.compile(
        optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"]
    )
    result = co.lr_range_test(
        model,
        x,
        y,
        min_lr=1e-3,
        max_lr=1.0,
        steps=6,
        batch_size=32,
        divergence_factor=None,
        verbose=0,
        validation_data=(x_val, y_val),
        sweep="linear",
    )
    assert result.accuracy_name == "accuracy"
    assert result.raw_accuracies.shape == (6,)
    # Accuracy of 40 samples: a multiple of 1/40.
    np.testing.assert_allclose(
        result.raw_accuracies * 40,
        np.round(result.raw_accuracies * 40),
        atol=1e-4,
    )


# Reproducibility: keras.utils.set_random_seed.


def dropout_mlp():
    """A small MLP with dropout, compiled with momentum SGD and accuracy."""
    keras.utils.set_random_seed(123)
    model = keras.Sequential(
        [
            keras.Input((15,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(momentum=0.9),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def shuffled_range_test(model, x, y, **kwargs):
    """16 steps over 6 batches a pass: the data is reshuffled twice."""
    return co.lr_range_test(
        model,
        x,
        y,
        min_lr=1e-3,
        max_lr=3.0,
        steps=16,
        batch_size=16,
        sweep="exponential",
        divergence_factor=None,
        verbose=0,
        **kwargs,
    )


def test_set_random_seed_makes_the_range_test_reproducible():
    x, y = seed_data(n=96)
    model = dropout_mlp()
    before = [np.array(v.numpy()) for v in model.variables]
    keras.utils.set_random_seed(0)
    first = shuffled_range_test(model, x, y)
    # Restored: weights, dropout's seed state, optimizer.
    for value, variable in zip(before, model.variables):
        np.testing.assert_array_equal(value, variable.numpy())
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 0
    keras.utils.set_random_seed(0)
    second = shuffled_range_test(model, x, y)

    assert len(first.losses) == len(second.losses) == 16
    np.testing.assert_array_equal(first.learning_rates, second.learning_rates)
    np.testing.assert_array_equal(first.raw_losses, second.raw_losses)
    np.testing.assert_array_equal(first.losses, second.losses)
    np.testing.assert_array_equal(first.raw_accuracies, second.raw_accuracies)
    for rule in co.LRRangeTestResult.RULES:
        np.testing.assert_array_equal(first.suggest(rule), second.suggest(rule))
    assert (first.suggested_base_lr, first.suggested_max_lr) == (
        second.suggested_base_lr,
        second.suggested_max_lr,
    )


def test_another_random_seed_shuffles_in_another_order():
    # No dropout: the order of the batches is the only randomness.
    x, y = seed_data(n=96)
    model = seed_model()
    model.compile(optimizer="sgd", loss="binary_crossentropy")

    def run(seed):
        keras.utils.set_random_seed(seed)
        return shuffled_range_test(model, x, y).raw_losses

    zero, one, zero_again = run(0), run(1), run(0)
    np.testing.assert_array_equal(zero, zero_again)
    assert not np.array_equal(zero, one)
    # The first forward pass (before any update) is not recorded: every
    # recorded loss is that of a shuffled batch, so the orders differ from
    # the unshuffled one too.
    unshuffled = shuffled_range_test(model, x, y, shuffle=False).raw_losses
    assert not np.array_equal(zero, unshuffled)
    # An explicit seed still decides on its own.
    keras.utils.set_random_seed(0)
    seeded = shuffled_range_test(model, x, y, seed=7).raw_losses
    keras.utils.set_random_seed(1)
    np.testing.assert_array_equal(
        seeded, shuffled_range_test(model, x, y, seed=7).raw_losses
    )


# Validation on a dataset: validation_steps.


def replay_least_squares(x, y, kernel, bias, rates):
    """Full-batch gradient descent on the mean squared error, in float64:
    the (kernel, bias) after each update at `rates`."""
    for rate in rates:
        residual = x @ kernel + bias - y
        kernel = kernel - rate * 2 * x.T @ residual / len(x)
        bias = bias - rate * 2 * residual.mean(0)
        yield kernel, bias


@pytest.mark.parametrize("validation_steps", [2, 3])
def test_validation_dataset_loss_is_the_mean_of_its_first_batches(
    validation_steps,
):
    import tensorflow as tf

    x, y, lam = least_squares(0, n=64)
    x_val, y_val, _ = least_squares(1, n=40)
    # Batches of 12, 12, 12 and 4 samples.
    dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(12)
    first_batches = list(dataset.take(validation_steps).as_numpy_iterator())
    keras.utils.set_random_seed(0)
    model = linear_model()
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    result = co.lr_range_test(
        model,
        x,
        y,
        min_lr=0.01 / lam,
        max_lr=0.5 / lam,
        steps=6,
        batch_size=len(x),
        shuffle=False,
        beta=0.0,
        verbose=0,
        validation_data=dataset,
        validation_steps=validation_steps,
        sweep="linear",
    )
    assert result.validation
    held_x = np.concatenate([b[0] for b in first_batches]).astype(np.float64)
    held_y = np.concatenate([b[1] for b in first_batches]).astype(np.float64)
    assert len(held_x) == 12 * validation_steps
    expected = [
        np.mean((held_x @ k + b - held_y) ** 2)
        for k, b in replay_least_squares(
            x, y, kernel, bias, result.learning_rates
        )
    ]
    np.testing.assert_allclose(result.raw_losses, expected, rtol=1e-4)


def test_validation_dataset_matches_model_evaluate():
    # A one-shot generator of batches of 20, 20 and 10 samples, all taken
    # (validation_steps=None). Each recorded loss and accuracy is what
    # model.evaluate gives on those batches after the same SGD updates,
    # replayed on the restored model.
    x, y = seed_data(n=64)
    x_val, y_val = seed_data(n=50, seed=1)

    def held_out():
        for start, stop in [(0, 20), (20, 40), (40, 50)]:
            yield x_val[start:stop], y_val[start:stop]

    model = seed_model()
    model.compile(
        optimizer=keras.optimizers.SGD(),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    weights = model.get_weights()
    result = co.lr_range_test(
        model,
        x,
        y,
        min_lr=0.05,
        max_lr=0.5,
        steps=4,
        batch_size=len(x),
        shuffle=False,
        beta=0.0,
        divergence_factor=None,
        verbose=0,
        validation_data=held_out(),
        sweep="linear",
    )
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for i, rate in enumerate(result.learning_rates):
        model.optimizer.learning_rate = float(rate)
        model.train_on_batch(x, y)
        reference = model.evaluate(
            held_out(), steps=3, verbose=0, return_dict=True
        )
        assert_rel(result.raw_losses[i], reference["loss"], rtol=1e-5)
        assert_rel(result.raw_accuracies[i], reference["accuracy"], rtol=1e-6)


def test_validation_steps_errors():
    import tensorflow as tf

    x, y, _ = least_squares(0, n=16)
    model = linear_model()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)

    def call(validation_data, validation_steps):
        return co.lr_range_test(
            model,
            x,
            y,
            min_lr=1e-3,
            max_lr=0.01,
            steps=3,
            batch_size=4,
            verbose=0,
            validation_data=validation_data,
            validation_steps=validation_steps,
            sweep="linear",
        )

    with pytest.raises(
        ValueError,
        match=r"`validation_steps` applies only when `validation_data` is a "
        r"dataset .*Received: validation_steps=2 with validation_data None",
    ):
        call(None, 2)
    with pytest.raises(
        ValueError,
        match=r"otherwise it must be None\. Received: validation_steps=2 "
        r"with validation_data a single batch \(a tuple\)",
    ):
        call((x, y), 2)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(
            ValueError,
            match=r"`validation_steps` must be None or an integer >= 1 .*"
            rf"Received: validation_steps={bad!r}",
        ):
            call(dataset, bad)
    with pytest.raises(
        ValueError,
        match=r"`validation_data` holds 4 batches: `validation_steps` must "
        r"be at most as many\. Received: validation_steps=5",
    ):
        call(dataset, 5)
    with pytest.raises(ValueError, match="must hold at least one"):
        call(iter([]), None)
    with pytest.raises(
        ValueError, match=r"`validation_steps` must be given for an endless"
    ):
        call(dataset.repeat(), None)
    for bad in ({"x": x}, "data", (x, y, None, None)):
        with pytest.raises(
            ValueError,
            match=r"`validation_data` must be None, a batch .* or a dataset",
        ):
            call(bad, None)
    # An endless dataset with validation_steps runs.
    result = call(dataset.repeat(), 2)
    assert result.validation and len(result.losses) == 3


# Gradient accumulation: one step is one applied update.


class CountingBatches:
    """An endless iterable of the same batch, counting the batches drawn."""

    def __init__(self, x, y):
        self.batch, self.drawn = (x, y), 0

    def __iter__(self):
        while True:
            self.drawn += 1
            yield self.batch


@pytest.mark.parametrize("accumulated_before", [0, 1])
def test_each_step_is_one_update_under_gradient_accumulation(
    accumulated_before,
):
    # Loss w, gradient 1 on every batch: each applied update (the mean of 3
    # accumulated gradients) lowers w by exactly its rate, so the loss after
    # step i is -(rate_0 + ... + rate_i), with the sweep's rates.
    model = unit_gradient_model(
        keras.optimizers.SGD(learning_rate=0.5, gradient_accumulation_steps=3)
    )
    x, y = np.ones((8, 1), "float32"), np.zeros((8, 1), "float32")
    for _ in range(accumulated_before):
        # Accumulates a gradient without applying it: w stays 0.
        model.train_on_batch(x, y)
    assert model.get_weights()[0][0, 0] == 0.0
    state = [np.array(v.numpy()) for v in model.optimizer.variables]
    batches = CountingBatches(x, y)
    result = co.lr_range_test(
        model,
        batches,
        min_lr=0.01,
        max_lr=0.1,
        steps=10,
        beta=0.0,
        verbose=0,
        sweep="linear",
    )
    np.testing.assert_array_equal(
        result.learning_rates, np.float32(np.linspace(0.01, 0.1, 10))
    )
    assert_rel(result.raw_losses, -np.cumsum(result.learning_rates), rtol=1e-6)
    # 11 updates of 3 batches (the last one measures the last loss); the
    # first completes the accumulation in progress.
    assert batches.drawn == 11 * 3 - accumulated_before
    assert model.get_weights()[0][0, 0] == 0.0
    for value, variable in zip(state, model.optimizer.variables):
        np.testing.assert_array_equal(value, variable.numpy())


def test_accumulated_step_loss_is_the_mean_over_its_batches():
    # The loss after an update is the sample-weighted mean over the next
    # update's 2 batches, which all see the same weights: with the loss
    # mean(y_true), batches of 3 samples with targets 1 and of 1 sample
    # with target 5 give (3 * 1 + 1 * 5) / 4 = 2.
    model = constant_loss_model(
        keras.optimizers.SGD(gradient_accumulation_steps=2)
    )
    pair = [
        (np.zeros((3, 1), "float32"), np.ones((3, 1), "float32")),
        (np.zeros((1, 1), "float32"), np.full((1, 1), 5.0, "float32")),
    ]
    result = co.lr_range_test(
        model,
        iter(pair * 10),
        min_lr=0.0,
        max_lr=0.1,
        steps=4,
        beta=0.0,
        verbose=0,
        sweep="linear",
    )
    np.testing.assert_allclose(result.raw_losses, [2.0] * 4, rtol=1e-6)
