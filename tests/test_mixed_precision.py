"""The cycle under the mixed-precision policies.

The policy is process-global, so the training runs in a fresh interpreter
(tests/scripts/mixed_precision.py) and reports back as JSON.

Under `mixed_float16`, `Model.compile` wraps the optimizer in a
`keras.optimizers.LossScaleOptimizer`; the cyclical variables stay on the
wrapped optimizer, `model.optimizer.inner_optimizer`. A step whose gradients
are not finite is skipped by the wrapper before it reaches the optimizer, so
the cycle pauses: `clr_iterations` (like `iterations`) does not count it,
and the next applied update gets the rate the skipped one would have had.
"""

import numpy as np
import pytest
from helpers import assert_rel
from helpers import reference_rates
from helpers import run_script
from helpers import seed_formula

BASE, PEAK, STEP = 0.01, 0.05, 3
N_STEPS = 24


@pytest.fixture(scope="module")
def float16_runs():
    return run_script("mixed_precision.py", "mixed_float16")


@pytest.fixture(scope="module")
def bfloat16_runs():
    return run_script("mixed_precision.py", "mixed_bfloat16")


def test_mixed_float16_wraps_and_keeps_the_cycle_reachable(float16_runs):
    for run in float16_runs["runs"]:
        assert run["compute_dtype"] == "float16"
        assert run["variable_dtype"] == "float32"
        assert run["wrapper"] == "LossScaleOptimizer"
        assert run["inner_is_optimizer"]
        # The wrapper's own variables list includes the inner optimizer's.
        assert run["clr_variables_in_wrapper"] == [
            "clr_iterations",
            "current_lr",
            "held_updates",
            "max_lr",
            "step_size",
        ]
        assert run["max_lr_via_inner"] == pytest.approx(PEAK)


def test_mixed_float16_skipped_step_pauses_the_cycle(float16_runs):
    k = float16_runs["overflow_row"]
    rates = reference_rates(N_STEPS, BASE, PEAK, STEP, "triangular2")
    # Steps before k apply rate_t; step k is skipped (its weight stays 0);
    # step t > k applies rate_{t-1}: the cycle resumed where it paused.
    expected = np.concatenate([rates[:k], [0.0], rates[k : N_STEPS - 1]])
    for run in float16_runs["runs"]:
        assert_rel(run["rates"], expected)
        assert run["clr_iterations"] == N_STEPS - 1
        assert run["clr_iterations_via_inner"] == N_STEPS - 1
        assert run["iterations"] == N_STEPS - 1
        # Skipped by the loss scaling, not held by the settings guard.
        assert run["held_updates"] == 0
        assert run["dynamic_scale"] == run["initial_scale"] / 2
        assert_rel(run["current_lr"], rates[N_STEPS - 2])
        assert_rel(
            run["next_rate_via_wrapper"],
            seed_formula(N_STEPS - 1, BASE, PEAK, STEP, "triangular2"),
        )


def test_mixed_float16_reassigning_through_inner_optimizer(float16_runs):
    for run in float16_runs["runs"]:
        # clr_iterations set to a peak, max_lr to 0.2: the next update
        # applies 0.2 (rate of the peak of the first cycle).
        assert_rel(run["rate_after_reassign"], 0.2, rtol=1e-6)


def test_mixed_bfloat16_rates(bfloat16_runs):
    rates = reference_rates(N_STEPS, BASE, PEAK, STEP, "triangular2")
    for run in bfloat16_runs["runs"]:
        assert run["compute_dtype"] == "bfloat16"
        assert run["variable_dtype"] == "float32"
        # Keras wraps only for mixed_float16.
        assert run["wrapper"] == "SGD"
        assert_rel(run["rates"], rates)
        assert run["clr_iterations"] == run["iterations"] == N_STEPS
        assert_rel(
            run["next_rate_via_wrapper"],
            seed_formula(N_STEPS, BASE, PEAK, STEP, "triangular2"),
        )
