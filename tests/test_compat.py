"""Supported Keras releases: the import-time check of the overridden methods,
the warning for an untested newer Keras, and optimizers a Keras lacks."""

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import keras
import pytest

import clr_optimizers as co
from clr_optimizers import _compat
from clr_optimizers import _keras_private

ROOT = str(Path(__file__).parent.parent)


def run_python(code):
    """Runs `code` in a fresh interpreter; returns (returncode, stderr)."""
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    return out.returncode, out.stdout + out.stderr


def test_installed_keras_is_in_the_declared_range():
    # pyproject's keras range and the tested range agree with the installed one.
    assert (3, 10) <= _compat.keras_version()
    assert _compat.OLDEST_TESTED_KERAS == (3, 10)
    pyproject = (Path(ROOT) / "pyproject.toml").read_text()
    assert '"keras>=3.10,<4"' in pyproject


def test_import_fails_when_a_hook_is_missing():
    code, output = run_python("""
        import keras
        keras.optimizers.Optimizer._get_current_learning_rate = None
        import clr_optimizers
    """)
    assert code != 0
    last = output.strip().splitlines()[-1]
    assert last.startswith(
        "ImportError: clr_optimizers cannot run on the installed Keras"
    )
    assert f"Keras {keras.__version__}" in last
    assert "(tested: 3.10 to 3.15)" in last
    assert "_get_current_learning_rate` is missing" in last


def test_import_fails_when_a_hook_changes_signature():
    code, output = run_python(
        """
        import keras
        def _backend_apply_gradients("""
        """self, grads, trainable_variables, extra=None):
            pass
        keras.optimizers.Optimizer._backend_apply_gradients = """
        """_backend_apply_gradients
        import clr_optimizers
    """
    )
    assert code != 0
    last = output.strip().splitlines()[-1]
    assert "ImportError" in last
    assert (
        "_backend_apply_gradients` takes "
        "(self, grads, trainable_variables, extra), "
        "expected (self, grads, trainable_variables)"
    ) in last


def test_newer_keras_warns_once_at_import():
    code, output = run_python(
        """
        import warnings
        import keras
        keras.__version__ = "3.16.0"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import clr_optimizers
            import clr_optimizers._optimizers
        ours = [w for w in caught """
        """if "clr_optimizers is tested" in str(w.message)]
        print(len(ours), ours[0].category.__name__, str(ours[0].message))
        assert clr_optimizers.SGD(0.01, clr={"step_size": 2, "max_lr": 0.1})
    """
    )
    assert code == 0, output
    assert (
        "1 UserWarning clr_optimizers is tested with Keras 3.10 to 3.15; "
        "the installed Keras 3.16.0 is newer"
    ) in output


def test_older_keras_is_refused():
    with pytest.raises(
        ImportError,
        match=r"needs Keras 3.10 or newer \(tested: 3.10 to "
        r"3.15\).*Received: keras==3.9.2",
    ):
        _keras_private.check_keras(
            [keras.optimizers.Optimizer], version="3.9.2"
        )


def test_check_passes_on_the_installed_keras():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _keras_private.check_keras(
            [
                keras.optimizers.Optimizer,
                *[cls.__bases__[1] for cls in co.OPTIMIZERS],
            ]
        )


def test_keras_version_parsing():
    assert _compat.keras_version("3.15.1") == (3, 15)
    assert _compat.keras_version("3.16.0.dev2026112903") == (3, 16)
    assert _compat.keras_version("4.0rc1") == (4, 0)


@pytest.mark.parametrize("name", sorted(_compat.INTRODUCED_IN))
def test_optimizer_that_needs_a_newer_keras(name):
    needed = _compat.INTRODUCED_IN[name][0]
    if _compat.keras_version() >= needed:
        cls = getattr(co, name)
        assert cls in co.OPTIMIZERS and name in co.__all__
        assert issubclass(cls, getattr(keras.optimizers, name))
    else:
        assert name not in [cls.__name__ for cls in co.OPTIMIZERS]
        assert name not in co.__all__
        with pytest.raises(
            AttributeError,
            match=(
                rf"clr_optimizers.{name} needs Keras >= "
                rf"{needed[0]}.{needed[1]}.*"
                rf"Received: keras=={keras.__version__}"
            ),
        ):
            getattr(co, name)
    # The message for an older Keras, whatever Keras is installed.
    message = str(_compat.missing_optimizer_error(name, "3.10.0"))
    assert message.startswith(
        f"clr_optimizers.{name} needs Keras >= {needed[0]}.{needed[1]}, "
    )
    assert message.endswith(
        f"Received: keras==3.10.0. Upgrade with: "
        f"pip install 'keras>={needed[0]}.{needed[1]}'"
    )


def test_unknown_attribute_is_a_plain_attribute_error():
    with pytest.raises(
        AttributeError,
        match=r"module 'clr_optimizers' has no attribute 'Adamm'",
    ):
        co.Adamm  # noqa: B018


def test_last_batch_of_execution():
    if _compat.keras_version() >= (3, 11):
        # The index Keras passes to on_train_batch_end is the last one.
        assert _compat.last_batch_of_execution(16, 23, 8, steps=40) == 23
        assert _compat.last_batch_of_execution(16, 19, 8, steps=20) == 19
    else:
        # Keras 3.10 passes the first; the last is derived and capped.
        assert _compat.last_batch_of_execution(16, 16, 8, steps=40) == 23
        assert _compat.last_batch_of_execution(16, 16, 8, steps=20) == 19
        assert _compat.last_batch_of_execution(16, 16, 8, steps=None) == 23
