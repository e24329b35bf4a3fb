"""The checkers are proven: every check passes on solutions/, and every exercise has at least
one check that fails on the untouched labs/ (so a learner cannot pass by doing nothing).
labs/ must be exactly what the generator makes from solutions/."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

from milvus_lab.exercises import generate, to_exercise
from milvus_lab.settings import find_repo_root

ROOT = find_repo_root()


def test_labs_are_generated_from_solutions():
    stale = generate(ROOT, check=True)
    assert not stale, f"labs/ is stale for {stale}: run `python -m milvus_lab.exercises`"


def test_every_solution_has_an_exercise_block():
    for solution in sorted((ROOT / "solutions").glob("lab*.py")):
        text = solution.read_text()
        assert "# BEGIN SOLUTION" in text, f"{solution.name} has no exercise"
        assert "NotImplementedError" in to_exercise(text, solution.name)


def test_generator_rejects_unbalanced_markers():
    with pytest.raises(ValueError, match="without END"):
        to_exercise("def f():\n    # BEGIN SOLUTION\n    return 1\n", "x.py")
    with pytest.raises(ValueError, match="without BEGIN"):
        to_exercise("# END SOLUTION\n", "x.py")


def run_checks(impl: str, tmp_path: Path) -> dict[str, dict[str, int]]:
    """Run `pytest checks --impl <impl>`; outcome counts per check module."""
    report = tmp_path / f"checks-{impl}.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "checks", "--impl", impl, "-q", "-p", "no:cacheprovider",
         f"--junitxml={report}", "-x" if impl == "never" else "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")[-1]
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        counts[module][outcome] += 1
    return counts


@pytest.mark.slow
@pytest.mark.kube  # lab 01's checks apply objects to a real API server
def test_checks_pass_on_solutions_and_fail_on_labs(tmp_path):
    modules = sorted(p.stem for p in (ROOT / "checks").glob("test_lab*.py"))
    assert modules, "no checks found"
    solutions = run_checks("solutions", tmp_path)
    labs = run_checks("labs", tmp_path)
    for module in modules:
        assert solutions[module]["passed"] > 0, f"{module}: no check ran on solutions"
        assert solutions[module]["failed"] == 0, f"{module}: checks fail on the reference solutions"
        assert labs[module]["failed"] >= 1, f"{module}: no check fails on the untouched exercise"
