"""`find_max_lr`: what it spends, what each trial trains, what it chooses,
and that it leaves the model as it found it."""

import math
import random
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import clr_optimizers as co

# 320 samples, the last 64 held out: 8 batches of 32 an epoch, 15 epochs.
SAMPLES, HELD_OUT, BATCH, EPOCHS = 320, 64, 32, 15
RUN = EPOCHS * (SAMPLES - HELD_OUT) // BATCH  # 120 updates
# What a budget of 2 runs spends, derived by hand (see find_max_lr's
# docstring): 240 updates; a range test of 30 steps (a tenth of the budget,
# at least 30) and its extra update; first-rung trials of (240 - 31) // 12.
FIRST, SECOND = 17, 51


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((SAMPLES, 6)).astype("float32")
    w = rng.standard_normal((6, 1)).astype("float32")
    y = x @ w + 0.3 * rng.standard_normal((SAMPLES, 1)).astype("float32")
    return x, y


def make_model(optimizer=None, dropout=False, seed=0):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((6,)), keras.layers.Dense(16, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(0.2, seed=seed))
    layers.append(keras.layers.Dense(1))
    model = keras.Sequential(layers)
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(momentum=0.9),
        loss="mse",
        metrics=["mae"],
    )
    return model


def search(model, x, y, **kwargs):
    settings = {
        "epochs": EPOCHS,
        "batch_size": BATCH,
        "validation_split": HELD_OUT / SAMPLES,
        "seed": 7,
        "verbose": 0,
    }
    settings.update(kwargs)
    return co.find_max_lr(model, x, y, **settings)


def state(model):
    """Every variable of the model, its optimizer and its metrics, by path."""
    groups = {
        "model": model.variables,
        "optimizer": model.optimizer.variables,
        "metrics": model.metrics_variables,
    }
    return {
        (group, v.path): np.array(keras.ops.convert_to_numpy(v))
        for group, variables in groups.items()
        for v in variables
    }


def assert_same_state(now, then):
    """`now` holds `then`'s values; any variable it adds is a fresh
    optimizer slot or metric total (zeros), as a first `fit` builds it."""
    for key, value in then.items():
        np.testing.assert_array_equal(now[key], value, err_msg=str(key))
    for key in set(now) - set(then):
        assert key[0] in ("optimizer", "metrics"), key
        np.testing.assert_array_equal(now[key], 0, err_msg=str(key))


def assert_trained_alike(a, b):
    """Two models of the same structure hold the same values."""
    one, other = list(state(a).values()), list(state(b).values())
    assert len(one) == len(other)
    for x, y in zip(one, other):
        np.testing.assert_array_equal(x, y)


def assert_trial_lengths(trials):
    """Each trial applies its rung's updates, a diverged one stops early."""
    for trial in trials:
        planned = FIRST if trial.rung == 1 else SECOND
        if trial.diverged:
            assert 0 < trial.updates <= planned
        else:
            assert trial.updates == planned


def test_spends_the_planned_trials_within_the_budget():
    x, y = make_data()
    result = search(make_model(), x, y)
    assert result.run_updates == RUN
    rungs = [t.rung for t in result.trials]
    assert rungs == [1] * 6 + [2] * 2
    assert_trial_lengths(result.trials)
    swept = len(result.range_test.learning_rates) + 1
    assert result.cost == swept + sum(t.updates for t in result.trials)
    assert result.cost <= 2 * RUN


def test_candidates_and_choice_follow_the_formulas():
    x, y = make_data()
    result = search(make_model(), x, y)
    sweep = result.range_test
    # The top candidate, by the documented rule: the rate of the lowest
    # smoothed loss if it is 10% below the start (the median raw loss of
    # the first tenth), else the last rate before the loss rose 1/0.9 above.
    rates, losses = sweep.learning_rates, sweep.losses
    start = np.median(sweep.raw_losses[: max(1, len(losses) // 10)])
    if losses.min() <= 0.9 * start:
        top = rates[np.argmin(losses)]
    else:
        top = rates[np.flatnonzero(losses > start / 0.9)[0] - 1]
    first = result.trials[:6]
    np.testing.assert_allclose(
        [t.rate for t in first], [top / 10 ** (k / 2) for k in range(6)]
    )
    # The two lowest validation losses of the first rung go on, in order.
    order = sorted(range(6), key=lambda i: first[i].score)
    assert [t.rate for t in result.trials[6:]] == [
        first[i].rate for i in order[:2]
    ]
    best = min(result.trials[6:], key=lambda t: t.score)
    assert result.best_trial_rate == best.rate
    assert result.max_lr == pytest.approx(best.rate * (SECOND / RUN) ** 0.3)
    assert result.base_lr == pytest.approx(result.max_lr / 25)
    assert result.mode == "min" and result.monitor == "val_loss"


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: keras.optimizers.SGD(momentum=0.9),
        lambda: keras.optimizers.Adam(),
    ],
    ids=["sgd-momentum", "adam"],
)
def test_a_trial_trains_as_one_cycle_on_the_same_batches(optimizer):
    """The first trial's score equals an independent run: `fit` with a
    `OneCycle` of the trial's length and peak on the same batch order,
    scored by `evaluate` on the held-out samples."""
    x, y = make_data()
    model = make_model(optimizer())
    initial = model.get_weights()
    result = search(model, x, y)
    trial = result.trials[0]

    train = SAMPLES - HELD_OUT
    rng = np.random.default_rng(7)  # find_max_lr's seed
    order = np.concatenate([rng.permutation(train) for _ in range(3)])
    order = order[: trial.updates * BATCH]
    reference = make_model(optimizer())
    reference.set_weights(initial)
    reference.fit(
        x[order],
        y[order],
        batch_size=BATCH,
        shuffle=False,
        verbose=0,
        callbacks=[co.OneCycle(max_lr=trial.rate, total_steps=trial.updates)],
    )
    expected = reference.evaluate(
        x[train:], y[train:], batch_size=BATCH, verbose=0, return_dict=True
    )["loss"]
    assert trial.score == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("shuffle", [False, True])
def test_leaves_no_trace_and_a_fit_after_it_equals_one_without_it(shuffle):
    """seed, search, fit equals seed, fit: the same weights, optimizer and
    metric state, dropout included.

    A shuffled first `fit` of a model whose compiled loss and metrics are
    not built draws one more permutation on JAX and PyTorch (Keras builds
    them from a batch); the search builds them, so the shuffled case starts
    from models that `evaluate` has built.
    """
    x, y = make_data()
    plain = make_model(dropout=True)
    searched = make_model(dropout=True)
    if shuffle:
        for model in (plain, searched):
            model.evaluate(x[:BATCH], y[:BATCH], verbose=0)
    before = state(searched)

    keras.utils.set_random_seed(11)
    plain.fit(x, y, batch_size=BATCH, epochs=2, shuffle=shuffle, verbose=0)

    keras.utils.set_random_seed(11)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    search(searched, x, y, seed=None)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state[1])
    assert np.random.get_state()[2] == numpy_state[2]
    assert random.getstate() == python_state
    assert_same_state(state(searched), before)
    assert searched.optimizer.momentum == 0.9
    rate = keras.ops.convert_to_numpy(searched.optimizer.learning_rate)
    assert float(rate) == pytest.approx(0.01)
    searched.fit(x, y, batch_size=BATCH, epochs=2, shuffle=shuffle, verbose=0)
    assert_trained_alike(plain, searched)


def test_reproducible_under_set_random_seed():
    x, y = make_data()
    results = []
    for _ in range(2):
        keras.utils.set_random_seed(5)
        results.append(search(make_model(), x, y, seed=None))
    first, second = results
    assert [t.score for t in first.trials] == [t.score for t in second.trials]
    assert first.max_lr == second.max_lr


def test_counts_applied_updates_under_gradient_accumulation():
    x, y = make_data()
    sgd = keras.optimizers.SGD(momentum=0.9, gradient_accumulation_steps=2)
    result = search(make_model(sgd), x, y, epochs=2 * EPOCHS)
    assert result.run_updates == RUN  # 240 batches, 120 updates
    assert_trial_lengths(result.trials)
    assert result.cost <= 2 * RUN


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x) // BATCH

    def __getitem__(self, i):
        part = slice(i * BATCH, (i + 1) * BATCH)
        return self.x[part], self.y[part]


def test_takes_datasets_and_their_lengths():
    x, y = make_data()
    train, held_out = (
        slice(0, SAMPLES - HELD_OUT),
        slice(SAMPLES - HELD_OUT, None),
    )
    validation = (x[held_out], y[held_out])
    dataset = tf.data.Dataset.from_tensor_slices((x[train], y[train]))
    for data in (dataset.batch(BATCH), Batches(x[train], y[train])):
        result = co.find_max_lr(
            make_model(),
            data,
            epochs=EPOCHS,
            validation_data=validation,
            verbose=0,
        )
        assert result.run_updates == RUN
        assert math.isfinite(result.max_lr) and result.max_lr > 0
    validation_set = tf.data.Dataset.from_tensor_slices(validation).batch(16)
    endless = dataset.repeat().batch(BATCH)
    result = co.find_max_lr(
        make_model(),
        endless,
        epochs=EPOCHS,
        steps_per_epoch=8,
        validation_data=validation_set,
        verbose=0,
    )
    assert result.run_updates == RUN


def test_monitors_a_metric_that_is_better_higher():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SAMPLES, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    result = search(model, x, y, monitor="val_accuracy")
    assert result.mode == "max"
    best = max(result.trials[6:], key=lambda t: t.score)
    assert result.best_trial_rate == best.rate


def test_one_cycle_and_plot():
    pytest.importorskip("matplotlib")
    x, y = make_data()
    result = search(make_model(), x, y)
    callback = result.one_cycle()
    assert isinstance(callback, co.OneCycle)
    assert callback.max_lr == result.max_lr
    assert result.one_cycle(pct_start=0.3).pct_start == 0.3
    figure = result.plot()
    assert figure.axes[0].get_xscale() == "log"
    assert "max_lr" in repr(result)


def _generator(x, y):
    while True:
        yield x[:BATCH], y[:BATCH]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"epochs": None}, "pass `epochs`"),
        ({"epochs": 0}, "`epochs` must be an integer >= 1"),
        (
            {"validation_split": 0.0},
            "`validation_data` or a `validation_split`",
        ),
        ({"validation_split": 1.5}, "`validation_split` must be a number"),
        (
            {"validation_data": "both"},
            "Pass `validation_data` or `validation_split`, not both",
        ),
        ({"budget": 0}, "`budget` must be a finite number > 0"),
        ({"budget": 0.3}, "cannot search within its budget"),
        ({"monitor": "loss"}, "`monitor` must name a validation value"),
        ({"monitor": "val_accuracy"}, "must be one of the validation logs"),
        ({"mode": "up"}, "`mode` must be one of"),
        ({"verbose": 3}, "`verbose` must be 0, 1 or 2"),
        ({"x": "generator"}, "length of `x` is unknown"),
    ],
)
def test_bad_input_is_refused_with_what_is_allowed(change, match):
    x, y = make_data()
    model = make_model()
    before = state(model)
    change = dict(change)
    if change.get("validation_data") == "both":
        change["validation_data"] = (x[:8], y[:8])
    arguments = {"x": x, "y": y}
    if change.get("x") == "generator":
        arguments = {"x": _generator(x, y), "y": None}
        change.pop("x")
        change["validation_split"] = 0.0
        change["validation_data"] = (x[:8], y[:8])
        change["batch_size"] = None
    with pytest.raises(ValueError, match=match):
        search(model, **arguments, **change)
    assert_same_state(state(model), before)


def test_refuses_a_model_that_is_not_compiled_or_has_its_own_cycle():
    x, y = make_data()
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="must be compiled"):
        search(model, x, y)
    cyclic = co.SGD(clr={"mode": "triangular", "max_lr": 0.1, "step_size": 8})
    with pytest.raises(ValueError, match="cyclical learning rate"):
        search(make_model(cyclic), x, y)


def test_range_test_defaults_sweep_like_lr_find():
    """fastai's `lr_find`: 100 rates from 1e-7 to 10, exponentially."""
    x, y = make_data()
    result = co.lr_range_test(
        make_model(), x, y, divergence_factor=None, verbose=0
    )
    expected = 1e-7 * (10.0 / 1e-7) ** (np.arange(100) / 99)
    swept = len(result.learning_rates)
    assert swept == 100 or result.diverged
    assert swept > 50  # past 1e-3, where this model still trains
    np.testing.assert_allclose(
        result.learning_rates, expected[:swept], rtol=1e-6
    )
    assert result.sweep == "exponential"


def test_on_a_plateau_the_top_candidate_is_the_last_rate_before_the_rise():
    from clr_optimizers._peak._plan import candidate_top

    rates = np.geomspace(1e-7, 10.0, 18)
    flat = np.full(18, 2.3)
    flat[-3:] = [2.4, 2.6, 30.0]  # rises above 2.3 / 0.9 at the 17th
    # Noise puts the lowest loss at a tiny rate: on a plateau, meaningless.
    flat[2] = 2.25
    assert candidate_top(rates, flat, np.full(18, 2.3)) == rates[-3]
    falling = np.linspace(2.3, 0.5, 18)
    falling[-2:] = [0.4, 5.0]
    assert candidate_top(rates, falling, np.full(18, 2.3)) == rates[-2]
    # A fall of a fifth is a fall (more than a tenth): the lowest loss.
    shallow = np.full(18, 2.3)
    shallow[9], shallow[-1] = 0.8 * 2.3, 30.0
    assert candidate_top(rates, shallow, np.full(18, 2.3)) == rates[9]
    assert math.isnan(candidate_top(rates, np.full(18, np.nan), flat))


def test_warns_when_the_best_peak_is_an_edge_candidate():
    from clr_optimizers._peak._search import _warn_at_an_edge
    from clr_optimizers._peak._trials import Trial

    candidates = [0.1, 0.0316, 0.01]
    for rate, side in ((0.1, "highest"), (0.01, "lowest")):
        best = Trial(rate=rate, updates=10, score=0.5, rung=2, diverged=False)
        with pytest.warns(UserWarning, match=f"its {side} candidate"):
            _warn_at_an_edge(best, candidates)
    middle = Trial(rate=0.0316, updates=10, score=0.5, rung=2, diverged=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_at_an_edge(middle, candidates)
