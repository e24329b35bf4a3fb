"""Search API replicas: N real uvicorn processes per slot, reused, replaced, stopped by pid."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from milvus_lab import processes
from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.processes import pid_running
from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import MilvusServer


def _cfg(milvus_server: MilvusServer, collection: str, ds: Dataset, **kw: object) -> ApiConfig:
    values: dict = {"slot": "blue", "version": "v1", "milvus_uri": milvus_server.uri,
                    "collection": collection, "dim": ds.spec.dim, **kw}
    return ApiConfig(**values)


def test_start_reuse_replace_and_stop(lab_settings: Settings, milvus_server: MilvusServer,
                                      small_collection: str, small_dataset: Dataset) -> None:
    cfg = _cfg(milvus_server, small_collection, small_dataset)
    two = replicas.start_replicas(lab_settings, cfg, 2)
    assert [r.name for r in two] == ["api-blue-0", "api-blue-1"]
    assert len({r.port for r in two}) == 2 and all(pid_running(r.pid) for r in two)
    for r in two:
        assert replicas.ready(r.url)
        resp = httpx.post(f"{r.url}/search", json={"vector": small_dataset.queries[0].tolist()},
                          timeout=10)
        assert resp.status_code == 200 and resp.headers["x-served-by"] == "blue/v1"

    again = replicas.start_replicas(lab_settings, cfg, 2)  # same config: the same processes
    assert [(r.pid, r.port) for r in again] == [(r.pid, r.port) for r in two]

    one = replicas.start_replicas(lab_settings, cfg, 1)  # scale down keeps one of them
    assert len(one) == 1 and one[0].pid in {r.pid for r in two}
    gone = [r for r in two if r.pid != one[0].pid]
    assert gone and not pid_running(gone[0].pid)

    v2 = replicas.start_replicas(lab_settings, dataclasses.replace(cfg, version="v2"), 1)
    assert v2[0].version == "v2" and v2[0].pid != one[0].pid and not pid_running(one[0].pid)
    assert httpx.get(f"{v2[0].url}/version", timeout=5).json()["version"] == "v2"
    assert [r.version for r in replicas.list_replicas(lab_settings, "blue")] == ["v2"]

    log = Path(processes.read_record(lab_settings, v2[0].name).log)  # type: ignore[union-attr]
    assert log.parent == lab_settings.state_dir / "logs"
    assert replicas.stop_replicas(lab_settings, "blue") == 1
    assert not pid_running(v2[0].pid) and replicas.list_replicas(lab_settings) == []
    assert log.is_file()  # logs are kept for the post-mortem


def test_slots_are_independent(lab_settings: Settings, milvus_server: MilvusServer,
                               small_collection: str, small_collection_v2: str,
                               small_dataset: Dataset) -> None:
    blue = replicas.start_replicas(lab_settings, _cfg(milvus_server, small_collection, small_dataset), 1)
    green = replicas.start_replicas(
        lab_settings,
        _cfg(milvus_server, small_collection_v2, small_dataset, slot="green", version="v2"), 1)
    assert {r.slot for r in replicas.list_replicas(lab_settings)} == {"blue", "green"}
    assert replicas.stop_replica(lab_settings, green[0])
    assert [r.slot for r in replicas.list_replicas(lab_settings)] == ["blue"]  # blue untouched
    assert pid_running(blue[0].pid)
    body = httpx.post(f"{blue[0].url}/search", json={"vector": small_dataset.queries[0].tolist()},
                      timeout=10)
    assert body.headers["x-data-version"] == "v1"


def test_a_dead_replica_is_replaced(lab_settings: Settings, milvus_server: MilvusServer,
                                    small_collection: str, small_dataset: Dataset) -> None:
    cfg = _cfg(milvus_server, small_collection, small_dataset)
    (first,) = replicas.start_replicas(lab_settings, cfg, 1)
    os.killpg(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_running(first.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_running(first.pid)
    assert replicas.list_replicas(lab_settings) == []  # a dead process is not a replica
    (second,) = replicas.start_replicas(lab_settings, cfg, 1)
    assert second.pid != first.pid and replicas.ready(second.url)


def test_a_replica_that_never_gets_ready_is_reported(
        lab_settings: Settings, milvus_server: MilvusServer, small_dataset: Dataset) -> None:
    cfg = _cfg(milvus_server, "no_such_collection", small_dataset, slot="broken")
    with pytest.raises(PrerequisiteError) as err:
        replicas.start_replicas(lab_settings, cfg, 1, timeout=4)
    assert err.value.exit_code == 2
    assert "api-broken-0" in err.value.message and "did not become ready within 4s" in err.value.message
    assert "milvus-lab down" in (err.value.fix or "")


def test_negative_count_is_bad_input(lab_settings: Settings, milvus_server: MilvusServer,
                                     small_dataset: Dataset) -> None:
    with pytest.raises(PrerequisiteError, match="negative"):
        replicas.start_replicas(lab_settings, _cfg(milvus_server, "x", small_dataset), -1)
