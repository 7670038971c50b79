"""`python -m clr_optimizers` runs the seed experiment and checks its rates."""

import os
import re
import subprocess
import sys

from helpers import assert_rel
from helpers import seed_formula

import clr_optimizers as co
from clr_optimizers import _demo


def test_demo_command_prints_rates_beside_the_formula():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "clr_optimizers",
            "--updates",
            "2000",
            "--report-every",
            "500",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All rates agree with the formula" in out.stdout
    sections = [s.strip() for s in out.stdout.split("\n\n")]
    headers = [s for s in sections if s.startswith(("SGD", "RMSprop", "Adam"))]
    assert len(headers) == 9  # 3 optimizers x 3 modes
    for section in headers:
        mode = re.search(r"mode='(\w+)'", section).group(1)
        gamma = 0.99994 if mode == "exp_range" else 1.0
        rows = [line.split() for line in section.splitlines()[2:]]
        assert [int(r[0]) for r in rows] == [500, 1000, 1500, 2000]
        for r in rows:
            n = int(r[0])
            assert_rel(
                float(r[1]),
                seed_formula(n, 0.01, 0.06, 2000, mode, gamma),
                rtol=1e-6,
            )
            assert_rel(
                float(r[3]),
                seed_formula(n - 1, 0.01, 0.06, 2000, mode, gamma),
                rtol=1e-6,
            )


def test_demo_reports_a_disagreement(monkeypatch):
    # A reference that is off by 1e-5 relative must be caught.
    original = co.reference_learning_rate
    monkeypatch.setattr(
        co,
        "reference_learning_rate",
        lambda *a, **k: original(*a, **k) * (1 + 1e-5),
    )
    lines = []
    assert not _demo.run_demo(
        updates=200,
        report_every=100,
        optimizers=("SGD",),
        modes=("triangular",),
        print_fn=lines.append,
    )
    assert any("MISMATCH" in line for line in lines)


def test_demo_bad_arguments():
    out = subprocess.run(
        [sys.executable, "-m", "clr_optimizers", "--report-every", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "Received: --updates=6000, --report-every=0" in out.stderr
