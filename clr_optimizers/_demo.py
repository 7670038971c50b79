"""The seed notebook's experiment: the applied rate beside the formula."""

import numpy as np

BASE_LR = 0.01
MAX_LR = 0.06
STEP_SIZE = 2000
GAMMA = 0.99994
DEMO_OPTIMIZERS = ("SGD", "RMSprop", "Adam")
RTOL = 1e-6


def seed_model():
    """Input 15 -> Dense 10 relu -> Dense 1 sigmoid, as in the seed notebook."""
    import keras

    return keras.Sequential(
        [
            keras.Input((15,)),
            keras.layers.Dense(10, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def _clr_dict(mode):
    clr = {"mode": mode, "step_size": STEP_SIZE, "max_lr": MAX_LR}
    if mode == "exp_range":
        clr["clr_gamma"] = GAMMA
    return clr


def _reference(n, mode):
    """The formula's rate of update `n`, in float64."""
    import clr_optimizers as co

    gamma = GAMMA if mode == "exp_range" else 1.0
    return float(
        co.reference_learning_rate(n, BASE_LR, MAX_LR, STEP_SIZE, mode, gamma)
    )


def _train(name, mode, x, y, updates, report_every, batch_size):
    """Trains the seed model; returns a row per epoch of `report_every`.

    Each row is `(clr_iterations, next rate, last applied rate, loss)`.
    """
    import keras

    import clr_optimizers as co

    keras.utils.set_random_seed(0)
    model = seed_model()
    optimizer = getattr(co, name)(learning_rate=BASE_LR, clr=_clr_dict(mode))
    # PyTorch takes one step per execution only.
    on_torch = keras.backend.backend() == "torch"
    model.compile(
        optimizer,
        "binary_crossentropy",
        steps_per_execution=1 if on_torch else 50,
    )
    rows = []

    def report(epoch, logs):
        rows.append(
            (
                int(optimizer.clr_iterations),
                float(optimizer.learning_rate),
                float(optimizer.current_lr),
                logs["loss"],
            )
        )

    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=updates // report_every,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=report)],
    )
    return rows


def _report(name, mode, rows, print_fn):
    """Prints the rows beside the formula; returns whether all agree."""
    gamma = f", gamma {GAMMA}" if mode == "exp_range" else ""
    print_fn(
        f"\n{name}, mode={mode!r}, base {BASE_LR}, max {MAX_LR}, "
        f"step_size {STEP_SIZE}{gamma}"
    )
    print_fn(
        f"{'updates':>8} {'next rate':>12} {'reference':>12} "
        f"{'last applied':>13} {'reference':>12}  loss"
    )
    all_agree = True
    for n, next_rate, applied, loss in rows:
        expected_next = _reference(n, mode)
        expected_applied = _reference(n - 1, mode)
        ok = (
            abs(next_rate - expected_next) <= RTOL * expected_next
            and abs(applied - expected_applied) <= RTOL * expected_applied
        )
        all_agree &= ok
        print_fn(
            f"{n:>8} {next_rate:>12.8f} {expected_next:>12.8f} "
            f"{applied:>13.8f} {expected_applied:>12.8f}  "
            f"{loss:.4f}{'' if ok else '  MISMATCH'}"
        )
    return all_agree


def run_demo(
    updates=6000,
    report_every=1000,
    optimizers=DEMO_OPTIMIZERS,
    modes=None,
    print_fn=print,
):
    """Trains the seed model with each optimizer and mode; checks the rates.

    Every `report_every` updates it reads `optimizer.current_lr` (the rate
    of update n - 1) and `optimizer.learning_rate` (the rate update n will
    apply) and prints them beside `reference_learning_rate`, the float64
    formula.

    Returns:
        True when every rate agrees with the formula to `RTOL` relative.
    """
    import clr_optimizers as co

    modes = modes or co.MODES
    batch_size = 4
    rng = np.random.default_rng(0)
    x = rng.normal(size=(report_every * batch_size, 15)).astype("float32")
    y = (rng.random((report_every * batch_size, 1)) > 0.5).astype("float32")
    all_agree = True
    for name in optimizers:
        for mode in modes:
            rows = _train(name, mode, x, y, updates, report_every, batch_size)
            all_agree &= _report(name, mode, rows, print_fn)
    print_fn(
        "\nAll rates agree with the formula to 1e-6 relative."
        if all_agree
        else "\nSome rates disagree with the formula."
    )
    return all_agree
