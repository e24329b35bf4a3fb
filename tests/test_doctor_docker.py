"""`milvus-lab doctor` tells "Docker client present" from "Docker engine reachable".

Real `docker` CLI, real sockets: a DOCKER_HOST where nothing listens must give
"docker client: ok" and "docker engine: missing" (it used to say docker ok); the private
engine, when it runs, must give "docker engine: ok".
"""

from __future__ import annotations

import shutil

import pytest

from milvus_lab import doctor
from milvus_lab.dockerenv import engine
from milvus_lab.settings import Settings


def _rows(settings: Settings) -> dict[str, doctor.Check]:
    return {c.name: c for c in doctor.run_checks(settings)}


needs_cli = pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI on PATH")


@needs_cli
def test_client_without_engine_is_not_ok(lab_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nobody.sock")
    rows = _rows(lab_settings)
    assert rows["docker client"].ok, rows["docker client"]
    engine_row = rows["docker engine"]
    assert not engine_row.ok, engine_row
    assert "dockerenv up" in engine_row.fix and "systemctl start docker" in engine_row.fix


@needs_cli
@pytest.mark.docker
def test_engine_row_is_ok_when_an_engine_answers(lab_settings, monkeypatch, docker_host):
    """docker_host: the engine in use (started for the session when none ran)."""
    version = engine.answers(docker_host)
    assert version, docker_host
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    row = _rows(lab_settings)["docker engine"]
    assert row.ok and version in row.detail, row


def test_no_docker_at_all(lab_settings, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    rows = _rows(lab_settings)
    assert not rows["docker client"].ok and not rows["docker engine"].ok
    assert not rows["docker compose"].ok
