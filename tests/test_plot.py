import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_rel
from helpers import seed_formula
from helpers import tensor

import clr_optimizers as co
from clr_optimizers import __main__ as cli

pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[1]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p]
    )
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    return env


def _line(fig, gid):
    lines = [line for line in fig.axes[0].lines if line.get_gid() == gid]
    assert len(lines) == 1, [line.get_gid() for line in fig.axes[0].lines]
    return (
        np.asarray(lines[0].get_xdata(), dtype=np.float64),
        np.asarray(lines[0].get_ydata(), dtype=np.float64),
    )


def _png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize(
    "mode, gamma, decay",
    [
        ("triangular", 1.0, 0.0),
        ("triangular2", 1.0, 0.0),
        ("exp_range", 0.995, 0.0),
        ("triangular", 1.0, 0.01),
        ("exp_range", 0.995, 0.005),
    ],
)
def test_drawn_rate_and_reference_are_the_formula(mode, gamma, decay):
    base, peak, step_size, iterations = 0.002, 0.01, 40, 330
    fig = co.plot_schedule(
        mode,
        base,
        peak,
        step_size,
        gamma=gamma,
        iterations=iterations,
        decay=decay,
        compare=True,
    )
    n = np.arange(iterations)
    expected = [
        seed_formula(i, base / (1 + decay * i), peak, step_size, mode, gamma)
        for i in n
    ]
    for gid in ("rate", "reference"):
        x, y = _line(fig, gid)
        np.testing.assert_array_equal(x, n)
        assert_rel(y, expected, rtol=1e-6)
    # Hand-checked points: the bottom at 0 and the first peak at step_size.
    _, rate = _line(fig, "rate")
    assert_rel(rate[0], base)
    first_peak = gamma**step_size if mode == "exp_range" else 1.0
    base_at_peak = base / (1 + decay * step_size)
    assert_rel(
        rate[step_size], base_at_peak + (peak - base_at_peak) * first_peak
    )


def test_guides_mark_max_lr_and_the_decayed_base():
    fig = co.plot_schedule(
        "triangular", 0.004, 0.01, 25, iterations=200, decay=0.02
    )
    _, peak = _line(fig, "max_lr")
    assert_rel(peak, [0.01, 0.01])
    x, base = _line(fig, "base_lr")
    assert_rel(base, 0.004 / (1 + 0.02 * x))
    _, rate = _line(fig, "rate")
    # Decay lowers the bottoms, the peaks stay at max_lr.
    bottoms, peaks = rate[::50], rate[25::50]
    assert np.all(np.diff(bottoms) < 0)
    assert_rel(peaks, 0.01)


def test_figure_labels_and_legend():
    fig = co.plot_schedule(
        "triangular2", 0.001, 0.006, 10, iterations=60, compare=True
    )
    ax = fig.axes[0]
    assert "updates" in ax.get_xlabel()
    assert "learning rate" in ax.get_ylabel()
    assert "triangular2" in ax.get_title()
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any("clr_optimizers.SGD" in label for label in labels)
    assert any("reference_learning_rate" in label for label in labels)
    assert "max_lr = 0.006" in labels and "base_lr = 0.001" in labels


def test_without_compare_there_is_no_reference_line():
    fig = co.plot_schedule("triangular", 0.001, 0.006, 10, iterations=30)
    gids = [line.get_gid() for line in fig.axes[0].lines]
    assert "reference" not in gids and "rate" in gids


def test_default_iterations_are_three_cycles():
    fig = co.plot_schedule("triangular", 0.001, 0.006, 15)
    x, _ = _line(fig, "rate")
    assert len(x) == 90


def test_draws_on_a_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subplots(1, 2)
    returned = co.plot_schedule(
        "triangular", 0.001, 0.006, 10, iterations=40, ax=right
    )
    assert returned is fig
    assert not left.lines
    assert [line.get_gid() for line in right.lines].count("rate") == 1


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"mode": "sine"}, ValueError, "Received: mode='sine'"),
        ({"base_lr": -0.1}, ValueError, "Received: base_lr=-0.1"),
        ({"max_lr": "big"}, TypeError, "Received: max_lr='big'"),
        ({"step_size": 0}, ValueError, "Received: step_size=0"),
        ({"step_size": 2.5}, ValueError, "Received: step_size=2.5"),
        ({"gamma": 0.9}, ValueError, "Received: gamma=0.9 with mode="),
        (
            {"mode": "exp_range", "gamma": 0.0},
            ValueError,
            "Received: gamma=0.0",
        ),
        ({"iterations": 0}, ValueError, "Received: iterations=0"),
        ({"iterations": 10.5}, ValueError, "Received: iterations=10.5"),
        ({"iterations": True}, TypeError, "Received: iterations=True"),
        ({"decay": float("inf")}, ValueError, "Received: decay=inf"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(")):
        co.plot_schedule(**kwargs)


def test_library_without_matplotlib_says_how_to_install(monkeypatch):
    for name in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(
        ImportError, match=r"pip install 'clr_optimizers\[plot\]'"
    ):
        co.plot_schedule("triangular", 0.001, 0.006, 10, iterations=20)


def test_package_works_without_matplotlib():
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "import clr_optimizers as co\n"
        "opt = co.SGD(learning_rate=0.001,\n"
        "             clr={'step_size': 10, 'max_lr': 0.006})\n"
        "print(round(float(opt.learning_rate), 6))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.001"


# The command line.


def test_cli_writes_a_png_of_sensible_size(tmp_path):
    out = tmp_path / "schedule.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "clr_optimizers",
            "plot",
            "--mode",
            "triangular2",
            "--base-lr",
            "0.001",
            "--max-lr",
            "0.006",
            "--step-size",
            "100",
            "--iterations",
            "600",
            "--compare",
            "-o",
            str(out),
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    width, height = _png_size(out)
    assert 500 <= width <= 3000 and 300 <= height <= 2000
    assert out.stat().st_size > 10_000


def test_cli_writes_svg(tmp_path, capsys):
    out = tmp_path / "schedule.svg"
    assert (
        cli.main(
            [
                "plot",
                "--mode",
                "exp_range",
                "--gamma",
                "0.99",
                "--step-size",
                "20",
                "--iterations",
                "120",
                "--decay",
                "1e-3",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "exp_range" in text


def test_cli_draws_the_settings_it_is_given(tmp_path, monkeypatch):
    drawn = {}
    real = co.plot_schedule

    def spy(**kwargs):
        drawn.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr("clr_optimizers._plotting.plot_schedule", spy)
    out = tmp_path / "s.png"
    assert (
        cli.main(
            [
                "plot",
                "--mode",
                "exp_range",
                "--base-lr",
                "0.002",
                "--max-lr",
                "0.02",
                "--step-size",
                "30",
                "--gamma",
                "0.99",
                "--iterations",
                "90",
                "--decay",
                "0.001",
                "--compare",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert drawn == {
        "mode": "exp_range",
        "base_lr": 0.002,
        "max_lr": 0.02,
        "step_size": 30,
        "gamma": 0.99,
        "iterations": 90,
        "decay": 0.001,
        "compare": True,
    }
    _png_size(out)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--mode", "sine"], ["--mode", "'sine'"]),
        (["--base-lr", "-1"], ["--base-lr", "Received: --base-lr=-1.0"]),
        (["--max-lr", "abc"], ["--max-lr", "Received: --max-lr='abc'"]),
        (["--max-lr", "inf"], ["--max-lr", "Received: --max-lr=inf"]),
        (["--step-size", "2.5"], ["--step-size", "Received: --step-size=2.5"]),
        (["--step-size", "0"], ["--step-size", "Received: --step-size=0"]),
        (
            ["--gamma", "0.5"],
            ["--gamma", "Received: --gamma=0.5", "mode='triangular'"],
        ),
        (
            ["--mode", "exp_range", "--gamma", "1.5"],
            ["--gamma", "Received: --gamma=1.5"],
        ),
        (["--iterations", "-3"], ["--iterations", "Received: --iterations=-3"]),
        (
            ["--iterations", "ten"],
            ["--iterations", "Received: --iterations='ten'"],
        ),
        (["--decay", "nan"], ["--decay", "Received: --decay=nan"]),
        (["-o", "picture.jpg"], ["--output", "'picture.jpg'"]),
        (["--updates", "10"], ["--updates", "Received: --updates=10"]),
    ],
)
def test_cli_bad_arguments_exit_non_zero_naming_them(
    args, expected, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    if args[0] == "--updates":
        argv = args + ["plot"]
    else:
        argv = ["plot"] + args
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    for fragment in expected:
        assert fragment in err
    assert not list(tmp_path.iterdir())


def test_cli_unwritable_output_exits_non_zero(tmp_path, capsys):
    out = tmp_path / "missing_folder" / "s.png"
    assert (
        cli.main(
            ["plot", "--step-size", "5", "--iterations", "20", "-o", str(out)]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "cannot write" in err and str(out) in err


def test_cli_without_matplotlib_says_how_to_install(tmp_path):
    out = tmp_path / "s.png"
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "from clr_optimizers.__main__ import main\n"
        f"sys.exit(main(['plot', '-o', {str(out)!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "pip install 'clr_optimizers[plot]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_cli_without_a_command_still_runs_the_demo(monkeypatch):
    calls = []

    def fake_demo(updates, report_every):
        calls.append((updates, report_every))
        return True

    monkeypatch.setattr("clr_optimizers._demo.run_demo", fake_demo)
    assert cli.main([]) == 0
    assert cli.main(["--updates", "600", "--report-every", "200"]) == 0
    assert calls == [(6000, 1000), (600, 200)]


def test_cli_demo_reports_disagreement(monkeypatch):
    monkeypatch.setattr("clr_optimizers._demo.run_demo", lambda *a: False)
    assert cli.main(["--updates", "10", "--report-every", "5"]) == 1


def test_cli_demo_bad_flags_still_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--updates", "10", "--report-every", "20"])
    assert exit_info.value.code == 2
    assert (
        "Received: --updates=10, --report-every=20" in capsys.readouterr().err
    )


def test_cli_demo_runs_for_real():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "clr_optimizers",
            "--updates",
            "20",
            "--report-every",
            "10",
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "All rates agree with the formula" in result.stdout


# Any `clr` dict: the drawn values against an optimizer stepped with it.


def _stepped(learning_rate, clr, updates, decay=0.0):
    """`current_lr` and `current_momentum` after each of `updates` updates
    of a `co.SGD` stepped with `apply` on a dummy variable."""
    import keras

    optimizer = co.SGD(learning_rate=learning_rate, clr=clr, decay=decay)
    variable = keras.Variable(np.zeros(1, "float32"))
    gradient = tensor(np.zeros(1, "float32"))
    rates, momenta = [], []
    for _ in range(updates):
        optimizer.apply([gradient], [variable])
        rates.append(float(keras.ops.convert_to_numpy(optimizer.current_lr)))
        if optimizer.current_momentum is not None:
            momenta.append(
                float(keras.ops.convert_to_numpy(optimizer.current_momentum))
            )
    return np.asarray(rates), np.asarray(momenta) if momenta else None


def _gid(fig, gid):
    """The x and y data of the one line of `gid` in any of the axes."""
    lines = [
        line for ax in fig.axes for line in ax.lines if line.get_gid() == gid
    ]
    assert len(lines) == 1, gid
    return (
        np.asarray(lines[0].get_xdata(), dtype=np.float64),
        np.asarray(lines[0].get_ydata(), dtype=np.float64),
    )


def _sine_scale(x):
    import keras

    return 0.5 * (1.0 + keras.ops.cos(x * 0.3))


ONE_CYCLE_MOMENTUM = {
    "mode": "1cycle",
    "max_lr": 0.1,
    "total_steps": 60,
    "base_momentum": 0.85,
    "max_momentum": 0.95,
}

# (drawn clr, plot_schedule's other keywords, the stepped optimizer's clr
# with every length in updates, its decay, updates)
CLR_CASES = {
    "1cycle_momentum": (
        ONE_CYCLE_MOMENTUM,
        {"iterations": 70},  # past the cycle: the final values held
        ONE_CYCLE_MOMENTUM,
        0.0,
        70,
    ),
    "1cycle_auto_three_phase_linear": (
        {
            "mode": "1cycle",
            "max_lr": 0.05,
            "total_steps": "auto",
            "pct_start": 0.25,
            "final_div_factor": 100.0,
            "anneal": "linear",
            "three_phase": True,
        },
        {"iterations": 48},
        {
            "mode": "1cycle",
            "max_lr": 0.05,
            "total_steps": 48,
            "pct_start": 0.25,
            "final_div_factor": 100.0,
            "anneal": "linear",
            "three_phase": True,
        },
        0.0,
        48,
    ),
    "asymmetric_decay": (
        {
            "mode": "triangular",
            "max_lr": 0.02,
            "step_size": 7,
            "step_size_down": 13,
        },
        {"decay": 0.01, "iterations": 80},
        {
            "mode": "triangular",
            "max_lr": 0.02,
            "step_size": 7,
            "step_size_down": 13,
        },
        0.01,
        80,
    ),
    "scale_fn": (
        {
            "scale_fn": _sine_scale,
            "scale_mode": "iterations",
            "max_lr": 0.02,
            "step_size": 6,
        },
        {"iterations": 40},
        {
            "scale_fn": _sine_scale,
            "scale_mode": "iterations",
            "max_lr": 0.02,
            "step_size": 6,
        },
        0.0,
        40,
    ),
    "warmup": (
        {
            "mode": "triangular2",
            "max_lr": 0.01,
            "step_size": 5,
            "warmup_steps": 8,
            "warmup_start_lr": 0.0005,
        },
        {"iterations": 50},
        {
            "mode": "triangular2",
            "max_lr": 0.01,
            "step_size": 5,
            "warmup_steps": 8,
            "warmup_start_lr": 0.0005,
        },
        0.0,
        50,
    ),
    "exp_range_warmup_momentum": (
        {
            "mode": "exp_range",
            "clr_gamma": 0.99,
            "max_lr": 0.01,
            "step_size": 10,
            "warmup_steps": 3,
            "base_momentum": 0.8,
            "max_momentum": 0.9,
        },
        {"iterations": 60},
        {
            "mode": "exp_range",
            "clr_gamma": 0.99,
            "max_lr": 0.01,
            "step_size": 10,
            "warmup_steps": 3,
            "base_momentum": 0.8,
            "max_momentum": 0.9,
        },
        0.0,
        60,
    ),
    "lengths_in_epochs": (
        {
            "mode": "triangular",
            "max_lr": 0.01,
            "step_size": {"epochs": 2},
            "warmup_steps": {"epochs": 1.5},
        },
        {"updates_per_epoch": 4, "iterations": 40},
        {
            "mode": "triangular",
            "max_lr": 0.01,
            "step_size": 8,
            "warmup_steps": 6,
        },
        0.0,
        40,
    ),
}


@pytest.mark.parametrize("case", sorted(CLR_CASES))
def test_drawn_clr_schedule_is_what_a_stepped_optimizer_applies(case):
    clr, keywords, stepped_clr, decay, updates = CLR_CASES[case]
    fig = co.plot_schedule(learning_rate=0.002, clr=clr, **keywords)
    rates, momenta = _stepped(0.002, stepped_clr, updates, decay)
    x, drawn = _gid(fig, "rate")
    np.testing.assert_array_equal(x, np.arange(updates))
    assert_rel(drawn, rates, rtol=1e-6)
    if momenta is None:
        assert len(fig.axes) == 1
        return
    assert len(fig.axes) == 2
    x, drawn_momentum = _gid(fig, "momentum")
    np.testing.assert_array_equal(x, np.arange(updates))
    assert_rel(drawn_momentum, momenta, rtol=1e-6)


def test_drawn_1cycle_by_hand():
    # PyTorch's OneCycleLR: the rise ends at update 0.3 * 60 - 1 = 17, the
    # cycle at update 59, after which the final rate is held.
    fig = co.plot_schedule(learning_rate=0.004, clr=ONE_CYCLE_MOMENTUM)
    x, rate = _gid(fig, "rate")
    _, momentum = _gid(fig, "momentum")
    assert len(x) == 60  # the default: total_steps
    assert_rel(rate[[0, 17, 59]], [0.004, 0.1, 0.004 / 1e4])
    assert_rel(momentum[[0, 17, 59]], [0.95, 0.85, 0.95])
    # Half-way up the cosine rise: the mean of the two ends.
    fig = co.plot_schedule(
        learning_rate=0.004, clr={**ONE_CYCLE_MOMENTUM, "total_steps": 61}
    )
    _, rate = _gid(fig, "rate")
    rise_end = float(0.3 * 61) - 1  # as OneCycleLR: not an integer here
    k = 1
    expected = 0.1 + (0.004 - 0.1) / 2 * (1 + np.cos(np.pi * k / rise_end))
    assert_rel(rate[k], expected)
    assert_rel(_gid(fig, "final_lr")[1], [0.004 / 1e4] * 2)


def test_drawn_warmup_by_hand():
    b, start, base = 8, 0.0005, 0.002
    fig = co.plot_schedule(
        learning_rate=base,
        clr={
            "mode": "triangular",
            "max_lr": 0.01,
            "step_size": 5,
            "warmup_steps": b,
            "warmup_start_lr": start,
        },
    )
    x, rate = _gid(fig, "rate")
    assert len(x) == b + 30  # the default: the warm-up and three cycles
    n = np.arange(b + 2)
    expected = [
        start + (base - start) * i / b
        if i < b
        else seed_formula(i - b, base, 0.01, 5)
        for i in n
    ]
    assert_rel(rate[: b + 2], expected)
    warmup_end, _ = _gid(fig, "warmup_end")
    assert_rel(warmup_end, [b, b])


def test_default_iterations_of_an_asymmetric_cycle_with_warmup():
    fig = co.plot_schedule(
        learning_rate=0.001,
        clr={
            "max_lr": 0.01,
            "step_size": 4,
            "step_size_down": 6,
            "warmup_steps": 5,
        },
    )
    x, _ = _gid(fig, "rate")
    assert len(x) == 5 + 3 * (4 + 6)


def test_compare_draws_the_formula_after_the_warmup():
    base, peak, up, down, b = 0.002, 0.01, 6, 9, 4
    fig = co.plot_schedule(
        learning_rate=base,
        clr={
            "mode": "triangular2",
            "max_lr": peak,
            "step_size": up,
            "step_size_down": down,
            "warmup_steps": b,
        },
        iterations=60,
        compare=True,
    )
    rates, _ = _stepped(
        base,
        {
            "mode": "triangular2",
            "max_lr": peak,
            "step_size": up,
            "step_size_down": down,
            "warmup_steps": b,
        },
        60,
    )
    x, reference = _gid(fig, "reference")
    np.testing.assert_array_equal(x, np.arange(b, 60))
    assert_rel(reference, rates[b:], rtol=1e-6)
    # By hand: the peaks of the first two cycles.
    assert_rel(
        reference[[up, up + down + up]], [peak, base + (peak - base) / 2]
    )


def test_momentum_panel_lines_and_labels():
    fig = co.plot_schedule(learning_rate=0.004, clr=ONE_CYCLE_MOMENTUM)
    rate_ax, momentum_ax = fig.axes
    assert [line.get_gid() for line in momentum_ax.lines] == [
        "momentum",
        "base_momentum",
        "max_momentum",
    ]
    assert_rel(_gid(fig, "base_momentum")[1], [0.85, 0.85])
    assert_rel(_gid(fig, "max_momentum")[1], [0.95, 0.95])
    assert "momentum" in momentum_ax.get_ylabel()
    assert "updates" in momentum_ax.get_xlabel()
    assert "1cycle" in rate_ax.get_title()


def test_momentum_on_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    top, bottom = fig.subplots(2, 1)
    assert (
        co.plot_schedule(
            learning_rate=0.004, clr=ONE_CYCLE_MOMENTUM, ax=(top, bottom)
        )
        is fig
    )
    assert top.lines[0].get_gid() == "rate"
    assert bottom.lines[0].get_gid() == "momentum"
    # One Axes: the momentum on its twin y axis.
    fig = Figure()
    ax = fig.subplots()
    co.plot_schedule(learning_rate=0.004, clr=ONE_CYCLE_MOMENTUM, ax=ax)
    assert len(fig.axes) == 2 and fig.axes[0] is ax
    assert fig.axes[1].lines[0].get_gid() == "momentum"


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"clr": {"max_lr": 0.01, "step_size": 5}, "mode": "triangular"},
            ValueError,
            "not both",
        ),
        (
            {"clr": {"max_lr": 0.01, "step_size": 5}, "base_lr": 0.001},
            ValueError,
            "Received: clr={'max_lr': 0.01, 'step_size': 5}, base_lr=0.001",
        ),
        ({"learning_rate": 0.001}, ValueError, "learning_rate=0.001, clr=None"),
        (
            {"clr": {"max_lr": 0.01, "step_size": 5}},
            ValueError,
            "Received: learning_rate=None",
        ),
        (
            {"clr": {"max_lr": 0.01, "step_size": 5}, "learning_rate": -1},
            ValueError,
            "Received: learning_rate=-1",
        ),
        (
            {"clr": {"mode": "1cycle", "max_lr": 0.1}, "learning_rate": 0.01},
            ValueError,
            "`clr` must give 'total_steps'",
        ),
        (
            {"clr": {"max_lr": 0.1, "step_size": 0}, "learning_rate": 0.01},
            ValueError,
            "Received: clr['step_size']=0",
        ),
        (
            {"clr": {"max_lr": 0.1, "step_sise": 5}, "learning_rate": 0.01},
            ValueError,
            "Did you mean 'step_size'",
        ),
        (
            {"clr": [("max_lr", 0.1)], "learning_rate": 0.01},
            TypeError,
            "`clr` must be a dict",
        ),
        (
            {
                "clr": {"mode": "1cycle", "max_lr": 0.1, "total_steps": "auto"},
                "learning_rate": 0.01,
            },
            ValueError,
            "Received: iterations=None",
        ),
        (
            {
                "clr": {"max_lr": 0.1, "step_size": {"epochs": 2}},
                "learning_rate": 0.01,
            },
            ValueError,
            "pass `updates_per_epoch`",
        ),
        (
            {
                "clr": {"max_lr": 0.1, "step_size": {"epochs": 2}},
                "learning_rate": 0.01,
                "updates_per_epoch": 0,
            },
            ValueError,
            "Received: updates_per_epoch=0",
        ),
        (
            {"clr": ONE_CYCLE_MOMENTUM, "learning_rate": 0.01, "compare": True},
            ValueError,
            "mode '1cycle' has none",
        ),
        (
            {
                "clr": {
                    "mode": "1cycle",
                    "max_lr": 0.1,
                    "total_steps": "auto",
                },
                "learning_rate": 0.01,
                "iterations": 2,
            },
            ValueError,
            "planned for clr['total_steps']='auto'",
        ),
        ({"ax": "left"}, TypeError, "Received: ax='left'"),
    ],
)
def test_bad_clr_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        co.plot_schedule(**kwargs)


def test_a_pair_of_axes_without_momentum_is_refused():
    from matplotlib.figure import Figure

    pair = Figure().subplots(2, 1)
    with pytest.raises(TypeError, match="no momentum to draw"):
        co.plot_schedule("triangular", 0.001, 0.006, 5, ax=pair)


# plot_history: a fit's logged rate and momentum.


def _fit_with_fit_schedule(epochs=3):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    optimizer = co.SGD(
        learning_rate=0.01,
        clr={
            "mode": "1cycle",
            "max_lr": 0.1,
            "total_steps": "auto",
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        },
    )
    model.compile(optimizer=optimizer, loss="mse")
    rng = np.random.default_rng(0)
    x = rng.random((32, 4)).astype("float32")
    y = rng.random((32, 1)).astype("float32")
    logged = co.FitSchedule()
    history = model.fit(
        x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=[logged]
    )
    return history, logged.update_history


def test_plot_history_draws_every_logged_update_and_epoch(tmp_path):
    from clr_optimizers._plotting import plot_history

    history, updates = _fit_with_fit_schedule()
    path = tmp_path / "logged.png"
    fig = plot_history(updates, path=path)
    _png_size(path)
    rate_ax, momentum_ax = fig.axes
    x, rate = _gid(fig, "rate")
    np.testing.assert_array_equal(x, updates["iterations"])
    np.testing.assert_array_equal(x, np.arange(1, 13))
    np.testing.assert_array_equal(rate, updates["learning_rate"])
    x, momentum = _gid(fig, "momentum")
    np.testing.assert_array_equal(momentum, updates["momentum"])
    assert "iterations" in momentum_ax.get_xlabel()
    # The epoch logs: each epoch's last update.
    fig = plot_history(history)
    x, rate = _gid(fig, "rate")
    np.testing.assert_array_equal(x, [1, 2, 3])
    np.testing.assert_array_equal(rate, history.history["learning_rate"])
    np.testing.assert_array_equal(
        rate, np.asarray(updates["learning_rate"])[3::4]
    )
    _, momentum = _gid(fig, "momentum")
    np.testing.assert_array_equal(momentum, history.history["momentum"])
    assert "epoch" in fig.axes[1].get_xlabel()


@pytest.mark.parametrize("momentum_key", ["momentum", "beta_1"])
def test_plot_history_of_a_dict(momentum_key):
    from clr_optimizers._plotting import plot_history

    logs = {
        "iterations": [4, 5, 6],
        "learning_rate": [0.01, 0.02, 0.03],
        momentum_key: [0.95, 0.9, 0.85],
    }
    fig = plot_history(logs)
    x, rate = _gid(fig, "rate")
    np.testing.assert_array_equal(x, [4, 5, 6])
    np.testing.assert_array_equal(rate, [0.01, 0.02, 0.03])
    _, momentum = _gid(fig, "momentum")
    np.testing.assert_array_equal(momentum, [0.95, 0.9, 0.85])
    assert fig.axes[1].get_ylabel() == momentum_key


def test_plot_history_of_epoch_logs_and_cyclic_lr():
    from matplotlib.figure import Figure

    from clr_optimizers._plotting import plot_history

    fig = plot_history({"loss": [3.0, 2.0], "learning_rate": [0.1, 0.05]})
    x, rate = _gid(fig, "rate")
    np.testing.assert_array_equal(x, [1, 2])
    np.testing.assert_array_equal(rate, [0.1, 0.05])
    assert len(fig.axes) == 1
    # CyclicLR's `history` names the rate "lr".
    figure = Figure()
    ax = figure.subplots()
    assert plot_history(
        {"iterations": [1, 2], "lr": [0.001, 0.002]}, ax=ax
    ) is (figure)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.001, 0.002])


def test_plot_history_without_a_logged_rate_names_the_fix():
    import keras

    from clr_optimizers._plotting import plot_history

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=co.SGD(learning_rate=0.01), loss="mse")
    history = model.fit(
        np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=0
    )
    with pytest.raises(ValueError) as info:
        plot_history(history)
    message = str(info.value)
    assert "clr_optimizers.FitSchedule()" in message
    assert "Received: history with the keys ['loss']" in message


@pytest.mark.parametrize(
    "history, error, message",
    [
        ([0.1, 0.2], TypeError, "Received: history=[0.1, 0.2] of type list"),
        ({}, ValueError, "keys []"),
        (
            {"learning_rate": [0.1, 0.2], "momentum": [0.9]},
            ValueError,
            "lengths {'learning_rate': 2, 'momentum': 1}",
        ),
        ({"learning_rate": []}, ValueError, "lengths {'learning_rate': 0}"),
        (
            {"learning_rate": [0.1, "fast"]},
            TypeError,
            "Received: 'fast' in history['learning_rate']",
        ),
        ({"learning_rate": 0.1}, TypeError, "history['learning_rate']=0.1"),
    ],
)
def test_plot_history_bad_input_is_named(history, error, message):
    from clr_optimizers._plotting import plot_history

    with pytest.raises(error, match=re.escape(message)):
        plot_history(history)


# The command line: any policy.


def _run_cli_spy(monkeypatch, argv):
    """Runs `plot` in-process; returns plot_schedule's keywords and figure."""
    drawn = {}
    real = co.plot_schedule

    def spy(**kwargs):
        drawn["kwargs"] = kwargs
        drawn["figure"] = real(**kwargs)
        return drawn["figure"]

    monkeypatch.setattr("clr_optimizers._plotting.plot_schedule", spy)
    assert cli.main(["plot"] + argv) == 0
    return drawn["kwargs"], drawn["figure"]


def test_cli_draws_1cycle_with_momentum(tmp_path, monkeypatch):
    out = tmp_path / "one_cycle.png"
    kwargs, fig = _run_cli_spy(
        monkeypatch,
        [
            "--mode",
            "1cycle",
            "--base-lr",
            "0.004",
            "--max-lr",
            "0.1",
            "--total-steps",
            "60",
            "--pct-start",
            "0.25",
            "--final-div-factor",
            "1000",
            "--anneal",
            "linear",
            "--base-momentum",
            "0.85",
            "--max-momentum",
            "0.95",
            "--iterations",
            "70",
            "-o",
            str(out),
        ],
    )
    clr = {
        "mode": "1cycle",
        "max_lr": 0.1,
        "total_steps": 60,
        "pct_start": 0.25,
        "final_div_factor": 1000,
        "anneal": "linear",
        "base_momentum": 0.85,
        "max_momentum": 0.95,
    }
    assert kwargs == {
        "clr": clr,
        "learning_rate": 0.004,
        "decay": 0.0,
        "iterations": 70,
        "compare": False,
    }
    rates, momenta = _stepped(0.004, clr, 70)
    assert_rel(_gid(fig, "rate")[1], rates, rtol=1e-6)
    assert_rel(_gid(fig, "momentum")[1], momenta, rtol=1e-6)
    width, height = _png_size(out)
    assert height > 600  # two panels


def test_cli_draws_warmup_and_asymmetric_cycles(tmp_path, monkeypatch):
    kwargs, fig = _run_cli_spy(
        monkeypatch,
        [
            "--mode",
            "triangular2",
            "--step-size",
            "6",
            "--step-size-down",
            "10",
            "--warmup-steps",
            "5",
            "--warmup-start-lr",
            "0.0001",
            "--decay",
            "0.001",
            "--compare",
            "-o",
            str(tmp_path / "w.svg"),
        ],
    )
    clr = {
        "mode": "triangular2",
        "max_lr": 0.006,
        "step_size": 6,
        "step_size_down": 10,
        "warmup_steps": 5,
        "warmup_start_lr": 0.0001,
    }
    assert kwargs == {
        "clr": clr,
        "learning_rate": 0.001,
        "decay": 0.001,
        "compare": True,
    }
    rates, _ = _stepped(0.001, clr, 5 + 3 * 16, decay=0.001)
    assert_rel(_gid(fig, "rate")[1], rates, rtol=1e-6)


def test_cli_total_steps_auto_spans_the_iterations(tmp_path, monkeypatch):
    _, fig = _run_cli_spy(
        monkeypatch,
        [
            "--mode",
            "1cycle",
            "--total-steps",
            "auto",
            "--iterations",
            "40",
            "-o",
            str(tmp_path / "a.png"),
        ],
    )
    rates, _ = _stepped(
        0.001, {"mode": "1cycle", "max_lr": 0.006, "total_steps": 40}, 40
    )
    assert_rel(_gid(fig, "rate")[1], rates, rtol=1e-6)


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--mode", "1cycle"],
            ["--total-steps", "Received: --total-steps=None"],
        ),
        (
            ["--mode", "1cycle", "--total-steps", "auto"],
            [
                "--iterations",
                "Received: --total-steps='auto', --iterations=None",
            ],
        ),
        (
            ["--mode", "1cycle", "--total-steps", "abc"],
            ["--total-steps", "Received: --total-steps='abc'"],
        ),
        (
            ["--mode", "1cycle", "--total-steps", "50", "--pct-start", "1.5"],
            ["--pct-start", "Received: --pct-start=1.5"],
        ),
        (
            ["--mode", "1cycle", "--total-steps", "3"],
            ["--pct-start", "--total-steps=3"],
        ),
        (
            [
                "--mode",
                "1cycle",
                "--total-steps",
                "50",
                "--final-div-factor",
                "0.5",
            ],
            ["--final-div-factor", "Received: --final-div-factor=0.5"],
        ),
        (
            ["--mode", "1cycle", "--total-steps", "50", "--anneal", "sine"],
            ["--anneal", "Received: --anneal='sine'"],
        ),
        (
            ["--mode", "1cycle", "--total-steps", "50", "--step-size", "5"],
            ["--step-size", "applies only to --mode a cyclical mode"],
        ),
        (
            ["--mode", "1cycle", "--total-steps", "50", "--compare"],
            ["--compare", "--mode='1cycle'"],
        ),
        (
            ["--pct-start", "0.3"],
            ["--pct-start", "applies only to --mode 1cycle"],
        ),
        (["--three-phase"], ["--three-phase", "applies only to --mode 1cycle"]),
        (
            ["--warmup-steps", "-1"],
            ["--warmup-steps", "Received: --warmup-steps=-1"],
        ),
        (
            ["--warmup-start-lr", "0.1"],
            ["--warmup-start-lr", "needs `--warmup-steps`"],
        ),
        (
            ["--step-size-down", "0"],
            ["--step-size-down", "Received: --step-size-down=0"],
        ),
        (
            ["--base-momentum", "0.85"],
            ["--max-momentum", "Received: --base-momentum=0.85"],
        ),
        (
            ["--base-momentum", "0.85", "--max-momentum", "1.5"],
            ["--max-momentum", "Received: --max-momentum=1.5"],
        ),
        (
            ["--warmup-steps", "2", "--gamma", "0.5"],
            ["--gamma", "Received: --gamma=0.5", "mode='triangular'"],
        ),
        (
            ["--warmup-steps", "2", "--max-lr", "-1"],
            ["--max-lr", "Received: --max-lr=-1"],
        ),
        (
            ["--warmup-steps", "2", "--base-lr", "x"],
            ["--base-lr", "Received: --base-lr='x'"],
        ),
    ],
)
def test_cli_bad_policy_options_exit_non_zero_naming_them(
    args, expected, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["plot"] + args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    for fragment in expected:
        assert fragment in err
    assert not list(tmp_path.iterdir())
