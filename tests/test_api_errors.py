"""Client mistakes are 4xx with the reason, not outages: a real uvicorn replica on Milvus Lite.

A bad filter must not count as a 503 in /metrics (the rollback analysis reads it) nor
reset the Milvus connection; only a lost Milvus is a 503 (see test_app.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.testing.milvus_fixtures import MilvusServer, new_lab_settings, stop_all


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, milvus_server: MilvusServer,
        small_collection: str, small_dataset: Dataset) -> Iterator[httpx.Client]:
    settings = new_lab_settings(tmp_path_factory.mktemp("api-errors") / "home")
    cfg = ApiConfig(slot="blue", version="v1", milvus_uri=milvus_server.uri,
                    collection=small_collection, dim=small_dataset.spec.dim)
    (replica,) = replicas.start_replicas(settings, cfg, 1)
    with httpx.Client(base_url=replica.url, timeout=30) as client:
        yield client
    stop_all(settings)


def _count(api: httpx.Client, status: str) -> float:
    total = 0.0
    for line in api.get("/metrics").text.splitlines():
        if line.startswith("search_api_requests_total{") and f'status="{status}"' in line \
                and 'endpoint="/search"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("flt, status, words", [
    ("category ==", 400, "unexpected end of expression"),
    ("nofield == 1", 400, "nofield"),
    ("price", 400, "bool"),
    ('category == "a\x00b"', 422, "null byte"),
    ("(" * 60 + "price < 1" + ")" * 60, 422, "levels deep"),
], ids=["syntax-error", "unknown-field", "not-boolean", "null-byte", "deep-nesting"])
def test_bad_filter_is_a_client_error(api: httpx.Client, small_dataset: Dataset, flt: str,
                                      status: int, words: str) -> None:
    unavailable_before = _count(api, "503")
    resp = api.post("/search", json={"vector": small_dataset.queries[0].tolist(), "filter": flt})
    assert resp.status_code == status, resp.text
    assert words in resp.text, resp.text
    assert resp.headers["x-served-by"] == "blue/v1"
    assert _count(api, "503") == unavailable_before, "a client's mistake is not an outage"
    ok = api.post("/search", json={"vector": small_dataset.queries[1].tolist()})
    assert ok.status_code == 200 and ok.json()["hits"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_vector_is_422(api: httpx.Client, small_dataset: Dataset, literal: str) -> None:
    values = [str(x) for x in small_dataset.queries[0].tolist()]
    values[3] = literal
    body = '{"vector": [' + ", ".join(values) + "]}"
    resp = api.post("/search", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 422, resp.text
    assert "finite" in resp.text


def test_oversized_body_is_413_without_reading_it_all(api: httpx.Client) -> None:
    resp = api.post("/search", content=b"[" + b"1.0," * 400_000 + b"1.0]",
                    headers={"content-type": "application/json"})
    assert resp.status_code == 413, resp.text[:200]
    assert resp.json()["error"].startswith("request body larger than")

    def chunks() -> Iterator[bytes]:  # no content-length: counted while streaming
        yield b'{"vector": ['
        for _ in range(200):
            yield b"0.5," * 2_000
        yield b"0.5]}"

    streamed = api.post("/search", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_openapi_states_dimension_errors_and_metrics_type(api: httpx.Client, small_dataset: Dataset) -> None:
    spec = api.get("/openapi.json").json()
    vector = spec["components"]["schemas"]["SearchRequest"]["properties"]["vector"]
    assert vector["minItems"] == vector["maxItems"] == small_dataset.spec.dim
    assert {"200", "400", "413", "422", "503"} <= set(spec["paths"]["/search"]["post"]["responses"])
    assert "text/plain" in spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert api.get("/metrics").headers["content-type"].startswith("text/plain")


def test_replica_is_warm_when_ready(api: httpx.Client, small_dataset: Dataset) -> None:
    """The first concurrent searches of a fresh replica all succeed (no lazy-import race)."""
    from concurrent.futures import ThreadPoolExecutor

    body = {"vector": small_dataset.queries[2].tolist()}
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: api.post("/search", json=body).status_code, range(16)))
    assert codes == [200] * 16
