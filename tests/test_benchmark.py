"""`python -m benchmarks.accuracy`: every arm runs and the files are written
(`--quick`; who wins is not tested), on the backend the tests run on, and bad
input is refused."""

import csv
import json
import pathlib
import re
import sys

import keras
import numpy as np
import pytest

from benchmarks.accuracy import arms
from benchmarks.accuracy import data
from benchmarks.accuracy import report
from benchmarks.accuracy import run
from benchmarks.accuracy.__main__ import main

pytest.importorskip("sklearn")
pytest.importorskip("mnist1d")
pytest.importorskip("matplotlib")

PACKAGE = pathlib.Path(arms.__file__).parent
RULES = run.RULES


def test_quick_runs_every_arm_and_writes_the_files(tmp_path, monkeypatch):
    import mnist1d.data
    import requests

    def no_download(*args, **kwargs):
        raise AssertionError("the benchmark must not download anything")

    monkeypatch.setattr(requests, "get", no_download)
    monkeypatch.setattr(mnist1d.data, "get_dataset", no_download)
    out = tmp_path / "results"
    results = run.run_benchmark(
        quick=True, seeds=1, output=str(out), stream=None
    )
    runs = results["runs"]
    for dataset in data.DATASETS:
        for optimizer in arms.OPTIMIZERS:
            ran = {
                r["arm"]
                for r in runs
                if r["dataset"] == dataset and r["optimizer"] == optimizer
            }
            expected = {
                "grid",
                "fixed",
                "cosine",
                "triangular2",
                "1cycle",
                "triangular2 B/2",
                "1cycle B/2",
            }
            expected |= {
                f"rule {rule} {policy}"
                for rule in RULES
                for policy in arms.POLICIES
            }
            if dataset == "mnist1d" and optimizer == "adam":
                expected.add("authors")
            assert expected <= ran, expected - ran
            summary_arms = {
                e["arm"]
                for e in results["summary"]
                if e["dataset"] == dataset and e["optimizer"] == optimizer
            }
            assert {"fixed", "cosine", "triangular2", "1cycle"} <= summary_arms
    assert results["default_rule"] in RULES
    assert results["backend"] == keras.backend.backend()
    for name in (
        "runs.csv",
        "runs.json",
        "summary.md",
        "benchmark_mnist1d.png",
        "benchmark_digits.png",
    ):
        assert (out / name).stat().st_size > 0, name
    with open(out / "runs.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(runs)
    assert {
        "dataset",
        "optimizer",
        "arm",
        "seed",
        "final_val",
        "final_test",
        "wall_s",
        "updates_to_target",
    } <= set(rows[0])
    saved = json.loads((out / "runs.json").read_text())
    assert saved["default_rule"] == results["default_rule"]
    text = (out / "summary.md").read_text()
    assert "Suggestion rules" in text and "| fixed |" in text
    assert f"Keras backend: {keras.backend.backend()}" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--dataset", "cifar10"],
            "`dataset` must be one of 'mnist1d', 'digits', 'all'. "
            "Received: dataset='cifar10'",
        ),
        (
            ["--optimizer", "rmsprop"],
            "`optimizer` must be one of 'sgd', 'adam', 'all'. "
            "Received: optimizer='rmsprop'",
        ),
        (
            ["--seeds", "0"],
            "`seeds` must be a whole number >= 1. Received: seeds=0",
        ),
        (["--seeds", "-2"], "Received: seeds=-2"),
        (["--seeds", "2.5"], "Received: seeds=2.5"),
    ],
)
def test_bad_arguments(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as error:
        main(["-o", str(tmp_path), *argv])
    assert error.value.code == 2
    assert message in capsys.readouterr().err


def test_unwritable_output(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as error:
        main(["--quick", "-o", str(blocker / "results")])
    assert error.value.code == 2
    err = capsys.readouterr().err
    assert "-o/--output` must be a directory that can be created" in err
    assert str(blocker / "results") in err
    with pytest.raises(ValueError, match="must be a directory"):
        run.run_benchmark(quick=True, output=str(blocker))


def test_run_benchmark_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="'mnist1d', 'digits', 'all'"):
        run.run_benchmark(dataset=["digits", "svhn"], output=str(tmp_path))
    with pytest.raises(ValueError, match="seeds"):
        run.run_benchmark(seeds=True, output=str(tmp_path))


def test_without_the_extra_it_names_the_pip_install(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    with pytest.raises(ImportError, match=r"pip install '\.\[benchmark\]'"):
        run.require_benchmark_extra()
    assert main(["--quick", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "needs mnist1d" in err
    assert "pip install '.[benchmark]'" in err
    assert "Received: missing modules 'mnist1d'" in err


def test_cli_passes_its_options(monkeypatch, tmp_path, capsys):
    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return {"summary": [], "rules": [], "seeds": kwargs["seeds"]}

    monkeypatch.setattr(run, "run_benchmark", fake)
    monkeypatch.setattr(report, "summary_markdown", lambda results: "")
    assert main(["--quick", "-o", str(tmp_path)]) == 0
    assert (
        main(
            [
                "--dataset",
                "digits",
                "--optimizer",
                "adam",
                "--seeds",
                "3",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert calls[0] == {
        "dataset": "all",
        "optimizer": "all",
        "seeds": 1,
        "quick": True,
        "output": str(tmp_path),
    }
    assert calls[1] == {
        "dataset": "digits",
        "optimizer": "adam",
        "seeds": 3,
        "quick": False,
        "output": str(tmp_path),
    }
    assert run.DEFAULT_OUTPUT == "benchmark_results"
    assert main.__module__ == "benchmarks.accuracy.__main__"


def test_the_package_has_no_benchmark_command(capsys):
    from clr_optimizers.__main__ import main as package_main

    with pytest.raises(SystemExit) as error:
        package_main(["benchmark", "--quick"])
    assert error.value.code == 2
    assert "invalid choice: 'benchmark'" in capsys.readouterr().err


def test_no_backend_specific_code():
    # The math is keras.ops and NumPy; PyTorch is only told its threads.
    for path in sorted(PACKAGE.glob("*.py")):
        text = path.read_text()
        assert not re.search(
            r"^\s*(import|from) (tensorflow|jax)\b", text, re.M
        ), path.name
        assert not re.search(r"\b(tf|jnp|jax)\.", text), path.name
        assert not re.search(r"\btorch\.(?!(get|set)_num_threads\b)", text), (
            path.name
        )


def test_arms_are_named_once():
    assert arms.ARMS == (
        "fixed",
        "authors",
        "cosine",
        "triangular2",
        "1cycle",
        "triangular2 B/2",
        "1cycle B/2",
    )
    assert arms.rule_arm("valley", "1cycle").name == "rule valley 1cycle"
    assert arms.rule_arm("valley", "1cycle").half
    assert arms.AUTHORS.applies("mnist1d", "adam")
    assert not arms.AUTHORS.applies("mnist1d", "sgd")
    assert not arms.AUTHORS.applies("digits", "adam")
    assert [
        len(arms.grid(o, quick))
        for o in arms.OPTIMIZERS
        for quick in (False, True)
    ] == [5, 2, 5, 2]


def test_batch_order_reshuffles_every_pass():
    order = data.batch_order(10, 4, 6, seed=3)
    assert order.shape == (24,)
    assert sorted(order[:10]) == list(range(10))
    assert sorted(order[10:20]) == list(range(10))
    assert not np.array_equal(order[:10], order[10:20])
    np.testing.assert_array_equal(order, data.batch_order(10, 4, 6, seed=3))
    assert not np.array_equal(order, data.batch_order(10, 4, 6, seed=4))


def test_a_seed_fixes_the_initial_weights():
    first = data.build_model("digits", seed=1).get_weights()
    again = data.build_model("digits", seed=1).get_weights()
    other = data.build_model("digits", seed=2).get_weights()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_verdict():
    assert report.verdict([0.9, 0.91, 0.92], [0.8, 0.81, 0.82]) == "won"
    assert report.verdict([0.8, 0.81, 0.82], [0.9, 0.91, 0.92]) == "lost"
    assert report.verdict([0.8, 0.9, 0.85], [0.82, 0.88, 0.86]) == "tied"
    assert report.verdict([0.9], [0.8, 0.81]) == "n/a"
