"""The emitted CI files: fresh, lint-clean (actionlint + shellcheck, both bundled schemas),
and green when their local runners (act, gitlab-ci-local) really run them here.

The tool binaries are built by tools/<tool>/build.sh (cached); without them these tests
skip with the command to run, unless MILVUS_LAB_REQUIRE_PIPELINE_TOOLS=1 (CI) makes a
missing tool a failure.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from milvus_lab.errors import PrerequisiteError
from milvus_lab.pipeline import ci_local, emit
from milvus_lab.testing.milvus_fixtures import free_ports, processes_under

pytestmark = pytest.mark.tools  # actionlint, act, gitlab-ci-local, osv-scanner: built by .ci/run in the background

REPO = Path(__file__).resolve().parents[1]


def need(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(*args)
    except PrerequisiteError as exc:
        if os.environ.get("MILVUS_LAB_REQUIRE_PIPELINE_TOOLS") == "1":
            pytest.fail(f"{exc.message} ({exc.fix})", pytrace=False)
        pytest.skip(f"{exc.message}: {exc.fix}")


def test_emitted_files_are_up_to_date() -> None:
    assert not emit.stale(REPO), "run `python -m milvus_lab.pipeline emit` and commit the result"


def test_a_changed_definition_makes_them_stale(tmp_path: Path) -> None:
    for rel in (Path("deploy/pipeline/pipeline.yaml"), emit.GITHUB_PATH, emit.GITLAB_PATH):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, tmp_path / rel)
    assert not emit.stale(tmp_path)
    definition = tmp_path / "deploy/pipeline/pipeline.yaml"
    definition.write_text(definition.read_text().replace('python: "3.11"', 'python: "3.12"'))
    assert sorted(emit.stale(tmp_path)) == sorted([emit.GITHUB_PATH, emit.GITLAB_PATH])
    with Console(file=io.StringIO()) as quiet:
        assert emit.main(tmp_path, check=True, console=quiet) == 1


def test_emitted_files_pass_actionlint_and_both_schemas() -> None:
    runs = need(ci_local.lint, REPO)
    bad = [f"{r.tool}: {r.output[-1500:]}" for r in runs if not r.ok]
    assert not bad, "\n".join(bad)


@pytest.mark.ci_runners
@pytest.mark.parametrize("runner", [ci_local.run_act, ci_local.run_gitlab], ids=["act", "gitlab-ci-local"])
def test_the_ci_systems_local_runners_run_it_green(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """main: checks, release (dev, staging) and the approved production job, all green; the
    jobs' `down` steps stop what they started; the checkout is untouched (a scratch copy ran)."""
    before = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    run = need(runner, REPO, tmp_path / "ci", free_ports(1)[0])
    jobs = ci_local.job_results(run)
    assert run.ok and jobs == {"checks": "passed", "release": "passed", "production": "passed"}, (
        f"{run.tool} exit {run.returncode}, jobs {jobs}:\n{run.output[-4000:]}")
    assert "promote-prod: passed" in run.output
    places = (tmp_path, Path.home() / ".cache" / "act")  # gitlab-ci-local builds / act's host workspace
    leaked = [p for root in places for p in processes_under(root) if "milvus" in p[1] or "uvicorn" in p[1]]
    assert not leaked, f"the jobs' `down` steps must stop what they started: {leaked}"
    after = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    assert after == before, "the runner must work on a scratch copy, never the checkout"
