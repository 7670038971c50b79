"""Trains rate recorders under a global mixed-precision policy.

Run by tests/test_mixed_precision.py in its own interpreter: the dtype policy
is process-global. Usage: `mixed_precision.py POLICY`, with POLICY
`mixed_float16` or `mixed_bfloat16`. Prints one JSON object.

With `mixed_float16`, input row OVERFLOW_ROW holds 70000, which is `inf` in
float16: the loss of that step is NaN and its gradient non-finite, so the
LossScaleOptimizer skips the step.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from helpers import linear_loss  # noqa: E402
from helpers import recorded_rates  # noqa: E402
from helpers import recorder_data  # noqa: E402
from helpers import recorder_model  # noqa: E402

import clr_optimizers as co  # noqa: E402

BASE, PEAK, STEP = 0.01, 0.05, 3
N_STEPS = 24
OVERFLOW_ROW = 10


def run(policy, jit_compile, steps_per_execution, overflow):
    model = recorder_model(N_STEPS)
    opt = co.SGD(
        learning_rate=BASE,
        clr={"mode": "triangular2", "step_size": STEP, "max_lr": PEAK},
    )
    model.compile(
        opt,
        linear_loss,
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    wrapped = model.optimizer
    x, y = recorder_data(N_STEPS)
    if overflow:
        x[OVERFLOW_ROW, OVERFLOW_ROW] = 70000.0
    model.fit(x, y, batch_size=1, shuffle=False, verbose=0)
    result = {
        "policy": policy,
        "compute_dtype": model.layers[0].compute_dtype,
        "variable_dtype": model.layers[0].variable_dtype,
        "wrapper": type(wrapped).__name__,
        "rates": recorded_rates(model).tolist(),
        "clr_iterations": int(opt.clr_iterations),
        "iterations": int(opt.iterations),
        "held_updates": int(opt.held_updates),
        "current_lr": float(opt.current_lr),
        "next_rate_via_wrapper": float(wrapped.learning_rate),
    }
    if isinstance(wrapped, keras.optimizers.LossScaleOptimizer):
        inner = wrapped.inner_optimizer
        result.update(
            {
                "inner_is_optimizer": inner is opt,
                "clr_iterations_via_inner": int(inner.clr_iterations),
                "max_lr_via_inner": float(inner.max_lr),
                "dynamic_scale": float(wrapped.dynamic_scale),
                "initial_scale": float(wrapped.initial_scale),
                "clr_variables_in_wrapper": sorted(
                    v.name
                    for v in wrapped.variables
                    if v.name
                    in (
                        "max_lr",
                        "step_size",
                        "clr_iterations",
                        "current_lr",
                        "held_updates",
                    )
                ),
            }
        )
        # Reassigning through the wrapper's inner optimizer takes effect at
        # the next update.
        inner.max_lr.assign(0.2)
        inner.clr_iterations.assign(STEP)  # a peak
        one = np.zeros((1, N_STEPS), "float32")
        one[0, -1] = 1.0
        before = float(model.weights[0][-1, 0])
        model.fit(one, np.zeros((1, 1), "float32"), batch_size=1, verbose=0)
        result["rate_after_reassign"] = before - float(model.weights[0][-1, 0])
    return result


def main():
    policy = sys.argv[1]
    keras.mixed_precision.set_global_policy(policy)
    overflow = policy == "mixed_float16"
    runs = [run(policy, False, 1, overflow)]
    if keras.backend.backend() != "torch":  # PyTorch: eager, one step per call
        runs.append(run(policy, True, 8, overflow))
    print(
        json.dumps(
            {"runs": runs, "overflow_row": OVERFLOW_ROW if overflow else None}
        )
    )


if __name__ == "__main__":
    main()
