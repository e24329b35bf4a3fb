"""`milvus-lab health` against real processes: Milvus Lite, uvicorn replicas, the router, Prometheus."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from milvus_lab import processes
from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.milvus import server
from milvus_lab.milvus.collections import point_alias
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.monitoring import health
from milvus_lab.monitoring.health import State
from milvus_lab.processes import pid_running
from milvus_lab.router.client import ensure_router, stop_router
from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import build_collection, lab_env


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **lab_env(settings), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "milvus_lab.cli", "health", *args],
                          capture_output=True, text=True, timeout=120, env=env,
                          cwd=settings.repo_root)


def _states(settings: Settings) -> tuple[int, dict[str, State]]:
    report = health.check_health(settings, timeout=5.0)
    return report.exit_code, {c.name: c.state for c in report.components}


def _start_prometheus(settings: Settings) -> processes.ProcessRecord:
    port = processes.free_port()
    home = settings.state_dir / "prometheus-test"
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    argv = [str(shutil.which("prometheus")), f"--config.file={cfg}",
            f"--storage.tsdb.path={home / 'data'}", f"--web.listen-address=127.0.0.1:{port}"]
    rec = processes.start_process(settings, "prometheus", argv, port)
    check = health.check_optional
    processes.wait_until(rec, lambda: check(settings, "prometheus").state == State.HEALTHY, 60,
                         "Prometheus")
    return rec


def test_health_codes_follow_each_component(lab_settings: Settings, small_dataset: Dataset) -> None:
    settings = lab_settings
    code, states = _states(settings)
    assert code == 4 | 8 | 16, states  # nothing started: Milvus, API and router down
    assert states["prometheus"] == states["alertmanager"] == State.NOT_RUNNING

    endpoint = server.ensure_server(settings, timeout=90)
    from pymilvus import MilvusClient

    client = MilvusClient(uri=endpoint.uri, timeout=30)
    try:
        name = build_collection(client, small_dataset, name="health_v1")
        code, states = _states(settings)
        assert states["milvus"] == State.DEGRADED, "no `products` alias yet: nothing is served"
        point_alias(client, "products", name)
        cfg = ApiConfig(slot="blue", version="v1", milvus_uri=endpoint.uri, collection="products",
                        dim=small_dataset.spec.dim)
        started = replicas.start_replicas(settings, cfg, 2)
        router = ensure_router(settings)
        router.set_pool("blue", [r.url for r in started])
        router.switch_to("blue")
        router.close()

        report = health.check_health(settings, timeout=5.0)
        assert report.exit_code == 0, report.summary()
        assert "2/2 replicas ready" in report.by_name("api").detail
        cli = _cli(settings, "--json")
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert json.loads(cli.stdout)["components"]["router"]["state"] == "healthy"

        if shutil.which("prometheus"):
            prom = _start_prometheus(settings)
            assert _states(settings) == (0, {**states, "milvus": State.HEALTHY, "api": State.HEALTHY,
                                             "router": State.HEALTHY, "prometheus": State.HEALTHY})
            os.killpg(prom.pid, signal.SIGKILL)  # Prometheus crashed: its record stays
            assert _cli(settings).returncode == 32
            processes.stop_process(settings, "prometheus")  # stopped on purpose: optional again
            assert _states(settings)[0] == 0

        os.killpg(started[1].pid, signal.SIGKILL)  # a replica crashed (its record stays)
        deadline = time.monotonic() + 30
        while pid_running(started[1].pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        code, states = _states(settings)
        assert code == 8 and states["api"] == State.DEGRADED

        stop_router(settings)
        assert _cli(settings).returncode == 8 | 16

        client.drop_alias("products")
        code, states = _states(settings)
        assert code & 4 and states["milvus"] == State.DEGRADED
    finally:
        client.close()
    pid = endpoint.pid
    server.stop_server(settings)
    assert pid is not None and not pid_running(pid)
    code, states = _states(settings)
    assert code & 4 and states["milvus"] == State.DOWN
    assert _cli(settings, "--only", "milvus").returncode == 4
    bad = _cli(settings, "--only", "milvus,nope")
    assert bad.returncode == 2 and "--only" in bad.stdout


def test_exit_code_is_the_or_of_unhealthy_components() -> None:
    comps = [health.ComponentHealth("milvus", State.HEALTHY, ""),
             health.ComponentHealth("api", State.DEGRADED, ""),
             health.ComponentHealth("router", State.DOWN, ""),
             health.ComponentHealth("prometheus", State.NOT_RUNNING, "")]
    assert health.exit_code(comps) == 8 | 16
    assert health.exit_code(comps[:1]) == 0
    with pytest.raises(ValueError, match="unknown component"):
        health.check_health(Settings(home=Path("/nonexistent")), components=["nope"])
