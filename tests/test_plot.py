import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_rel
from helpers import seed_formula

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
