"""Lab 03 end to end, as a user runs it: the real script, Milvus Lite, replicas, router, Locust.

Each run gets its own home and free ports. The figures the issue asks for (requests,
failures, rollback time) are asserted from the lab's own JSON report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from milvus_lab.settings import find_repo_root
from milvus_lab.testing.milvus_fixtures import lab_env, new_lab_settings

ROOT = find_repo_root()
SCRIPT = ROOT / "step05_production" / "03_blue_green_deployment.py"
pytestmark = pytest.mark.slow


def run_lab(home: Path, *flags: str, timeout: float = 240) -> tuple[int, dict, str]:
    settings = new_lab_settings(home)
    report = home / "report.json"
    env = {**os.environ, **lab_env(settings), "COLUMNS": "120"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--report", str(report), *flags],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lab03")


def test_release_with_zero_failed_requests_then_rerun(home):
    code, report, out = run_lab(home)
    assert code == 0, out[-3000:]
    load = report["outcome"]["load"]
    assert load["failures"] == 0, load["errors"]
    assert load["requests"] >= 1_000, load["requests"]
    labels = [m["label"] for m in load["marks"]]
    assert "alias → v2" in labels and "router → green" in labels, labels
    assert {"blue/v1", "green/v2"} <= set(load["served_by"])
    assert load["data_versions"].get("v2", 0) > 0, "no answer came from the v2 collection"
    assert Path(load["timeline_png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(report["outcome"]["verifications"].values()), report["outcome"]["verifications"]

    code2, report2, out2 = run_lab(home)  # idempotent: the second run reuses the collections
    assert code2 == 0, out2[-3000:]
    assert report2["outcome"]["load"]["failures"] == 0


def test_recall_fault_is_stopped_by_the_gate(home):
    code, report, out = run_lab(home, "--inject-fault", "recall")
    assert code == 1, out[-3000:]
    outcome = report["outcome"]
    assert not outcome["data_promoted"] and not outcome["service_promoted"]
    failed = [g["name"] for g in outcome["gate"] if not g["passed"]]
    assert failed == ["recall@10"], failed
    assert outcome["load"]["failures"] == 0
    assert set(outcome["load"]["served_by"]) == {"blue/v1"}, "users must never see the candidate"


def test_error_fault_rolls_back_within_10s(home):
    code, report, out = run_lab(home, "--inject-fault", "errors")
    assert code == 1, out[-3000:]
    rollback = report["outcome"]["rollback"]
    assert rollback["since_switch_s"] <= 10, rollback
    assert rollback["requests_after"] > 0
    verifications = report["outcome"]["verifications"]
    assert verifications["no request served by v2 after rollback"], verifications


def test_exercise_not_done_says_so(home):
    code, _, out = run_lab(home, "--impl", "labs")
    assert code == 1
    assert "not implemented" in out


def test_bad_input_exits_2(home, tmp_path):
    import socket

    with socket.socket() as s:  # something that is not our Milvus holds the port
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        settings = new_lab_settings(tmp_path / "busy")
        env = {**os.environ, **lab_env(settings), "MILVUS_LAB_MILVUS_PORT": str(port)}
        proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout[-2000:]
    assert f"port {port} is in use" in proc.stdout
