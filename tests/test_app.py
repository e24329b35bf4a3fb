"""The search API as a real uvicorn replica on the shared Milvus Lite server (no mocks)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.app.main import RETRY_BUDGET_FACTOR
from milvus_lab.milvus import server
from milvus_lab.milvus.datasets import CATEGORIES, Dataset
from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import (
    MilvusServer,
    build_collection,
    new_lab_settings,
    stop_all,
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, milvus_server: MilvusServer,
        small_collection: str, small_dataset: Dataset) -> Iterator[httpx.Client]:
    """One blue/v1 replica serving `small_collection`; an HTTP client on it."""
    settings = new_lab_settings(tmp_path_factory.mktemp("api") / "home")
    cfg = ApiConfig(slot="blue", version="v1", milvus_uri=milvus_server.uri,
                    collection=small_collection, dim=small_dataset.spec.dim)
    (replica,) = replicas.start_replicas(settings, cfg, 1)
    with httpx.Client(base_url=replica.url, timeout=10) as client:
        yield client
    stop_all(settings)


def _query(ds: Dataset, i: int = 0, **extra: object) -> dict:
    return {"vector": ds.queries[i].tolist(), "k": 10, **extra}


def test_search_returns_hits_and_who_served(api: httpx.Client, small_dataset: Dataset) -> None:
    resp = api.post("/search", json=_query(small_dataset, 3))
    assert resp.status_code == 200
    assert resp.headers["x-served-by"] == "blue/v1"
    assert resp.headers["x-data-version"] == "v1"
    body = resp.json()
    assert len(body["hits"]) == 10 and body["slot"] == "blue" and body["version"] == "v1"
    assert body["data_version"] == "v1" and body["took_ms"] > 0
    ids = [h["id"] for h in body["hits"]]
    truth = small_dataset.ground_truth[3].tolist()
    assert ids[0] == truth[0] and len(set(ids) & set(truth)) >= 9
    first = body["hits"][0]["fields"]
    assert set(first) >= {"category", "price", "title", "release"}


def test_filter_is_applied(api: httpx.Client, small_dataset: Dataset) -> None:
    resp = api.post("/search", json=_query(small_dataset, 0, filter=f'category == "{CATEGORIES[2]}"'))
    assert resp.status_code == 200
    hits = resp.json()["hits"]
    assert hits and {h["fields"]["category"] for h in hits} == {CATEGORIES[2]}


def test_blank_filter_means_no_filter(api: httpx.Client, small_dataset: Dataset) -> None:
    plain = api.post("/search", json=_query(small_dataset, 1)).json()["hits"]
    blank = api.post("/search", json=_query(small_dataset, 1, filter="  ")).json()["hits"]
    assert [h["id"] for h in plain] == [h["id"] for h in blank]


@pytest.mark.parametrize(
    ("payload", "content"),
    [
        ({"vector": [0.1] * 7}, None),  # wrong dimension
        ({"vector": []}, None),
        ({"vector": [0.1] * 32, "k": 0}, None),
        ({"vector": [0.1] * 32, "k": 101}, None),
        ({"k": 5}, None),
        (None, b'{"vector": [0.1, '),  # malformed JSON
        (None, b"not json at all"),
    ],
    ids=["wrong-dim", "empty-vector", "k-0", "k-101", "no-vector", "truncated-json", "not-json"],
)
def test_bad_input_is_422_and_still_says_who_served(
        api: httpx.Client, payload: dict | None, content: bytes | None) -> None:
    if payload is not None:
        resp = api.post("/search", json=payload)
    else:
        resp = api.post("/search", content=content, headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert resp.headers["x-served-by"] == "blue/v1"
    assert resp.headers["content-type"].startswith("application/json")


def test_wrong_dim_names_both_dimensions(api: httpx.Client) -> None:
    resp = api.post("/search", json={"vector": [0.1] * 7})
    assert resp.json() == {"error": "vector has 7 dimensions, expected 32"}


def test_health_ready_version(api: httpx.Client, small_collection: str) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    version = api.get("/version")
    assert version.headers["x-served-by"] == "blue/v1"
    assert version.json() | {"app": "x"} == {"slot": "blue", "version": "v1", "variant": "",
                                             "collection": small_collection, "app": "x"}
    assert api.get("/nope").headers["x-served-by"] == "blue/v1"  # 404s are tagged too


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample whose labels include `labels`."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels} in:\n{text}")


def test_metrics_count_requests_and_latency_in_seconds(api: httpx.Client, small_dataset: Dataset) -> None:
    before = api.get("/metrics").text
    base = {"slot": "blue", "version": "v1", "endpoint": "/search"}
    try:
        ok_before = _sample(before, "search_api_requests_total", status="200", **base)
    except AssertionError:
        ok_before = 0.0
    count_before = _sample(before, "search_api_request_duration_seconds_count", slot="blue")
    for i in range(3):
        assert api.post("/search", json=_query(small_dataset, i)).status_code == 200
    api.post("/search", json={"vector": [1.0]})
    text = api.get("/metrics").text
    assert _sample(text, "search_api_requests_total", status="200", **base) == ok_before + 3
    assert _sample(text, "search_api_requests_total", status="422", **base) >= 1
    assert _sample(text, "search_api_request_duration_seconds_count", slot="blue") == count_before + 3
    total = _sample(text, "search_api_request_duration_seconds_sum", slot="blue")
    assert 0 < total < 10 * (count_before + 3)  # seconds, not milliseconds
    buckets = [line for line in text.splitlines()
               if line.startswith("search_api_request_duration_seconds_bucket{")]
    assert any('le="0.005"' in b for b in buckets) and any('le="5.0"' in b for b in buckets)
    assert _sample(text, "search_api_info", slot="blue", version="v1") == 1.0

def test_milvus_down_is_a_fast_503_and_recovers(
        lab_settings: Settings, milvus_factory: Callable[[], MilvusServer],
        small_dataset: Dataset) -> None:
    milvus = milvus_factory()
    client = milvus.client()
    name = build_collection(client, small_dataset, name="down_test")
    client.close()
    cfg = ApiConfig(slot="green", version="v9", milvus_uri=milvus.uri, collection=name,
                    dim=small_dataset.spec.dim, timeout_s=2.0)
    (replica,) = replicas.start_replicas(lab_settings, cfg, 1)
    with httpx.Client(base_url=replica.url, timeout=15) as http:
        assert http.post("/search", json=_query(small_dataset)).status_code == 200

        assert server.stop_server(milvus.settings)
        for _ in range(3):  # the first call, then the reconnect path: each one fast
            t0 = time.monotonic()
            resp = http.post("/search", json=_query(small_dataset))
            took = time.monotonic() - t0
            assert resp.status_code == 503, resp.text
            # retries of transient errors end within the budget: a 503, never a hang
            assert took < RETRY_BUDGET_FACTOR * cfg.timeout_s + 2.0, f"503 took {took:.1f}s"
            assert resp.json()["error"].startswith("Milvus unavailable")
            assert resp.headers["x-served-by"] == "green/v9"
        t0 = time.monotonic()
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert time.monotonic() - t0 < 3.5
        assert http.get("/healthz").status_code == 200  # alive, just not ready
        metrics = http.get("/metrics").text
        assert 'status="503"' in metrics

        server.ensure_server(milvus.settings)  # same port and data: the replica reconnects
        client = milvus.client()
        try:  # Milvus Lite forgets load state on restart: collections come back released
            client.load_collection(name)
        finally:
            client.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            resp = http.post("/search", json=_query(small_dataset))
            if resp.status_code == 200:
                break
            time.sleep(0.5)
        assert resp.status_code == 200 and resp.json()["hits"]
