"""Target `compose` for real: `docker compose` brings Milvus up, lab 03 runs against it.

`docker compose` is Compose v2 (the plugin, or tools/compose-plugin/build.sh's build of it
from its Go module). The stack is docker-compose.yml + deploy/compose/local-milvus-pypi.yml
with MILVUS_LAB_MILVUS_IMAGE=milvus-lab/milvus-pypi:2.3.5: **Milvus 2.3.5** (PyPI wheel's
standalone binary, embedded etcd, local storage), NOT the official milvusdb/milvus:v2.6.15
that users run; etcd, MinIO, Prometheus and Grafana are not started (no registry here).
Each run uses its own compose project name, ports and home, and removes what it made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from milvus_lab.processes import free_port_block
from milvus_lab.settings import find_repo_root
from milvus_lab.testing.docker_fixtures import _missing
from milvus_lab.testing.milvus_fixtures import free_ports, lab_env, new_lab_settings

ROOT = find_repo_root()
LAB03 = ROOT / "step05_production" / "03_blue_green_deployment.py"
OVERRIDE = ROOT / "deploy" / "compose" / "local-milvus-pypi.yml"
PLUGIN_BUILD = ROOT / "tools" / "compose-plugin" / "build.sh"
pytestmark = [pytest.mark.docker, pytest.mark.slow]


def compose_command(env: dict[str, str]) -> list[str]:
    """`docker compose` when the CLI has the plugin, else the cached plugin binary itself."""
    try:
        proc = subprocess.run(["docker", "compose", "version"], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        if proc.returncode == 0 and "v2." in proc.stdout:
            return ["docker", "compose"]
    except OSError:
        pass
    cached = Path(subprocess.run(["bash", str(PLUGIN_BUILD), "--print-path"], capture_output=True,
                                 text=True, check=True).stdout.strip())
    if os.access(cached, os.X_OK):
        return [str(cached)]
    _missing(f"no `docker compose` v2: bash {PLUGIN_BUILD} builds it (Go >= 1.24), "
             "or install your distribution's docker-compose-plugin")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def compose_stack(docker_host: str, milvus_pypi_image: str, tmp_path_factory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("compose")
    milvus_port, metrics_port = free_ports(2)
    env = {**os.environ, "DOCKER_HOST": docker_host, "MILVUS_LAB_HOME": str(home),
           "MILVUS_LAB_MILVUS_IMAGE": milvus_pypi_image, "MILVUS_LAB_MILVUS_PORT": str(milvus_port),
           "MILVUS_LAB_MILVUS_METRICS_PORT": str(metrics_port),
           "MILVUS_LAB_MILVUS_INTERNAL_PORT_BASE": str(free_port_block(10)),
           "COMPOSE_PROJECT_NAME": f"milvus-lab-test-{os.getpid()}"}
    compose = [*compose_command(env), "-f", str(ROOT / "docker-compose.yml"), "-f", str(OVERRIDE)]
    up = subprocess.run([*compose, "up", "-d", "--wait", "--wait-timeout", "300"], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=420, check=False)
    try:
        assert up.returncode == 0, f"compose up failed:\n{up.stdout[-2000:]}\n{up.stderr[-3000:]}"
        yield {**env, "COMPOSE": json.dumps(compose)}
    finally:
        subprocess.run([*compose, "down", "-v", "--timeout", "30"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=180, check=False)


def test_compose_runs_the_local_milvus_image(compose_stack):
    compose = json.loads(compose_stack["COMPOSE"])
    proc = subprocess.run([*compose, "ps", "--format", "json"], cwd=ROOT, env=compose_stack,
                          capture_output=True, text=True, timeout=60, check=True)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [(r["Service"], r["Image"], r["Health"]) for r in rows] == [
        ("standalone", "milvus-lab/milvus-pypi:2.3.5", "healthy")], rows


def test_lab03_runs_on_compose_with_zero_failed_requests(compose_stack, tmp_path):
    """The blue/green lab, unchanged, against the Milvus that `docker compose` started."""
    settings = new_lab_settings(tmp_path, target="compose",
                                milvus_port=int(compose_stack["MILVUS_LAB_MILVUS_PORT"]))
    report = tmp_path / "report.json"
    env = {**os.environ, **lab_env(settings), "COLUMNS": "120"}
    proc = subprocess.run([sys.executable, str(LAB03), "--target", "compose", "--report", str(report)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    try:
        assert proc.returncode == 0, out[-4000:]
        data = json.loads(report.read_text())
        assert data["exit_code"] == 0 and data["target"] == "compose", data["message"]
        load = data["section"]["load"]
        assert load["failures"] == 0, load["errors"]
        assert load["requests"] >= 1_000, load["requests"]
        assert {"blue/v1", "green/v2"} <= set(load["served_by"])
        failed = [v["name"] for v in data["verifications"] if v["passed"] is False]
        assert not failed, failed
        # The lab's collections live in the Milvus that compose runs (2.3.5), not in a Milvus Lite.
        from pymilvus import MilvusClient

        mc = MilvusClient(settings.milvus_uri)
        try:
            assert mc.get_server_version().startswith("v2.3.5")
            assert any(name.startswith("products") for name in mc.list_collections()), mc.list_collections()
        finally:
            mc.close()
    finally:
        subprocess.run([sys.executable, "-m", "milvus_lab.cli", "down"], env=env, capture_output=True,
                       timeout=120, check=False)
