"""Find every lab script and run its declared drills as a user would (kopf's e2e model).

A lab is covered by adding its file: `tests/test_labs.py` runs each `Drill` in a
`LabSpec` on the local target and checks the report against the schema and the drill.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from milvus_lab.labkit import Drill, LabSpec
from milvus_lab.settings import find_repo_root
from milvus_lab.testing.milvus_fixtures import lab_env, new_lab_settings

ROOT = find_repo_root()
LAB_DIR = ROOT / "step05_production"
# Labs whose local run needs binaries built by tools/*/build.sh (lab 02: actionlint and
# osv-scanner); their tests carry the `tools` mark, so `.ci/run` runs them once those are built.
BUILT_TOOL_LABS = frozenset({"02"})


def setup_marks(number: str) -> list[pytest.MarkDecorator]:
    """The marks of a test that runs lab ``number`` (see ``milvus_lab.testing.ci_setup``)."""
    return [pytest.mark.tools] if number in BUILT_TOOL_LABS else []


def lab_scripts() -> list[Path]:
    return sorted(LAB_DIR.glob("[0-9][0-9]_*.py"))


def load_spec(script: Path) -> LabSpec:
    """Import a lab script by path (its notebook cells do nothing outside Jupyter) and return SPEC."""
    module_spec = importlib.util.spec_from_file_location(f"lab_{script.stem}", script)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {script}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, LabSpec):
        raise AssertionError(f"{script.name} declares no LabSpec named SPEC")
    return spec


@dataclass
class DrillRun:
    code: int
    report: dict[str, object]
    output: str


def run_drill(spec: LabSpec, drill: Drill, home: Path, env: dict[str, str] | None = None,
              timeout: float = 600) -> DrillRun:
    """Run one drill of a lab in a subprocess with its own home and free ports."""
    settings = new_lab_settings(home)
    report = home / f"{spec.number}-{drill.name}.json"
    report.unlink(missing_ok=True)
    full_env = {**os.environ, **lab_env(settings), "COLUMNS": "160", **(env or {})}
    proc = subprocess.run([sys.executable, str(LAB_DIR / spec.script), "--report", str(report), *drill.argv],
                          cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    data = json.loads(report.read_text()) if report.exists() else {}
    keep = os.environ.get("MILVUS_LAB_KEEP_DRILL_REPORTS")  # a directory: every drill's report, for figures
    if keep and report.exists():
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(report, Path(keep) / report.name)
    return DrillRun(proc.returncode, data, proc.stdout + proc.stderr)
