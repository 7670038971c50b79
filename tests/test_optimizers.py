"""Every optimizer applies the cyclic rate of the formula, where and when it
should."""

import keras
import numpy as np
import pytest
from helpers import BACKEND
from helpers import FAR
from helpers import assert_rel
from helpers import needs_optimizer
from helpers import seed_data
from helpers import seed_formula
from helpers import seed_model
from helpers import synced
from helpers import tensor
from keras import ops

import clr_optimizers as co
import clr_optimizers._policy._clr_dict as schedule_module
from clr_optimizers._compat import INTRODUCED_IN
from clr_optimizers._compat import keras_version

BASE, PEAK, STEP = 0.001, 0.006, 2000
GAMMA = {"triangular": 1.0, "triangular2": 1.0, "exp_range": 0.9999999}
POSITIONS = [0, 1, 1000, 2000, 2999, 4000, 12345, 2**24 + 1, FAR + 3]
KERAS_NAMES = [
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Ftrl",
    "Lamb",
    "Lion",
    "Muon",
    "Nadam",
    "RMSprop",
    "SGD",
    "ScheduleFreeAdamW",
]


def clr_dict(mode, step_size=STEP, max_lr=PEAK):
    clr = {"mode": mode, "step_size": step_size, "max_lr": max_lr}
    if mode == "exp_range":
        clr["clr_gamma"] = GAMMA[mode]
    return clr


def reference(n, mode, base=BASE, peak=PEAK, step_size=STEP):
    return seed_formula(n, base, peak, step_size, mode, GAMMA[mode])


def test_one_class_per_keras_optimizer():
    offered = [
        name
        for name in KERAS_NAMES
        if keras_version() >= INTRODUCED_IN.get(name, ((3, 10),))[0]
    ]
    assert [cls.__name__ for cls in co.OPTIMIZERS] == offered
    for name in offered:
        cls = getattr(co, name)
        assert issubclass(cls, getattr(keras.optimizers, name))
        assert issubclass(cls, co.CyclicalLearningRateMixin)
        assert cls is co.with_clr(getattr(keras.optimizers, name))


@pytest.mark.parametrize("cls", co.OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("mode", co.MODES)
def test_every_optimizer_and_mode_applies_the_formula(cls, mode):
    opt = cls(learning_rate=BASE, clr=clr_dict(mode))
    weight = keras.Variable(np.full((4, 3), 0.5, "float32"))
    grad = np.full((4, 3), 0.25, "float32")
    for n in POSITIONS:
        opt.clr_iterations.assign(n)
        expected = reference(n, mode)
        assert_rel(opt.learning_rate, expected)
        opt.apply([tensor(grad)], [weight])
        assert_rel(opt.current_lr, expected)
        assert int(opt.clr_iterations) == n + 1
        assert np.all(np.isfinite(ops.convert_to_numpy(weight)))


def test_variables_exist_after_construction():
    opt = co.Adam(learning_rate=0.001, clr=clr_dict("triangular"))
    names = [v.name for v in opt.variables]
    assert names == [
        "iteration",
        "learning_rate",
        "max_lr",
        "step_size",
        "clr_iterations",
        "current_lr",
        "held_updates",
    ]
    assert opt.lr is opt._learning_rate
    assert float(opt.max_lr) == pytest.approx(PEAK)
    assert int(opt.step_size) == STEP
    assert int(opt.clr_iterations) == 0
    # Before any update: the rate the first update will apply, the base.
    assert float(opt.current_lr) == pytest.approx(BASE)
    assert "int" in opt.clr_iterations.dtype and "int" in opt.step_size.dtype


def test_lr_is_the_base_and_learning_rate_reads_the_next_rate():
    opt = co.SGD(lr=0.01, clr={"step_size": 4, "max_lr": 0.05})
    opt.clr_iterations.assign(2)
    assert_rel(opt.learning_rate, 0.03)
    opt.lr.assign(0.02)
    assert_rel(opt.learning_rate, 0.035)
    opt.learning_rate = 0.0
    assert float(opt.lr) == 0.0
    assert_rel(opt.learning_rate, 0.025)
    opt.lr = 0.01
    assert_rel(opt.lr, 0.01)
    assert float(opt.max_lr) == pytest.approx(0.05)


def test_sgd_step_is_minus_rate_times_gradient_in_fit():
    # Loss = mean(w . x) with x = 1: the gradient of w is exactly 1 each step,
    # so each step's weight change is exactly -rate.
    step_size, n_steps = 3, 20
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    opt = co.SGD(
        learning_rate=0.01,
        clr={"mode": "triangular2", "step_size": step_size, "max_lr": 0.05},
    )
    model.compile(opt, loss=lambda y_true, y_pred: ops.mean(y_pred))
    kernels = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda b, logs: kernels.append(
            float(synced(model).weights[0].numpy()[0, 0])
        )
    )
    x = np.ones((n_steps, 1), "float32")
    model.fit(
        x,
        x,
        batch_size=1,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[record],
    )
    kernels.append(float(model.weights[0].numpy()[0, 0]))
    deltas = np.diff(kernels)
    expected = [
        -seed_formula(n, 0.01, 0.05, step_size, "triangular2")
        for n in range(n_steps)
    ]
    assert_rel(deltas, expected, rtol=2e-5)  # differences of float32 weights
    assert int(opt.clr_iterations) == n_steps


def test_sgd_step_is_exactly_minus_rate_times_gradient():
    opt = co.SGD(learning_rate=0.001, clr=clr_dict("triangular", step_size=5))
    weight = keras.Variable(np.zeros(3, "float32"))
    grad = np.array([1.0, -2.0, 0.5], "float32")
    for n in range(23):
        weight.assign(np.zeros(3, "float32"))
        opt.apply([tensor(grad)], [weight])
        assert_rel(
            ops.convert_to_numpy(weight),
            -reference(n, "triangular", step_size=5) * grad,
        )


def test_adam_first_update_moves_by_the_cyclic_rate():
    # Bias correction acts after CLR: Adam's first step is rate * sign(g).
    opt = co.Adam(learning_rate=BASE, epsilon=1e-12, clr=clr_dict("triangular"))
    opt.clr_iterations.assign(STEP)  # the peak: rate == max_lr, far from base
    weight = keras.Variable(np.zeros(2, "float32"))
    grad = np.array([3.0, -0.5], "float32")
    opt.apply([tensor(grad)], [weight])
    assert int(opt.iterations) == 1
    # float32 bias-correction terms (1 - 0.999 and its square root) leave
    # a few 1e-6 of relative noise.
    assert_rel(ops.convert_to_numpy(weight), [-PEAK, PEAK], rtol=2e-5)
    # Bit for bit the step of Keras's Adam run at the cyclic rate.
    plain = keras.optimizers.Adam(learning_rate=PEAK, epsilon=1e-12)
    plain_weight = keras.Variable(np.zeros(2, "float32"))
    plain.apply([tensor(grad)], [plain_weight])
    np.testing.assert_array_equal(
        ops.convert_to_numpy(weight), ops.convert_to_numpy(plain_weight)
    )


def test_adamw_weight_decay_uses_the_cyclic_rate():
    wd = 0.1
    opt = co.AdamW(
        learning_rate=BASE, weight_decay=wd, clr=clr_dict("triangular")
    )
    opt.clr_iterations.assign(STEP // 2)
    rate = reference(STEP // 2, "triangular")
    weight = keras.Variable(np.ones(3, "float32"))
    opt.apply(
        [tensor(np.zeros(3, "float32"))], [weight]
    )  # zero gradient: decay only
    np.testing.assert_allclose(
        ops.convert_to_numpy(weight), 1 - wd * rate, rtol=1e-7
    )


def test_decay_lowers_the_bottom_and_keeps_the_peak():
    decay = 1e-3
    opt = co.SGD(
        learning_rate=0.01, decay=decay, clr={"step_size": 100, "max_lr": 0.05}
    )
    weight = keras.Variable(np.zeros(1, "float32"))
    for iterations, n in [
        (0, 0),
        (500, 0),
        (500, 100),
        (500, 50),
        (3000, 250),
        (10**6, 200),
    ]:
        opt.iterations.assign(iterations)
        opt.clr_iterations.assign(n)
        base = 0.01 / (1 + decay * iterations)
        assert_rel(opt.learning_rate, seed_formula(n, base, 0.05, 100))
        weight.assign([0.0])
        opt.apply([tensor(np.ones(1, "float32"))], [weight])
        assert_rel(
            -ops.convert_to_numpy(weight)[0], seed_formula(n, base, 0.05, 100)
        )
    # The peak stays at max_lr, however far the base has decayed.
    opt.iterations.assign(10**6)
    opt.clr_iterations.assign(100)
    assert_rel(opt.learning_rate, 0.05)


def test_decay_without_clr_is_keras2_time_based_decay():
    opt = co.SGD(learning_rate=0.1, decay=0.01)
    weight = keras.Variable(np.zeros(1, "float32"))
    for i in range(5):
        weight.assign([0.0])
        opt.apply([tensor(np.ones(1, "float32"))], [weight])
        assert_rel(-ops.convert_to_numpy(weight)[0], 0.1 / (1 + 0.01 * i))
    assert opt.max_lr is None and opt.clr_iterations is None


def test_range_change_and_reset_mid_run():
    opt = co.SGD(
        learning_rate=0.01,
        clr={"mode": "triangular2", "step_size": 3, "max_lr": 0.05},
    )
    weight = keras.Variable(np.zeros(1, "float32"))
    rates = []

    def step():
        weight.assign([0.0])
        opt.apply([tensor(np.ones(1, "float32"))], [weight])
        rates.append(-float(ops.convert_to_numpy(weight)[0]))

    for _ in range(8):
        step()
    opt.lr.assign(0.002)
    opt.max_lr.assign(0.02)
    opt.clr_iterations.assign(0)
    for _ in range(10):
        step()
    expected = [seed_formula(n, 0.01, 0.05, 3, "triangular2") for n in range(8)]
    expected += [
        seed_formula(n, 0.002, 0.02, 3, "triangular2") for n in range(10)
    ]
    assert_rel(rates, expected)
    assert int(opt.iterations) == 18  # the global count is not reset
    assert int(opt.clr_iterations) == 10


def test_step_size_can_change_mid_run():
    opt = co.SGD(learning_rate=0.01, clr={"step_size": 3, "max_lr": 0.05})
    opt.clr_iterations.assign(2)
    opt.step_size.assign(8)
    assert_rel(opt.learning_rate, seed_formula(2, 0.01, 0.05, 8))


@pytest.mark.tensorflow_only
def test_rate_is_computed_once_per_update(monkeypatch):
    import tensorflow as tf

    calls = []
    original = schedule_module.cycle_fraction

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(schedule_module, "cycle_fraction", counting)
    opt = co.AdamW(
        learning_rate=0.001, weight_decay=0.01, clr=clr_dict("exp_range")
    )
    weights = [keras.Variable(np.ones((3, 2), "float32")) for _ in range(6)]
    grads = [np.ones((3, 2), "float32")] * 6
    opt.build(weights)
    calls.clear()

    @tf.function
    def apply():
        opt.apply(grads, weights)

    apply()  # one trace, one evaluation of the formula for 6 variables
    assert len(calls) == 1
    apply()
    assert len(calls) == 1  # not retraced
    opt.max_lr.assign(0.01)
    opt.clr_iterations.assign(0)
    apply()
    assert len(calls) == 1  # assigning variables does not retrace
    assert_rel(opt.current_lr, 0.001)


def test_callbacks_read_the_cyclic_rate_in_fit():
    x, y = seed_data(64)
    model = seed_model()
    opt = co.Adam(learning_rate=BASE, clr=clr_dict("triangular", step_size=4))
    model.compile(opt, "binary_crossentropy")
    seen = []
    cb = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda b, logs: seen.append(
            (
                int(synced(model).optimizer.clr_iterations),
                float(opt.learning_rate),
            )
        )
    )
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[cb])
    assert [n for n, _ in seen] == list(range(16))
    assert_rel(
        [r for _, r in seen],
        [reference(n, "triangular", step_size=4) for n in range(16)],
    )


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=needs_optimizer(name)) for name in KERAS_NAMES],
)
def test_clr_none_is_exactly_the_keras_optimizer(name):
    x, y = seed_data(64)
    results = []
    for cls in (getattr(keras.optimizers, name), getattr(co, name)):
        model = seed_model(seed=1)
        opt = cls(learning_rate=0.01, name="opt")
        model.compile(opt, "binary_crossentropy")
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
        results.append(
            (
                model.get_weights(),
                [(tuple(v.shape), v.dtype) for v in opt.variables],
                opt.get_config(),
            )
        )
    (w_keras, v_keras, c_keras), (w_clr, v_clr, c_clr) = results
    for a, b in zip(w_keras, w_clr):
        np.testing.assert_array_equal(a, b)
    assert v_keras == v_clr
    assert c_clr == {**c_keras, "clr": None, "decay": 0.0}


def test_with_clr_on_a_user_optimizer():
    class DoubleStepSGD(keras.optimizers.Optimizer):
        def __init__(self, learning_rate=0.01, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)

        def update_step(self, gradient, variable, learning_rate):
            self.assign_sub(
                variable,
                2.0 * ops.cast(learning_rate, variable.dtype) * gradient,
            )

    cls = co.with_clr(
        DoubleStepSGD, name="DoubleStepSGD", package="clr_optimizers_tests"
    )
    assert co.with_clr(DoubleStepSGD) is cls
    assert issubclass(cls, DoubleStepSGD) and cls.__name__ == "DoubleStepSGD"
    assert (
        keras.saving.get_registered_object("clr_optimizers_tests>DoubleStepSGD")
        is cls
    )
    opt = cls(learning_rate=0.01, clr={"step_size": 2, "max_lr": 0.03})
    weight = keras.Variable(np.zeros(1, "float32"))
    for n in range(6):
        weight.assign([0.0])
        opt.apply([tensor(np.ones(1, "float32"))], [weight])
        assert_rel(
            -ops.convert_to_numpy(weight)[0], 2 * seed_formula(n, 0.01, 0.03, 2)
        )
    restored = cls.from_config(opt.get_config())
    assert restored.clr == opt.clr

    class Adam(keras.optimizers.Adam):
        pass

    with pytest.raises(
        ValueError, match=r"already registered.*'clr_optimizers>Adam'"
    ):
        co.with_clr(Adam)


def test_learning_rate_scheduler_sets_the_base():
    x, y = seed_data(32)
    model = seed_model()
    opt = co.SGD(learning_rate=0.01, clr={"step_size": 3, "max_lr": 0.05})
    model.compile(opt, "binary_crossentropy")
    bases = []
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        verbose=0,
        callbacks=[
            keras.callbacks.LearningRateScheduler(
                lambda epoch, lr: 0.001 * (epoch + 1)
            ),
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda e, logs: bases.append(float(opt.lr))
            ),
        ],
    )
    assert_rel(bases, [0.001, 0.002, 0.003])
    assert float(opt.max_lr) == pytest.approx(0.05)
    # The last epoch ran with base 0.003: its 4 updates, n = 8..11.
    assert_rel(opt.current_lr, seed_formula(11, 0.003, 0.05, 3))


def test_reduce_lr_on_plateau_sets_the_base_from_the_cyclic_rate():
    x, y = seed_data(32)
    model = seed_model()
    opt = co.SGD(learning_rate=0.01, clr={"step_size": 3, "max_lr": 0.05})
    model.compile(opt, "binary_crossentropy")
    seen = []
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[
            # Records the rate ReduceLROnPlateau will read, before it runs.
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda e, logs: seen.append(
                    float(opt.learning_rate)
                )
            ),
            # min_delta so large that no epoch counts as an improvement.
            keras.callbacks.ReduceLROnPlateau(
                monitor="loss",
                factor=0.5,
                patience=0,
                min_delta=1e9,
                min_lr=0.0,
            ),
        ],
    )
    # Epoch 1 sets the best; epoch 2 plateaus: base = 0.5 * the cyclic rate
    # read.
    assert_rel(opt.lr, 0.5 * seen[1], rtol=1e-6)
    assert float(opt.max_lr) == pytest.approx(0.05)


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=needs_optimizer(name)) for name in KERAS_NAMES],
)
def test_built_over_the_class_keras_instantiates(name):
    # On PyTorch, Keras swaps SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta,
    # Adamax, Nadam and Lion for fused multi-tensor subclasses, but only when
    # constructing exactly the Keras class: the cyclical class must be built
    # over that subclass to keep the fused update.
    keras_class = getattr(keras.optimizers, name)
    instantiated = type(keras_class(learning_rate=0.01))
    opt = getattr(co, name)(learning_rate=0.01, clr=clr_dict("triangular"))
    assert isinstance(opt, keras_class)
    assert isinstance(opt, instantiated)
    if BACKEND == "torch" and name in (
        "SGD",
        "Adam",
        "AdamW",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "Adamax",
        "Nadam",
        "Lion",
    ):
        assert instantiated is not keras_class
        assert hasattr(opt, "_parallel_update_step")


def test_without_a_cycle_learning_rate_is_the_keras_variable():
    opt = co.SGD(learning_rate=0.01)
    plain = keras.optimizers.SGD(learning_rate=0.01)
    assert isinstance(opt.learning_rate, keras.Variable)
    assert type(opt.learning_rate) is type(plain.learning_rate)
    opt.learning_rate.assign(0.1)
    assert_rel(opt.learning_rate, 0.1)


def test_decay_divides_a_learning_rate_schedule():
    # Two SGD updates with gradient 1: the weight falls by each update's rate,
    # schedule(n) / (1 + decay * n) for n = 0, 1.
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    opt = co.SGD(learning_rate=schedule, decay=0.01)
    weight = keras.Variable(np.ones((2,), "float32"))
    for _ in range(2):
        opt.apply([tensor(np.ones((2,), "float32"))], [weight])
    rates = [0.1 * 0.5 ** (n / 10) / (1 + 0.01 * n) for n in (0, 1)]
    assert_rel(ops.convert_to_numpy(weight), [1 - sum(rates)] * 2)


def test_cycle_under_bfloat16_floatx():
    keras.backend.set_floatx("bfloat16")
    try:
        opt = co.SGD(learning_rate=0.01, clr={"step_size": 2, "max_lr": 0.05})
        weight = keras.Variable(np.ones((2,), "float32"), dtype="bfloat16")
        for _ in range(2):
            opt.apply([ops.ones((2,), "bfloat16")], [weight])
        assert str(opt.current_lr.dtype) == "bfloat16"
        # The second update applied 0.01 + (0.05 - 0.01) / 2, in bfloat16.
        assert_rel(opt.current_lr, 0.03, rtol=1e-2)
        assert int(opt.clr_iterations) == 2
    finally:
        keras.backend.set_floatx("float32")
