"""Walkthrough notebooks: each is paired with its lab script (jupytext) and runs top to
bottom on the local target, so the notebooks never rot."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from milvus_lab import processes
from milvus_lab.settings import find_repo_root
from milvus_lab.testing.labs import setup_marks
from milvus_lab.testing.milvus_fixtures import lab_env, new_lab_settings

ROOT = find_repo_root()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source.strip() for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_with_its_script(notebook: Path):
    script = ROOT / "step05_production" / f"{notebook.stem}.py"
    assert script.is_file(), f"{notebook.name} has no lab script {script}"
    from_script = jupytext.read(script)
    assert code_cells(nbformat.read(notebook, as_version=4)) == code_cells(from_script), (
        f"{notebook.name} is out of sync with {script.name}: run "
        f"`jupytext --sync {notebook.relative_to(ROOT)}`")


@pytest.mark.slow
@pytest.mark.parametrize("notebook", [
    pytest.param(nb, id=nb.stem, marks=setup_marks(nb.stem[:2])) for nb in NOTEBOOKS])
def test_notebook_runs_on_local_target(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    settings = new_lab_settings(tmp_path / "home")
    for key, value in {**lab_env(settings), "MILVUS_LAB_TARGET": "local"}.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(notebook, as_version=4)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:  # a failed cell skips the lesson's own teardown: stop what it started
        for rec in processes.list_records(settings):
            processes.stop_process(settings, rec.name)
    # rich prints to stdout ("text") or, under Jupyter, as display_data ("text/plain")
    outputs = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                      for c in nb.cells for o in c.get("outputs", []))
    assert "Report:" in outputs, "the lesson did not reach its report"
    assert "Step 2:" in outputs, "the notebook's cells ran no lesson steps"
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    assert os.environ["MILVUS_LAB_HOME"] == lab_env(settings)["MILVUS_LAB_HOME"]
