"""Executes clr_optimizer_tests.ipynb afresh, in a temporary copy.

Every cell must run without an error; the notebook's own `assert`s check the
optimizers' rates against the toy functions.
"""

import os
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "clr_optimizer_tests.ipynb"


def _outputs(nb, output_type=None):
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output_type is None or output.output_type == output_type:
                yield cell, output


def _images(nb):
    return [
        output
        for _, output in _outputs(nb)
        if "image/png" in output.get("data", {})
    ]


def test_stored_notebook_has_outputs_and_no_errors():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert not list(_outputs(nb, "error"))
    assert all(
        cell.execution_count for cell in nb.cells if cell.cell_type == "code"
    )
    assert len(_images(nb)) >= 8


def test_notebook_executes_without_errors(tmp_path, monkeypatch):
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    nb = nbformat.read(copy, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    # The kernel imports clr_optimizers from this checkout.
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(
            [str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]
        ),
    )
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    # Raises CellExecutionError on any exception, failed assert included.
    client.execute()
    nbformat.write(nb, copy)

    assert not list(_outputs(nb, "error"))
    assert len(_images(nb)) >= 8
    text = "".join(
        output.get("text", "") for _, output in _outputs(nb, "stream")
    )
    assert "All 14 optimizers x 3 modes agree with the toy functions" in text
