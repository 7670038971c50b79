"""The accuracy benchmark (benchmarks/accuracy): every arm runs on every task
(`--quick`; who wins is not tested), on the backend the tests run on, and bad
input gets a clear error."""

import csv
import json
import math
import pathlib
import re
import sys

import keras
import numpy as np
import pytest

from benchmarks.accuracy import arms
from benchmarks.accuracy import backend
from benchmarks.accuracy import models
from benchmarks.accuracy import range_tests
from benchmarks.accuracy import report
from benchmarks.accuracy import rule_study
from benchmarks.accuracy import run
from benchmarks.accuracy import tasks
from benchmarks.accuracy.__main__ import main
from clr_optimizers._range_test._rules import DEFAULT_RULE
from clr_optimizers._range_test._rules import RULES

pytest.importorskip("sklearn")
pytest.importorskip("mnist1d")
pytest.importorskip("matplotlib")

PACKAGE = pathlib.Path(arms.__file__).parent
BACKEND = keras.backend.backend()


@pytest.fixture
def no_downloads(monkeypatch):
    import mnist1d.data
    import requests

    def no_download(*args, **kwargs):
        raise AssertionError("the benchmark must not download anything")

    monkeypatch.setattr(requests, "get", no_download)
    monkeypatch.setattr(mnist1d.data, "get_dataset", no_download)


def test_quick_runs_every_arm_on_every_task(tmp_path, no_downloads):
    out = tmp_path / "results"
    results = run.run_benchmark(
        quick=True, seeds=1, output=str(out), stream=None
    )
    runs = results["runs"]
    for task in tasks.TASKS:
        for optimizer in arms.OPTIMIZERS:
            ran = {
                r["arm"]
                for r in runs
                if r["task"] == task and r["optimizer"] == optimizer
            }
            assert {"grid fixed", "grid cosine", *arms.ARMS} == ran, ran
            summary_arms = [
                e["arm"]
                for e in results["summary"]
                if e["task"] == task and e["optimizer"] == optimizer
            ]
            assert summary_arms == list(arms.ARMS)
            assert len(results["range_tests"][f"{task} {optimizer}"]) == 1
    roles = {r["task"]: r["role"] for r in runs}
    assert {t for t, role in roles.items() if role == "development"} == set(
        tasks.DEVELOPMENT
    )
    assert set(results["scoreboard"]) == {"development", "confirmation"}
    assert results["rule"] == DEFAULT_RULE
    assert results["backend"] == BACKEND
    names = ["runs.csv", "runs.json", "summary.md"]
    names += [f"benchmark_{t}.png" for t in tasks.TASKS]
    for name in names:
        assert (out / name).stat().st_size > 0, name
    with open(out / "runs.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(runs)
    assert {
        "task",
        "role",
        "optimizer",
        "arm",
        "seed",
        "final_val",
        "final_test",
        "diverged",
        "updates_to_target",
    } <= set(rows[0])
    saved = json.loads((out / "runs.json").read_text())
    assert saved["rule"] == DEFAULT_RULE
    text = (out / "summary.md").read_text()
    assert "| confirmation |" in text and "| 1cycle |" in text
    assert f"backend {BACKEND}" in text


def test_one_task_and_rule(tmp_path, no_downloads):
    results = run.run_benchmark(
        tasks="digits-mlp",
        optimizer="adam",
        quick=True,
        output=str(tmp_path),
        rule="steepest",
        stream=None,
    )
    assert results["tasks"] == ["digits-mlp"]
    assert results["rule"] == "steepest"
    (test,) = results["range_tests"]["digits-mlp adam"].values()
    (sweep,) = test["sweeps"]
    assert test["pair"] == sweep["suggestions"]["steepest"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--tasks", "cifar10"],
            "`tasks` must be one of 'development', 'confirmation', 'all', "
            "'mnist1d-cnn', ",
        ),
        (["--tasks", "digits-mlp", "svhn"], "Received: tasks='svhn'"),
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
        (["--seeds", "2.5"], "Received: seeds='2.5'"),
        (["--rule", "biggest"], "Received: rule='biggest'"),
        (["--rule", "biggest"], "'minimum_third'"),
        (
            ["--backend", "numpy"],
            "`backend` must be one of 'jax', 'tensorflow', 'torch'. "
            "Received: backend='numpy'",
        ),
    ],
)
def test_bad_arguments(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as error:
        main(["--backend", BACKEND, "-o", str(tmp_path), *argv])
    assert error.value.code == 2
    assert message in capsys.readouterr().err


def test_another_backend_than_the_imported_one(capsys, tmp_path):
    other = "torch" if BACKEND != "torch" else "jax"
    with pytest.raises(SystemExit):
        main(["--backend", other, "--quick", "-o", str(tmp_path)])
    err = capsys.readouterr().err
    assert f"already imported with the {BACKEND!r} backend" in err
    assert f"KERAS_BACKEND={other}" in err
    assert backend.select_backend(BACKEND) == BACKEND


def test_unwritable_output(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as error:
        main(["--backend", BACKEND, "-o", str(blocker / "results")])
    assert error.value.code == 2
    err = capsys.readouterr().err
    assert "-o/--output` must be a directory that can be created" in err
    assert str(blocker / "results") in err
    with pytest.raises(ValueError, match="must be a directory"):
        run.run_benchmark(quick=True, output=str(blocker))


def test_run_benchmark_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="Received: tasks='svhn'"):
        run.run_benchmark(tasks=["digits-mlp", "svhn"], output=str(tmp_path))
    with pytest.raises(ValueError, match="at least one task"):
        run.run_benchmark(tasks=[], output=str(tmp_path))
    with pytest.raises(ValueError, match="seeds"):
        run.run_benchmark(seeds=True, output=str(tmp_path))
    with pytest.raises(ValueError, match="rule"):
        run.run_benchmark(rule="largest", output=str(tmp_path))


def test_without_the_extra_it_names_the_pip_install(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    with pytest.raises(ImportError, match=r"pip install '\.\[benchmark\]'"):
        run.require_benchmark_extra()
    assert main(["--backend", BACKEND, "--quick", "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "needs mnist1d" in err
    assert "pip install '.[benchmark]'" in err
    assert "Received: missing modules 'mnist1d'" in err


def test_cli_passes_its_options(monkeypatch, tmp_path):
    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return {}

    monkeypatch.setattr(run, "run_benchmark", fake)
    monkeypatch.setattr(report, "summary_markdown", lambda results: "")
    assert main(["--backend", BACKEND, "--quick", "-o", str(tmp_path)]) == 0
    argv = ["--backend", BACKEND, "--tasks", "confirmation", "digits-mlp"]
    argv += ["--optimizer", "adam", "--seeds", "3", "--rule", "valley"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert calls == [
        {
            "tasks": ["all"],
            "optimizer": "all",
            "seeds": 1,
            "quick": True,
            "output": str(tmp_path),
            "rule": None,
        },
        {
            "tasks": ["confirmation", "digits-mlp"],
            "optimizer": "adam",
            "seeds": 3,
            "quick": False,
            "output": str(tmp_path),
            "rule": "valley",
        },
    ]
    assert run.DEFAULT_OUTPUT == "benchmark_results"


def test_the_default_backend(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.delitem(sys.modules, "keras")
    assert backend.select_backend() == backend.DEFAULT_BACKEND == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert backend.select_backend() == "torch"


def test_select_tasks():
    assert tasks.select_tasks("all") == list(tasks.TASKS)
    assert tasks.select_tasks("development") == ["mnist1d-cnn", "digits-mlp"]
    assert tasks.select_tasks(["teacher-mlp", "development"]) == [
        "mnist1d-cnn",
        "digits-mlp",
        "teacher-mlp",
    ]
    assert len(tasks.CONFIRMATION) >= 3
    assert not set(tasks.CONFIRMATION) & set(tasks.DEVELOPMENT)


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


def test_arms_and_grids():
    assert arms.ARMS == (
        "defaults",
        "fixed",
        "cosine",
        "1cycle",
        "1cycle B/2",
        "triangular2",
        "triangular2 B/2",
    )
    np.testing.assert_allclose(
        arms.GRIDS["sgd"], [10**-2.5, 0.01, 10**-1.5, 0.1, 10**-0.5, 1.0]
    )
    np.testing.assert_allclose(
        arms.GRIDS["adam"], np.array(arms.GRIDS["sgd"]) / 10
    )
    assert [len(arms.grid("adam", quick)) for quick in (False, True)] == [6, 1]
    assert arms.DEFAULT_RATES == {
        "sgd": pytest.approx(keras.optimizers.SGD().learning_rate.numpy()),
        "adam": pytest.approx(keras.optimizers.Adam().learning_rate.numpy()),
    }


def test_batch_order_reshuffles_every_pass():
    order = tasks.batch_order(10, 4, 6, seed=3)
    assert order.shape == (24,)
    assert sorted(order[:10]) == list(range(10))
    assert sorted(order[10:20]) == list(range(10))
    assert not np.array_equal(order[:10], order[10:20])
    np.testing.assert_array_equal(order, tasks.batch_order(10, 4, 6, seed=3))
    assert not np.array_equal(order, tasks.batch_order(10, 4, 6, seed=4))


@pytest.mark.parametrize("kind", sorted(models.MODELS))
def test_a_seed_fixes_the_initial_weights(kind):
    shape = (40, 1) if kind in ("cnn", "gru") else (20,)
    first = models.build_model(kind, shape, 5, seed=1).get_weights()
    again = models.build_model(kind, shape, 5, seed=1).get_weights()
    other = models.build_model(kind, shape, 5, seed=2).get_weights()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_median_of_the_sweeps():
    nan = math.nan
    assert range_tests.median_pair([[1, 4], [2, 8], [nan, nan], [3, 2]]) == (
        2.0,
        4.0,
    )
    assert all(math.isnan(v) for v in range_tests.median_pair([[nan, 1.0]]))
    sweeps = [
        {"suggestions": {"a": [1.0, 4.0], "b": [0.1, 0.2]}},
        {"suggestions": {"a": [3.0, 12.0], "b": [0.3, 0.4]}},
        {"suggestions": {"a": [2.0, 5.0], "b": [0.2, 0.9]}},
        {"suggestions": {"a": [9.0, 99.0], "b": [9.0, 99.0]}},
    ]
    assert range_tests.combined(sweeps) == {"a": (2.0, 5.0), "b": (0.2, 0.4)}


def test_rule_study_spreads():
    assert rule_study.spread([2.0, 8.0, math.nan, 4.0]) == 4.0
    # Medians of 3 of (1, 2, 4, 8, 16): from 2 (1, 2, 4) to 8 (4, 8, 16).
    assert rule_study.median_spread([1.0, 2.0, 4.0, 8.0, 16.0]) == 4.0


def test_rule_study_chooses_the_best_rule_that_never_failed():
    rows = []
    for rule, vals, diverged in (
        ("a", [0.9, 0.8], [False, False]),
        ("b", [0.99, 0.99], [False, True]),
        ("c", [0.7, 0.7], [False, False]),
    ):
        for seed, (val, bad) in enumerate(zip(vals, diverged)):
            rows.append(
                {
                    "task": "t",
                    "optimizer": "sgd",
                    "seed": seed,
                    "rule": rule,
                    "max_lr": 0.1,
                    "sweep_spread": 1.0,
                    "median_spread": 1.0,
                    "final_val": val,
                    "diverged": bad,
                    "usable": True,
                }
            )
    record = rule_study.summarize(rows, seeds=2, wall_s=1.0)
    assert record["default_rule"] == "a"
    scores = {t["rule"]: t["score"] for t in record["rules"]}
    assert scores == pytest.approx({"a": 0.85, "b": 0.99, "c": 0.7})
    assert "`a` (default)" in rule_study.markdown(record)


def test_the_rule_study_never_touches_a_confirmation_task(monkeypatch):
    loaded = []
    original = tasks.Task.__init__

    def spy(self, name, quick, seeds):
        loaded.append(name)
        original(self, name, quick, seeds)

    monkeypatch.setattr(tasks.Task, "__init__", spy)
    record = rule_study.study(seeds=1, quick=True, stream=None)
    assert loaded == list(tasks.DEVELOPMENT)
    assert record["default_rule"] in RULES
    assert {r["rule"] for r in record["rows"]} == set(RULES)


def _entry(arm, tests, tuning, diverged=0):
    return {
        "arm": arm,
        "tests": tests,
        "tuning_updates": tuning,
        "diverged": diverged,
    }


def test_the_goal_follows_the_verdicts():
    good = [0.90, 0.91, 0.92]
    entries = [
        _entry("defaults", [0.80, 0.81, 0.82], 0),
        _entry("fixed", [0.90, 0.905, 0.915], 12000),
        _entry("cosine", [0.91, 0.92, 0.90], 12000),
        _entry("1cycle", good, 720),
    ]
    report._judge(entries)
    assert entries[3]["verdicts"] == {
        "defaults": "won",
        "fixed": "tied",
        "cosine": "tied",
    }
    assert entries[3]["goal_met"]
    entries[3] = _entry("1cycle", good, 2401)
    report._judge(entries)
    assert entries[3]["goal"]["tuning <= grid / 5"] is False
    assert not entries[3]["goal_met"]
    entries[3] = _entry("1cycle", [0.80, 0.81, 0.82], 720)
    report._judge(entries)
    assert entries[3]["verdicts"]["fixed"] == "lost"
    assert not entries[3]["goal_met"]


def test_verdict():
    assert report.verdict([0.9, 0.91, 0.92], [0.8, 0.81, 0.82]) == "won"
    assert report.verdict([0.8, 0.81, 0.82], [0.9, 0.91, 0.92]) == "lost"
    assert report.verdict([0.8, 0.9, 0.85], [0.82, 0.88, 0.86]) == "tied"
    assert report.verdict([0.9], [0.8, 0.81]) == "n/a"


def test_the_diagnosis_reruns_the_recorded_1cycle_runs(tmp_path, no_downloads):
    from benchmarks.accuracy import diagnosis

    out = tmp_path / "run"
    results = run.run_benchmark(
        tasks="digits-mlp",
        optimizer="sgd",
        quick=True,
        output=str(out),
        stream=None,
    )
    assert (
        diagnosis.main(
            [
                "--runs",
                str(out / "runs.json"),
                "--tasks",
                "digits-mlp",
                "-o",
                str(tmp_path / "diagnosis"),
            ]
        )
        == 0
    )
    saved = json.loads((tmp_path / "diagnosis" / "diagnosis.json").read_text())
    variants = {r["variant"]: r for r in saved["rows"]}
    assert set(variants) == {*RULES, diagnosis.PEAK}
    (one_cycle,) = [r for r in results["runs"] if r["arm"] == "1cycle"]
    # The default rule's run is the benchmark's own 1cycle run, again.
    assert variants[DEFAULT_RULE]["max_lr"] == one_cycle["max_lr"]
    assert variants[DEFAULT_RULE]["final_test"] == one_cycle["final_test"]
    peak = results["tuned_rates"]["digits-mlp sgd cosine"]
    assert variants[diagnosis.PEAK]["max_lr"] == peak
    text = (tmp_path / "diagnosis" / "diagnosis.md").read_text()
    assert "| digits-mlp | sgd | cosine peak |" in text


def test_the_diagnosis_refuses_tasks_the_run_did_not_have(tmp_path, capsys):
    from benchmarks.accuracy import diagnosis

    path = tmp_path / "runs.json"
    path.write_text(json.dumps({"backend": BACKEND, "tasks": ["digits-mlp"]}))
    with pytest.raises(SystemExit):
        diagnosis.main(["--runs", str(path), "--tasks", "teacher-mlp"])
    assert "Received: ['teacher-mlp']" in capsys.readouterr().err
