"""`milvus-lab` as a user runs it: a subprocess with MILVUS_LAB_HOME and free ports in its env."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from milvus_lab import processes
from milvus_lab.processes import pid_running
from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import lab_env, processes_under

EXE = Path(sys.executable).parent / "milvus-lab"


def run_cli(settings: Settings, *args: str, timeout: float = 300,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [str(EXE)] if EXE.is_file() else [sys.executable, "-m", "milvus_lab.cli"]
    env = {**os.environ, **lab_env(settings), "COLUMNS": "200", **(extra_env or {})}
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=settings.repo_root)


def _recorded_pids(settings: Settings) -> dict[str, tuple[int, list[str]]]:
    run = settings.state_dir / "run"
    out = {}
    for path in run.glob("*.json"):
        rec = json.loads(path.read_text())
        out[rec["name"]] = (rec["pid"], rec["argv"])
    return out


@pytest.fixture()
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


@pytest.mark.slow
def test_up_then_down_leaves_no_process_of_ours(lab_settings: Settings) -> None:
    up = run_cli(lab_settings, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "smoke search: 5 hits, served by blue/v1" in up.stdout

    recorded = _recorded_pids(lab_settings)
    assert {"milvus-lite", "router", "api-blue-0", "api-blue-1"} <= set(recorded), recorded
    assert all(pid_running(pid) for pid, _ in recorded.values())
    version = httpx.get(f"{lab_settings.router_url}/version", timeout=5)
    assert version.status_code == 200 and version.headers["x-served-by"] == "blue/v1"
    assert (lab_settings.state_dir / "datasets" / "products-v1" / "queries.npy").is_file()

    status = run_cli(lab_settings, "status")
    assert status.returncode == 0 and "api-blue-0" in status.stdout and "running" in status.stdout
    assert "'blue': 100" in status.stdout and "products_v1" in status.stdout

    again = run_cli(lab_settings, "up")  # idempotent: everything reused, same processes
    assert again.returncode == 0 and "reused" in again.stdout, again.stdout + again.stderr
    assert {k: v[0] for k, v in _recorded_pids(lab_settings).items()} == \
        {k: v[0] for k, v in recorded.items()}

    down = run_cli(lab_settings, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped: 2 API replica(s), router: yes, Milvus Lite: yes" in down.stdout
    for name, (pid, argv) in recorded.items():
        assert not (pid_running(pid) and processes.pid_matches(pid, argv)), f"{name} (pid {pid}) still runs"
    assert list((lab_settings.state_dir / "run").glob("*.json")) == []
    assert processes_under(lab_settings.repo_root) == []
    assert not processes.port_in_use(lab_settings.router_port)
    assert not processes.port_in_use(lab_settings.milvus_port)
    assert (lab_settings.state_dir / "milvus" / "data").is_dir()  # data kept

    after = run_cli(lab_settings, "status")
    assert "router: not running" in after.stdout and "nothing answers" in after.stdout
    assert run_cli(lab_settings, "down").returncode == 0  # down twice is fine


def test_up_with_the_milvus_port_taken_is_exit_2_and_starts_nothing(
        lab_settings: Settings, held_port: int) -> None:
    settings = lab_settings.with_(milvus_port=held_port)
    up = run_cli(settings, "up", timeout=120)
    assert up.returncode == 2, up.stdout + up.stderr
    assert f"port {held_port} is in use" in up.stdout and "fix:" in up.stdout
    assert "Traceback" not in up.stdout + up.stderr
    assert _recorded_pids(settings) == {}
    assert processes_under(settings.repo_root) == []


def test_doctor_exit_code_matches_its_verdict(lab_settings: Settings) -> None:
    doctor = run_cli(lab_settings, "doctor", timeout=120)
    assert "milvus-lab doctor" in doctor.stdout and "pymilvus" in doctor.stdout
    assert f"port {lab_settings.milvus_port} (milvus)" in doctor.stdout
    if doctor.returncode == 0:
        assert "local target: ready" in doctor.stdout
    else:
        assert doctor.returncode == 2 and "local target: not ready" in doctor.stdout
    # free ports and the package installed: the local target must be ready
    assert doctor.returncode == 0, doctor.stdout


def test_doctor_with_a_port_taken_is_exit_2_with_the_fix(lab_settings: Settings,
                                                        held_port: int) -> None:
    doctor = run_cli(lab_settings.with_(router_port=held_port), "doctor", timeout=120)
    assert doctor.returncode == 2
    assert "local target: not ready" in doctor.stdout
    assert "in use by another process" in doctor.stdout and "MILVUS_LAB_ROUTER_PORT" in doctor.stdout


@pytest.mark.parametrize(("env", "message"), [
    ({"MILVUS_LAB_MILVUS_PORT": "abc"}, "MILVUS_LAB_MILVUS_PORT='abc' is not a number"),
    ({"MILVUS_LAB_TARGET": "mars"}, "unknown target 'mars'"),
])
def test_bad_settings_are_exit_2_without_a_traceback(lab_settings: Settings, env: dict[str, str],
                                                     message: str) -> None:
    result = run_cli(lab_settings, "status", timeout=60, extra_env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stdout and "Traceback" not in result.stdout + result.stderr
