"""The search API runs the experiment: real uvicorn replicas, real Milvus Lite, real SDK."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from milvus_lab.abtest.assignment import Experiment, Faults, sdk_bucket_variant
from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.milvus import datasets
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.settings import Settings, find_repo_root
from milvus_lab.testing.milvus_fixtures import MilvusServer


def _experiment() -> Experiment:
    base = Experiment.from_file()  # HNSW collection in the tests: the arms differ in ef
    return base.with_changes("A", search_params={"ef": 16}).with_changes("B", search_params={"ef": 64})


def _cfg(server: MilvusServer, collection: str, ds: Dataset, exp: Experiment) -> ApiConfig:
    return ApiConfig(slot="ab", version="v1", milvus_uri=server.uri, collection=collection,
                     dim=ds.spec.dim, experiment=exp.to_json())


def _search(client: httpx.Client, url: str, ds: Dataset, user: str | None, i: int = 0) -> httpx.Response:
    headers = {"X-User-Id": user} if user else {}
    return client.post(f"{url}/search", json={"vector": ds.queries[i % len(ds.queries)].tolist(), "k": 5},
                       headers=headers, timeout=10)


def test_api_assigns_stickily_across_replicas(lab_settings: Settings, milvus_server: MilvusServer,
                                               small_collection: str, small_dataset: Dataset) -> None:
    exp = _experiment()
    running = replicas.start_replicas(lab_settings, _cfg(milvus_server, small_collection, small_dataset, exp), 2)
    seen: dict[str, set[str]] = {}
    with httpx.Client() as client:
        for i in range(30):
            user = f"user-{i % 10}"
            resp = _search(client, running[i % 2].url, small_dataset, user, i)  # alternate replicas
            assert resp.status_code == 200, resp.text
            assert resp.headers["x-experiment"] == exp.key
            assert resp.json()["variant"] == resp.headers["x-variant"]
            seen.setdefault(user, set()).add(resp.headers["x-variant"])
        anonymous = _search(client, running[0].url, small_dataset, None)
        assert anonymous.status_code == 200 and "x-variant" not in anonymous.headers
        metrics = client.get(f"{running[0].url}/metrics", timeout=5).text
    assert all(len(v) == 1 for v in seen.values()), seen
    assert {u: v.pop() for u, v in seen.items()} == {u: sdk_bucket_variant(exp, u) for u in seen}
    by_variant: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "search_api_requests_total" and sample.labels["endpoint"] == "/search":
                by_variant[sample.labels["variant"]] += int(sample.value)
    assert by_variant["A"] > 0 and by_variant["B"] > 0, by_variant
    replicas.stop_replicas(lab_settings)


def test_injected_regression_hits_only_b(lab_settings: Settings, milvus_server: MilvusServer,
                                         small_collection: str, small_dataset: Dataset) -> None:
    exp = _experiment().with_changes("B", faults=Faults(error_rate=1.0))
    [replica] = replicas.start_replicas(lab_settings, _cfg(milvus_server, small_collection, small_dataset, exp), 1)
    users = [f"user-{i}" for i in range(12)]
    with httpx.Client() as client:
        for user in users:
            resp = _search(client, replica.url, small_dataset, user)
            expected = sdk_bucket_variant(exp, user)
            assert resp.headers.get("x-variant") == expected
            assert resp.status_code == (500 if expected == "B" else 200), (user, resp.text)
    replicas.stop_replicas(lab_settings)


def test_plain_locust_logs_sticky_variants(lab_settings: Settings, milvus_server: MilvusServer,
                                           small_collection: str, small_dataset: Dataset,
                                           tmp_path: Path) -> None:
    """`locust -f loadtests/ab_testing.py` (the plain CLI) against a replica running the experiment."""
    exp = _experiment()
    [replica] = replicas.start_replicas(lab_settings, _cfg(milvus_server, small_collection, small_dataset, exp), 1)
    data_dir = datasets.save(small_dataset, tmp_path / "dataset")
    out = tmp_path / "requests.jsonl"
    env = {**os.environ, "MILVUS_LAB_DATASET_DIR": str(data_dir), "MILVUS_LAB_AB_RECORDS": str(out),
           "MILVUS_LAB_USER_RPS": "10", "MILVUS_LAB_K": "5"}
    # no fixed run time: a busy machine starts locust slowly; stop it once enough rows arrived
    proc = subprocess.Popen([sys.executable, "-m", "locust", "-f", str(find_repo_root() / "loadtests" / "ab_testing.py"),
                             "--host", replica.url, "--headless", "-u", "3", "-r", "3", "-t", "180s",
                             "--only-summary"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and len(out.read_text().splitlines()) >= 12:
                break
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)  # locust's clean shutdown: summary, exit code 0 without failures
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        replicas.stop_replicas(lab_settings)
    assert proc.returncode == 0, output[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) >= 10, len(rows)
    assert all(r["status"] == 200 and r["ids"] and 0 <= r["q"] < len(small_dataset.queries) for r in rows)
    by_user: dict[str, set[str]] = {}
    for r in rows:
        by_user.setdefault(r["user"], set()).add(r["variant"])
    assert all(len(v) == 1 for v in by_user.values()), by_user
    assert {next(iter(v)) for v in by_user.values()} <= {"A", "B"}
    assert any(sum(1 for r in rows if r["user"] == u) >= 2 for u in by_user), "each id is kept for a session"
