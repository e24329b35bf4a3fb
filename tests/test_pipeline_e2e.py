"""Lab 02 end to end: the pipeline CLI as a learner runs it, on real tools, a real registry on
disk, real Milvus Lite and real uvicorn replicas; every outcome read from the JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import lab_env, stop_all

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def pipeline(settings: Settings, *args: str, report: Path | None = None) -> tuple[int, dict, str]:
    argv = [sys.executable, "-m", "milvus_lab.pipeline", *args]
    if report:
        argv += ["--report", str(report)]
    env = {**os.environ, **lab_env(settings), "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    data = json.loads(report.read_text()) if report and report.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


def statuses(data: dict) -> dict[str, str]:
    return {s["name"]: s["status"] for s in data["stages"]}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory):
    from milvus_lab.testing.milvus_fixtures import new_lab_settings

    settings = new_lab_settings(tmp_path_factory.mktemp("pipeline") / "home")
    yield settings
    stop_all(settings)


def test_main_promotes_one_digest_through_three_environments(home: Settings, tmp_path: Path) -> None:
    code, data, out = pipeline(home, "run", "--branch", "main", "--approve", report=tmp_path / "r.json")
    assert code == 0, out[-3000:]
    assert set(statuses(data).values()) == {"passed"}, statuses(data)
    digest = data["context"]["artifact"]["digest"]
    promos = data["context"]["promotions"]
    assert [p["env"] for p in promos] == ["dev", "staging", "prod"]
    assert {p["digest"] for p in promos} == {digest}, "the bytes tested are the bytes deployed"
    assert data["context"]["tags"][1].startswith("sha-") and data["context"]["tags"][2] == "branch-main"
    assert data["context"]["deployed"]["prod"]["replicas"] == 3


@pytest.mark.parametrize("inject, stage", [
    ("lint", "lint"), ("test", "unit-tests"), ("secret", "security"), ("vuln", "security"),
    ("smoke", "smoke-dev"), ("post-deploy", "watch-dev"),
])
def test_an_injected_failure_stops_at_its_stage(home: Settings, tmp_path: Path, inject: str, stage: str) -> None:
    code, data, out = pipeline(home, "run", "--branch", "main", "--approve", "--inject-failure", inject,
                               report=tmp_path / "r.json")
    assert code == 1, out[-3000:]
    st = statuses(data)
    assert st[stage] == "failed", st
    names = [s["name"] for s in data["stages"]]
    assert names[-1] == stage, f"nothing may run after {stage}: {names}"
    assert data["context"]["promotions"] == [], "nothing is promoted"
    if inject in ("smoke", "post-deploy"):
        rollbacks = data["context"]["rollbacks"]
        assert rollbacks and rollbacks[0]["env"] == "dev", rollbacks
        # the plain run left a verified dev release: the rollback restores exactly that digest
        assert rollbacks[0]["to"] is not None


def test_pull_requests_run_checks_only(home: Settings, tmp_path: Path) -> None:
    code, data, out = pipeline(home, "run", "--event", "pull_request", "--branch", "feature/x",
                               report=tmp_path / "r.json")
    assert code == 0, out[-3000:]
    st = statuses(data)
    assert all(st[n] == "passed" for n in ("lint", "unit-tests", "security", "sbom")), st
    assert all(v == "skipped" for k, v in st.items() if k not in ("lint", "unit-tests", "security", "sbom")), st


def test_prod_without_approval_stops_before_prod(home: Settings, tmp_path: Path) -> None:
    code, data, out = pipeline(home, "run", "--branch", "main", report=tmp_path / "r.json")
    assert code == 0, out[-3000:]
    st = statuses(data)
    assert st["promote-staging"] == "passed" and st["promote-prod"] == "blocked", st
    assert "approval needed" in out
    assert [p["env"] for p in data["context"]["promotions"]] == ["dev", "staging"]


def test_a_bad_value_is_refused_before_anything_runs(home: Settings, tmp_path: Path) -> None:
    code, data, out = pipeline(home, "run", "--set", "prod:replicas=0", report=tmp_path / "r.json")
    assert code == 2 and not data, out
    assert "prod: replicas=0" in out and "Traceback" not in out
