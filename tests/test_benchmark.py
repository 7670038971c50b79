"""The accuracy benchmark (benchmarks/accuracy): every arm runs on every task
of `QUICK_TASKS` (`--quick`; who wins is not tested), on the backend the tests
run on; the confirmation tasks' data and models are as specified; bad input
gets a clear error."""

import csv
import json
import math
import os
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
from benchmarks.accuracy import training
from benchmarks.accuracy.__main__ import main
from clr_optimizers._range_test._rules import DEFAULT_RULE
from clr_optimizers._range_test._rules import RULES

pytest.importorskip("sklearn")
pytest.importorskip("mnist1d")
pytest.importorskip("matplotlib")
pytest.importorskip("statsmodels")

PACKAGE = pathlib.Path(arms.__file__).parent
BACKEND = keras.backend.backend()
# The tasks the `--quick` run trains: a group of `tasks.GROUPS`.
QUICK_TASKS = "all"


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
        tasks=QUICK_TASKS, quick=True, seeds=1, output=str(out), stream=None
    )
    quick_tasks = tasks.select_tasks(QUICK_TASKS)
    assert results["tasks"] == quick_tasks
    runs = results["runs"]
    for task in quick_tasks:
        for optimizer in arms.OPTIMIZERS:
            expected = [
                arm.name
                for arm in arms.arms_of_run()
                if arm.runs_with(optimizer)
            ]
            ran = {
                r["arm"]
                for r in runs
                if r["task"] == task and r["optimizer"] == optimizer
            }
            assert {"grid fixed", "grid cosine", *expected} == ran, ran
            summary_arms = [
                e["arm"]
                for e in results["summary"]
                if e["task"] == task and e["optimizer"] == optimizer
            ]
            assert summary_arms == expected
            assert len(results["range_tests"][f"{task} {optimizer}"]) == 1
    assert {r["arm"] for r in runs if r["optimizer"] == "sgd"}.isdisjoint(
        {arms.SCHEDULE_FREE.name, arms.SCHEDULE_FREE_ALGOPERF.name}
    )
    roles = {r["task"]: r["role"] for r in runs}
    assert {t for t, role in roles.items() if role == "development"} == set(
        tasks.DEVELOPMENT
    ) & set(quick_tasks)
    assert set(results["scoreboard"]) == set(roles.values())
    for role in results["scoreboard"].values():
        assert set(role) == {
            arms.ONE_CYCLE.name,
            arms.FIND_MAX_LR.name,
            arms.SCHEDULE_FREE.name,
            arms.SCHEDULE_FREE_ALGOPERF.name,
        }
        assert [name for name, arm in role.items() if "goal" in arm] == [
            arms.FIND_MAX_LR.name
        ]
    assert {r["metric"] for r in runs} == {
        tasks.SETTINGS[t].metric for t in quick_tasks
    }
    assert results["rule"] == DEFAULT_RULE
    assert results["backend"] == BACKEND
    names = ["runs.csv", "runs.json", "summary.md"]
    names += [f"benchmark_{t}.png" for t in quick_tasks]
    for name in names:
        assert (out / name).stat().st_size > 0, name
    with open(out / "runs.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(runs)
    assert {
        "task",
        "role",
        "metric",
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
    assert f"| {arms.ONE_CYCLE.name} |" in text
    assert f"| {quick_tasks[0]} | accuracy | adam |" in text
    assert "final test accuracy" in text
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
    argv += ["--without-find-max-lr"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    assert calls == [
        {
            "tasks": ["all"],
            "optimizer": "all",
            "seeds": 1,
            "quick": True,
            "output": str(tmp_path),
            "rule": None,
            "with_find_max_lr": True,
        },
        {
            "tasks": ["confirmation", "digits-mlp"],
            "optimizer": "adam",
            "seeds": 3,
            "quick": False,
            "output": str(tmp_path),
            "rule": "valley",
            "with_find_max_lr": False,
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
    assert tasks.select_tasks("development") == [
        "mnist1d-cnn",
        "digits-mlp",
        "mnist1d-mlp",
        "mnist1d-gru",
        "teacher-mlp",
        "clusters-mlp",
    ]
    assert tasks.select_tasks("confirmation") == [
        "friedman-mlp",
        "fair-mlp",
        "shapes-cnn",
        "hastie-bn",
    ]
    assert tasks.select_tasks(["hastie-bn", "development", "digits-mlp"]) == [
        *tasks.DEVELOPMENT,
        "hastie-bn",
    ]
    assert not set(tasks.CONFIRMATION) & set(tasks.DEVELOPMENT)
    assert set(tasks.SETTINGS) == set(tasks.TASKS)
    for settings in tasks.SETTINGS.values():
        assert settings.metric in tasks.METRICS
        assert (settings.budget // 2) % settings.every == 0


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
        "1cycle (range test)",
        "schedule-free",
        "schedule-free AlgoPerf",
    )
    assert arms.arms_of_run(with_find_max_lr=False) == arms.HEADLINE
    assert arms.arms_of_run() == (*arms.HEADLINE, arms.FIND_MAX_LR)
    assert arms.FIND_MAX_LR.name == "1cycle (find_max_lr)"
    assert arms.FIND_MAX_LR.tuning == "find_max_lr"
    assert arms.FIND_MAX_LR.kind == "onecycle-callback"
    for arm in (arms.SCHEDULE_FREE, arms.SCHEDULE_FREE_ALGOPERF):
        assert arm.runs_with("adam") and not arm.runs_with("sgd")
    assert all(arm.runs_with("sgd") for arm in arms.REFERENCES)
    assert arms.BASELINES == (*arms.REFERENCES, arms.SCHEDULE_FREE)
    assert arms.GOAL_ARMS == (arms.FIND_MAX_LR,)
    assert arms.arm_named("fixed") is arms.FIXED
    with pytest.raises(ValueError, match="Received: name='triangular2'"):
        arms.arm_named("triangular2")
    assert arms.algoperf_warmup(1500) == 30
    assert arms.algoperf_warmup(1000) == 20
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
    shapes = {"cnn": (40, 1), "gru": (40, 1), "cnn2d": (16, 16, 1)}
    shape = shapes.get(kind, (20,))
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
    # Two of the development tasks, for time: the study's loop is the same.
    monkeypatch.setattr(tasks, "DEVELOPMENT", ("digits-mlp", "clusters-mlp"))
    record = rule_study.study(seeds=1, quick=True, stream=None)
    assert loaded == ["digits-mlp", "clusters-mlp"]
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
    name = arms.FIND_MAX_LR.name
    entries = [
        _entry("defaults", [0.80, 0.81, 0.82], 0),
        _entry("fixed", [0.90, 0.905, 0.915], 12000),
        _entry("cosine", [0.91, 0.92, 0.90], 12000),
        _entry(arms.ONE_CYCLE.name, good, 720),
        _entry(arms.SCHEDULE_FREE.name, [0.80, 0.81, 0.82], 0),
        _entry(name, good, 2400),
    ]
    report._judge(entries)
    assert all("verdicts" not in e for e in entries[:3])
    assert entries[5]["verdicts"] == {
        "defaults": "won",
        "fixed": "tied",
        "cosine": "tied",
        "schedule-free": "won",
    }
    assert entries[5]["goal"] == {
        "ties or beats cosine": True,
        "beats defaults": True,
        "beats schedule-free": True,
        "tuning <= cosine grid / 5": True,
    }
    # Schedule-free is judged against the others, not itself; only the
    # find_max_lr arm has a goal.
    assert entries[4]["verdicts"] == {
        "defaults": "tied",
        "fixed": "lost",
        "cosine": "lost",
    }
    assert "goal" not in entries[3] and "goal" not in entries[4]
    entries[5] = _entry(name, good, 2401)
    report._judge(entries)
    assert entries[5]["goal"]["tuning <= cosine grid / 5"] is False
    entries[5] = _entry(name, [0.80, 0.81, 0.82], 720)
    report._judge(entries)
    assert entries[5]["goal"]["ties or beats cosine"] is False
    assert entries[5]["goal"]["beats defaults"] is False
    # On an SGD pair, there is no schedule-free to beat.
    del entries[4]
    report._judge(entries)
    assert "beats schedule-free" not in entries[4]["goal"]


def test_the_goal_over_a_roles_pairs():
    name = arms.FIND_MAX_LR.name

    def pair(cosine=True, defaults=True):
        return {
            "role": "confirmation",
            "arm": name,
            "verdicts": {"cosine": "tied", "defaults": "won"},
            "goal": {
                "ties or beats cosine": cosine,
                "beats defaults": defaults,
                "tuning <= cosine grid / 5": True,
            },
        }

    board = report.scoreboard([pair(), pair(), pair(defaults=False)])
    (arm,) = board["confirmation"].values()
    assert arm["goal"]["beats defaults"] == [2, 3]
    assert arm["cosine"] == {"won": 0, "tied": 3, "lost": 0}
    assert arm["goal met"]
    # Most pairs is not enough where every pair is needed, and half is not
    # most.
    board = report.scoreboard([pair(), pair(), pair(cosine=False)])
    assert not board["confirmation"][name]["goal met"]
    board = report.scoreboard([pair(), pair(defaults=False)])
    assert not board["confirmation"][name]["goal met"]
    text = report.scoreboard_markdown({"scoreboard": board})
    assert "missed: ties or beats cosine 2/2 (every pair), beats defaults" in (
        "\n".join(text)
    )


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
    (one_cycle,) = [
        r for r in results["runs"] if r["arm"] == arms.ONE_CYCLE.name
    ]
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


# The confirmation tasks, as specified: each split's shape, dtype and class
# balance, and the model's output (none of them is trained here).
CONFIRMATION_SPLITS = {
    "friedman-mlp": ((10,), "float32", (3200, 800, 1000), "r2", 1),
    "fair-mlp": ((8,), "int32", (4566, 800, 1000), "accuracy", 2),
    "shapes-cnn": ((16, 16, 1), "int32", (4200, 800, 1000), "accuracy", 5),
    "hastie-bn": ((10,), "int32", (4200, 800, 1000), "accuracy", 2),
}


@pytest.mark.parametrize("name", sorted(CONFIRMATION_SPLITS))
def test_the_confirmation_tasks_data_and_models(name, no_downloads):
    shape, label_dtype, sizes, metric, outputs = CONFIRMATION_SPLITS[name]
    task = tasks.Task(name, quick=False, seeds=2)
    assert task.role == "confirmation"
    assert task.metric == metric and task.outputs == outputs
    splits = [
        (task.x, task.y),
        (task.x_val, task.y_val),
        (task.x_test, task.y_test),
    ]
    for (x, y), size in zip(splits, sizes):
        assert x.shape == (size, *shape) and x.dtype == "float32"
        assert y.shape == (size,) and y.dtype == label_dtype
        assert np.all(np.isfinite(x))
        if task.regression:
            assert np.all(np.isfinite(y))
        else:
            counts = np.bincount(y, minlength=outputs)
            assert counts.min() > 0
            # Stratified: each split's class shares are the training's.
            np.testing.assert_allclose(
                counts / size, np.bincount(task.y) / len(task.y), atol=0.01
            )
    flat = task.x.reshape(len(task.x), -1)
    if name != "shapes-cnn" and name != "hastie-bn":
        # Standardized with the training split's mean and std.
        np.testing.assert_allclose(flat.mean(0), 0.0, atol=1e-5)
        np.testing.assert_allclose(flat.std(0), 1.0, atol=1e-4)
    if task.regression:
        assert abs(task.y.mean()) < 1e-5 and abs(task.y.std() - 1) < 1e-4
    model = task.build_model(0)
    assert model.output_shape == (None, outputs)
    for a, b in zip(task.initial_weights[0], model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_shapes_are_balanced_and_drawn_as_specified():
    x, y, x_val, y_val, x_test, y_test = tasks.load_data("shapes")
    labels = np.concatenate([y, y_val, y_test])
    assert np.bincount(labels).tolist() == [1200] * len(tasks.SHAPES)
    rows, cols = np.mgrid[0:16, 0:16].astype("float64")
    areas = {}
    for shape in tasks.SHAPES:
        mask = tasks._shape_mask(shape, rows, cols, (8.0, 8.0), 5.0, 1.0)
        areas[shape] = int(mask.sum())
        assert mask[8, 8] == (shape != "ring"), shape
    assert areas["ring"] < areas["disk"] < areas["square"]
    assert areas["plus"] == 21
    triangle = tasks._shape_mask("triangle", rows, cols, (8.0, 8.0), 5.0, 1.0)
    assert triangle[3].sum() == 1 and triangle[13].sum() == 11


def test_the_scores():
    outputs = np.array([[2.0, 1.0], [0.0, 3.0], [np.nan, 9.0], [5.0, 1.0]])
    assert training.accuracy(outputs, [0, 1, 1, 1]) == 0.5
    targets = np.array([1.0, 2.0, 3.0, 4.0])
    assert training.r_squared(targets[:, None], targets) == 1.0
    assert training.r_squared(np.full((4, 1), 2.5), targets) == 0.0
    # A non-finite prediction counts as 0.
    with_nan = np.array([[1.0], [2.0], [np.inf], [4.0]])
    sse = 3.0**2
    assert training.r_squared(with_nan, targets) == pytest.approx(1 - sse / 5)


def _schedule_free_in_numpy(h, targets, kernel, bias, steps, lr, warmup):
    """ScheduleFreeAdamW (Defazio et al.) in float64, x kept explicitly.

    A Dense layer on the inputs `h`, the mean squared error, full batches.
    Returns the (x, y) sequences' last values, each {"kernel", "bias"}.
    """
    beta_1, beta_2, epsilon = 0.9, 0.999, 1e-8
    params = {"kernel": kernel, "bias": bias}
    x = {k: v.astype("float64") for k, v in params.items()}
    y = {k: v.copy() for k, v in x.items()}
    z = {k: v.copy() for k, v in x.items()}
    v = {k: np.zeros_like(p) for k, p in x.items()}
    for t in range(1, steps + 1):
        error = h @ y["kernel"] + y["bias"] - targets
        grad_out = 2.0 * error / error.size
        grads = {"kernel": h.T @ grad_out, "bias": grad_out.sum(0)}
        rate = lr * min(t / warmup, 1.0)
        for k, g in grads.items():
            v[k] = beta_2 * v[k] + (1 - beta_2) * g**2
            denom = np.sqrt(v[k] / (1 - beta_2**t)) + epsilon
            z[k] = z[k] - rate * g / denom
            x[k] = (1 - 1 / t) * x[k] + z[k] / t
            y[k] = (1 - beta_1) * z[k] + beta_1 * x[k]
    return x, y


@pytest.mark.skipif(
    BACKEND != "jax",
    reason="Keras's ScheduleFreeAdamW follows the algorithm on JAX only: on "
    "PyTorch and TensorFlow its `momentum_old` reads the slot after its "
    "update, so x is recovered from the new z",
)
def test_schedule_free_evaluation_uses_the_averaged_weights():
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((8, 3)).astype("float32")
    targets = rng.standard_normal((8, 2)).astype("float32")
    # A frozen batch normalization first: non-trainable weights, listed
    # before the trainable ones.
    norm = keras.layers.BatchNormalization()
    norm.trainable = False
    model = keras.Sequential([keras.Input((3,)), norm, keras.layers.Dense(2)])
    gamma, beta = np.array([1.5, 0.5, 2.0]), np.array([0.1, -0.2, 0.3])
    mean, var = np.array([0.2, -0.1, 0.0]), np.array([0.5, 2.0, 1.0])
    norm.set_weights([w.astype("float32") for w in (gamma, beta, mean, var)])
    kernel, bias = (w.copy() for w in model.layers[-1].get_weights())
    optimizer = keras.optimizers.ScheduleFreeAdamW(
        learning_rate=0.05, warmup_steps=3
    )
    model.compile(optimizer=optimizer, loss="mse")
    # Built before `fit`, as the benchmark's trainers are: the slot z starts
    # at the weights.
    optimizer.build(model.trainable_variables)
    steps = 6
    model.fit(
        inputs, targets, batch_size=8, epochs=steps, shuffle=False, verbose=0
    )
    h = (inputs - mean) / np.sqrt(var + norm.epsilon) * gamma + beta
    x, y = _schedule_free_in_numpy(
        h, targets, kernel, bias, steps, lr=0.05, warmup=3
    )
    trained = model.get_weights()
    averaged = training.schedule_free_weights(model, optimizer)
    assert len(averaged) == len(trained) == 6
    for got, want in zip(averaged[:4], (gamma, beta, mean, var)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    # Keras trains y, as the float64 re-implementation does ...
    np.testing.assert_allclose(trained[4], y["kernel"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(trained[5], y["bias"], rtol=1e-4, atol=1e-6)
    # ... and the evaluation weights are its x, not y.
    np.testing.assert_allclose(averaged[4], x["kernel"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(averaged[5], x["bias"], rtol=1e-4, atol=1e-6)
    assert np.abs(x["kernel"] - y["kernel"]).max() > 1e-3
    # The trained model keeps its weights.
    for a, b in zip(trained, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def toy_regression(monkeypatch):
    """A small regression task, "toy-r2", among the development tasks."""

    def load():
        rng = np.random.default_rng(5)
        x = rng.standard_normal((700, 4)).astype("float32")
        y = np.sin(x[:, 0]) + x[:, 1] ** 2 + 0.1 * rng.standard_normal(700)
        y = ((y - y.mean()) / y.std()).astype("float32")
        return x[:500], y[:500], x[500:600], y[500:600], x[600:], y[600:]

    name = "toy-r2"
    monkeypatch.setitem(tasks.LOADERS, "toy", load)
    monkeypatch.setitem(
        tasks.SETTINGS,
        name,
        tasks.Settings("toy", "narrow_mlp", 200, 32, 20, "r2"),
    )
    monkeypatch.setattr(tasks, "DEVELOPMENT", (*tasks.DEVELOPMENT, name))
    monkeypatch.setattr(tasks, "TASKS", (*tasks.TASKS, name))
    monkeypatch.setitem(tasks.GROUPS, "development", tasks.DEVELOPMENT)
    return name


def test_a_regression_task_is_scored_by_r2(tmp_path, toy_regression):
    results = run.run_benchmark(
        tasks=toy_regression,
        optimizer="adam",
        quick=True,
        output=str(tmp_path),
        stream=None,
    )
    runs = results["runs"]
    assert {r["metric"] for r in runs} == {"r2"}
    expected = {
        "grid fixed",
        "grid cosine",
        *(a.name for a in arms.arms_of_run()),
    }
    assert {r["arm"] for r in runs} == expected
    assert all(r["final_test"] <= 1.0 for r in runs)
    assert results["metrics"] == {toy_regression: "r2"}
    text = (tmp_path / "summary.md").read_text()
    assert "final test R²" in text and "final validation R²" in text
    assert f"| {toy_regression} | R² | adam |" in text
    with open(tmp_path / "runs.csv") as handle:
        assert {row["metric"] for row in csv.DictReader(handle)} == {"r2"}


def test_the_schedule_free_trainer_scores_the_averaged_weights(
    toy_regression,
):
    task = tasks.Task(toy_regression, quick=False, seeds=1)
    trainers = training.Trainers(quick=True)
    trainer = trainers.get(task, "adam", "schedule-free-algoperf", 40)
    assert trainer.optimizer.warmup_steps == 1
    assert trainer.optimizer.weight_decay == pytest.approx(0.08)
    curves = trainer.run(0, 40, {"lr": arms.SCHEDULE_FREE_RATE})
    trained = trainer.model.get_weights()
    averaged = trainer.evaluation_weights()
    assert curves["val"][-1] == pytest.approx(
        trainer.evaluator.score_weights(averaged)[0]
    )
    assert curves["val"][-1] != trainer.evaluator(trainer.model)[0]
    # A second run starts afresh: z at the seed's weights, as in `build`.
    again = trainer.run(0, 40, {"lr": arms.SCHEDULE_FREE_RATE})
    assert again["val"] == pytest.approx(curves["val"], rel=1e-5)
    for a, b in zip(trained, trainer.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="Received: optimizer='sgd'"):
        training.make_optimizer("sgd", "schedule-free", 40)


def test_the_find_max_lr_arm_trains_one_cycle_at_the_choice(
    tmp_path, monkeypatch
):
    chosen = []

    def choose(task, optimizer, seed, quick):
        chosen.append((task.name, optimizer, seed, quick))
        return {"max_lr": 0.004, "cost": 30}

    monkeypatch.setattr(run, "choose_max_lr", choose)
    results = run.run_benchmark(
        tasks="digits-mlp",
        optimizer="adam",
        quick=True,
        output=str(tmp_path),
        stream=None,
        with_find_max_lr=True,
    )
    assert chosen == [("digits-mlp", "adam", 0, True)]
    name = arms.FIND_MAX_LR.name
    (row,) = [r for r in results["runs"] if r["arm"] == name]
    assert row["max_lr"] == 0.004 and row["updates"] == 20
    assert row["curve_steps"] == [10, 20]
    assert results["find_max_lr"] == {
        "digits-mlp adam": {0: {"max_lr": 0.004, "cost": 30}}
    }
    (entry,) = [e for e in results["summary"] if e["arm"] == name]
    assert entry["tuning_updates"] == 30
    assert entry["tuning_budgets"] == 1.5
    assert "goal" in entry
    text = (tmp_path / "summary.md").read_text()
    assert f"| {name} |" in text
    assert "| digits-mlp | adam | 20 | 20 (1 B) | 20 (1 B) |" in text
    assert " | 30 (1.5 B) |\n" in text
    # Without the arm, no search and no run.
    monkeypatch.setattr(run, "choose_max_lr", None)
    plain = run.run_benchmark(
        tasks="digits-mlp",
        optimizer="sgd",
        quick=True,
        output=str(tmp_path),
        stream=None,
        with_find_max_lr=False,
    )
    assert name not in {r["arm"] for r in plain["runs"]}
    assert plain["find_max_lr"] == {}


def test_quick_compiles_without_xla_optimizations_on_jax(monkeypatch):
    from benchmarks.accuracy import __main__ as command

    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    assert command.quick_compilation("jax")
    assert command.quick_compilation("jax")
    assert os.environ["XLA_FLAGS"] == (
        "--xla_cpu_enable_fast_math=false --xla_backend_optimization_level=0"
    )
    assert not command.quick_compilation("torch")
    # Once JAX is imported, its flags are read already: left alone.
    monkeypatch.setitem(sys.modules, "jax", sys.modules["keras"])
    monkeypatch.setenv("XLA_FLAGS", "")
    assert not command.quick_compilation("jax")
    assert os.environ["XLA_FLAGS"] == ""
