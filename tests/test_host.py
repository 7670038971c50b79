"""The policy functions evaluated with HostOps (Python float64, on the host).

The PyTorch backend's eager update evaluates the cycle this way; here it is
checked on any backend against the float64 formulas, term for term.
"""

import math

import pytest
from helpers import BACKEND
from helpers import assert_rel
from helpers import seed_formula
from test_policy import pytorch_cyclic_lr
from test_policy import pytorch_one_cycle

from clr_optimizers._policy._cyclical import cycle_fraction
from clr_optimizers._policy._one_cycle import one_cycle_value
from clr_optimizers._policy._ops import HostOps
from clr_optimizers._policy._ops import TensorOps

BASE, PEAK = 0.001, 0.006
FLOAT32_MAX = 3.4028234663852886e38


def host_rate(n, step_size, mode="triangular", gamma=1.0, **kwargs):
    height, depth = cycle_fraction(
        n, step_size, mode, gamma, xp=HostOps(None), **kwargs
    )
    assert isinstance(height, float) and isinstance(depth, float)
    return BASE * depth + PEAK * height


def test_host_ops_offer_every_tensor_op():
    host = HostOps(None)
    for name in TensorOps._KERAS_OPS | {
        "integer",
        "integer_like",
        "to_float",
        "read",
        "updates_applied",
        "half_power",
        "scale",
        "all_finite_nonnegative",
        "valid_or_held",
    }:
        assert callable(getattr(host, name)), name
        assert callable(getattr(TensorOps(), name)), name


@pytest.mark.parametrize(
    "mode, gamma",
    [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.99994)],
)
@pytest.mark.parametrize(
    "n", [0, 1, 999, 1000, 1999, 2000, 2001, 6001, 123457, 2**40 + 3]
)
def test_cyclical_rate_matches_the_float64_formula(mode, gamma, n):
    expected = seed_formula(n, BASE, PEAK, 2000, mode, gamma)
    assert_rel(
        host_rate(n, 2000, mode, gamma), expected, rtol=1e-12, atol=1e-300
    )


@pytest.mark.parametrize("up, down", [(3, 7), (7, 3), (1, 4)])
def test_asymmetric_cycle_matches_pytorch(up, down):
    for n in list(range(0, 3 * (up + down) + 2)) + [10**6 + 3, 2**24 + 1]:
        assert_rel(
            host_rate(n, up, step_size_down=down),
            pytorch_cyclic_lr(n, BASE, PEAK, up, down),
            rtol=1e-9,
        )


def test_scale_fn_receives_the_cycle_number_or_the_position():
    def halve_per_cycle(x):
        return 1.0 / (2.0 ** (x - 1))

    for n in range(0, 30):
        assert_rel(
            host_rate(n, 3, scale_fn=halve_per_cycle, scale_mode="cycle"),
            pytorch_cyclic_lr(n, BASE, PEAK, 3, 3, halve_per_cycle),
            rtol=1e-6,
        )
        assert_rel(
            host_rate(
                n,
                3,
                scale_fn=lambda x: 1.0 / (1.0 + x),
                scale_mode="iterations",
            ),
            pytorch_cyclic_lr(
                n, BASE, PEAK, 3, 3, lambda x: 1.0 / (1.0 + x), "iterations"
            ),
            rtol=1e-6,
        )


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_matches_pytorch(anneal, three_phase):
    total, div = 100, 25.0
    initial = 0.01 / div
    final = initial / 1e4
    values = (
        (initial, 0.01, initial, final)
        if three_phase
        else (initial, 0.01, final)
    )
    for n in list(range(0, total + 5)) + [2**40]:
        got = one_cycle_value(
            n, values, total, 0.3, anneal, three_phase, xp=HostOps(None)
        )
        expected = pytorch_one_cycle(
            min(n, total - 1), 0.01, total, div, 0.3, 1e4, anneal, three_phase
        )
        assert_rel(got, expected, rtol=1e-9, atol=1e-18)


def test_overflow_of_the_compute_type_is_infinite_as_in_the_graph():
    host = HostOps(None, largest=FLOAT32_MAX)
    # 0.5 ** -200 and exp(100) overflow float32 (the graph's type).
    assert host.half_power(-200) == math.inf
    assert host.half_power(-5000) == math.inf
    assert host.exp(100.0) == math.inf and host.expm1(1e4) == math.inf
    assert host.half_power(3) == 0.125
    assert host.all_finite_nonnegative(0.0, 1.0, FLOAT32_MAX)
    for bad in (-1e-30, math.nan, math.inf, 1e39):
        assert not host.all_finite_nonnegative(0.1, bad)
    unbounded = HostOps(None)
    assert unbounded.all_finite_nonnegative(0.0, 1e300)
    for bad in (-1e-30, math.nan, math.inf):
        assert not unbounded.all_finite_nonnegative(bad, 0.1)


@pytest.mark.skipif(BACKEND != "torch", reason="the host path is PyTorch's")
@pytest.mark.parametrize(
    "clr",
    [
        {"step_size": 3, "max_lr": 0.05},
        {
            "mode": "1cycle",
            "total_steps": 20,
            "max_lr": 0.05,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        },
    ],
)
def test_steady_updates_read_no_tensor_back(monkeypatch, clr):
    # Tensor.item() waits for the device; a cached schedule needs none.
    import keras
    import numpy as np
    import torch

    import clr_optimizers as co

    name = "Adam" if "base_momentum" in clr else "SGD"
    opt = getattr(co, name)(learning_rate=0.01, clr=clr)
    weights = [keras.Variable(np.ones((3, 2), "float32"))]
    grads = [torch.ones((3, 2))]
    opt.apply(grads, weights)
    opt.apply(grads, weights)
    reads = []
    original = torch.Tensor.item

    def counting(tensor):
        reads.append(tensor)
        return original(tensor)

    monkeypatch.setattr(torch.Tensor, "item", counting)
    for _ in range(5):
        opt.apply(grads, weights)
    monkeypatch.undo()
    assert reads == []
    assert int(opt.clr_iterations) == 7
    # A changed setting is read once, then cached again.
    opt.max_lr.assign(0.04)
    monkeypatch.setattr(torch.Tensor, "item", counting)
    for _ in range(3):
        opt.apply(grads, weights)
    monkeypatch.undo()
    assert len(reads) == 1
