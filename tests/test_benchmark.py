"""`python -m clr_optimizers benchmark`: every arm runs and the files are
written (`--quick`; who wins is not tested), and bad input is refused."""

import csv
import json
import sys

import pytest

from clr_optimizers import _benchmark
from clr_optimizers.__main__ import main

pytest.importorskip("sklearn")
pytest.importorskip("mnist1d")
pytest.importorskip("matplotlib")


@pytest.mark.tensorflow_only
def test_quick_runs_every_arm_and_writes_the_files(tmp_path, monkeypatch):
    import mnist1d.data
    import requests

    def no_download(*args, **kwargs):
        raise AssertionError("the benchmark must not download anything")

    monkeypatch.setattr(requests, "get", no_download)
    monkeypatch.setattr(mnist1d.data, "get_dataset", no_download)
    out = tmp_path / "results"
    report = _benchmark.run_benchmark(
        quick=True, seeds=1, output=str(out), stream=None
    )
    runs = report["runs"]
    for dataset in _benchmark.DATASETS:
        for optimizer in _benchmark.OPTIMIZERS:
            arms = {r["arm"] for r in runs if r["dataset"] == dataset
                    and r["optimizer"] == optimizer}
            expected = {"grid", "fixed", "cosine", "triangular2", "1cycle",
                        "triangular2 B/2", "1cycle B/2"}
            expected |= {f"rule {rule} {policy}"
                         for rule in co_rules() for policy in
                         _benchmark.POLICIES}
            if dataset == "mnist1d" and optimizer == "adam":
                expected.add("authors")
            assert expected <= arms, expected - arms
            summary_arms = {e["arm"] for e in report["summary"]
                            if e["dataset"] == dataset
                            and e["optimizer"] == optimizer}
            assert {"fixed", "cosine", "triangular2", "1cycle"} <= summary_arms
    assert report["default_rule"] in co_rules()
    for name in ("runs.csv", "runs.json", "summary.md",
                 "benchmark_mnist1d.png", "benchmark_digits.png"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "runs.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(runs)
    assert {"dataset", "optimizer", "arm", "seed", "final_val",
            "final_test", "wall_s", "updates_to_target"} <= set(rows[0])
    saved = json.loads((out / "runs.json").read_text())
    assert saved["default_rule"] == report["default_rule"]
    text = (out / "summary.md").read_text()
    assert "Suggestion rules" in text and "| fixed |" in text


def co_rules():
    from clr_optimizers._suggest import RULES

    return RULES


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "cifar10"],
         "`dataset` must be one of 'mnist1d', 'digits', 'all'. "
         "Received: dataset='cifar10'"),
        (["--optimizer", "rmsprop"],
         "`optimizer` must be one of 'sgd', 'adam', 'all'. "
         "Received: optimizer='rmsprop'"),
        (["--seeds", "0"], "`seeds` must be a whole number >= 1. "
         "Received: seeds=0"),
        (["--seeds", "-2"], "Received: seeds=-2"),
        (["--seeds", "2.5"], "Received: seeds=2.5"),
    ],
)
def test_bad_arguments(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as error:
        main(["benchmark", "-o", str(tmp_path), *argv])
    assert error.value.code == 2
    assert message in capsys.readouterr().err


def test_unwritable_output(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as error:
        main(["benchmark", "--quick", "-o", str(blocker / "results")])
    assert error.value.code == 2
    err = capsys.readouterr().err
    assert "-o/--output` must be a directory that can be created" in err
    assert str(blocker / "results") in err
    with pytest.raises(ValueError, match="must be a directory"):
        _benchmark.run_benchmark(quick=True, output=str(blocker))


def test_run_benchmark_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="'mnist1d', 'digits', 'all'"):
        _benchmark.run_benchmark(dataset=["digits", "svhn"],
                                 output=str(tmp_path))
    with pytest.raises(ValueError, match="seeds"):
        _benchmark.run_benchmark(seeds=True, output=str(tmp_path))


def test_without_the_extra_it_names_the_pip_install(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    with pytest.raises(ImportError, match=r"pip install "
                       r"'clr_optimizers\[benchmark\]'"):
        _benchmark.require_benchmark_extra()
    assert main(["benchmark", "--quick", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "needs mnist1d" in err
    assert "pip install 'clr_optimizers[benchmark]'" in err


def test_cli_passes_its_options(monkeypatch, tmp_path, capsys):
    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return {"summary": [], "rules": [], "seeds": kwargs["seeds"]}

    monkeypatch.setattr(_benchmark, "run_benchmark", fake)
    monkeypatch.setattr(_benchmark, "summary_markdown", lambda report: "")
    assert main(["benchmark", "--quick", "-o", str(tmp_path)]) == 0
    assert main(["benchmark", "--dataset", "digits", "--optimizer", "adam",
                 "--seeds", "3", "-o", str(tmp_path)]) == 0
    assert calls[0] == {"dataset": "all", "optimizer": "all", "seeds": 1,
                        "quick": True, "output": str(tmp_path)}
    assert calls[1] == {"dataset": "digits", "optimizer": "adam", "seeds": 3,
                        "quick": False, "output": str(tmp_path)}


def test_other_backends_get_a_clear_error(tmp_path, monkeypatch):
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(RuntimeError, match=r"needs the TensorFlow backend "
                       r"\(KERAS_BACKEND=tensorflow\). Received: 'jax'"):
        _benchmark.run_benchmark(quick=True, seeds=1, output=str(tmp_path), stream=None)
