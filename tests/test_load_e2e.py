"""The load scenarios against the real stack: Milvus Lite, search API replicas, the router.

One small stack per module (500 rows, dim 16) in a temp MILVUS_LAB state dir on free
ports. The cutover test is lab 03 in miniature: blue/v1 serves the real collection,
green/v2 is a bad release that serves an empty one; after the router switches to green,
every search must count as a failure ("empty hits"), not as a success.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.load import start_locust
from milvus_lab.milvus import collections, datasets, server
from milvus_lab.processes import free_port
from milvus_lab.router.client import RouterClient, ensure_router, stop_router
from milvus_lab.router.table import RoutingTable
from milvus_lab.settings import Settings
from milvus_lab.testing.load_fixtures import wait_for_served_seconds

REPO = Path(__file__).resolve().parents[1]
DIM = 16


@dataclass
class Stack:
    settings: Settings
    milvus_uri: str
    dataset_dir: Path
    router: RouterClient


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("load-e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MILVUS_LAB_HOME", str(root))  # our own state dir: pid files, logs, data
        yield from _stack(root)


def _stack(root: Path) -> Iterator[Stack]:
    settings = Settings(repo_root=root, milvus_port=free_port(), router_port=free_port(),
                        router_control_port=free_port(), dim=DIM)
    endpoint = server.ensure_server(settings)
    try:
        from pymilvus import MilvusClient

        spec = datasets.DatasetSpec(name="products-v1", n=500, dim=DIM, n_queries=20, k=5)
        ds = datasets.ensure_dataset(settings, spec)
        client = MilvusClient(uri=endpoint.uri)
        collections.ensure_collection(client, "products_v1", ds, collections.IndexSpec.flat())
        collections.point_alias(client, "products", "products_v1")
        _create_empty_collection(client, "products_empty")  # the bad release: no rows at all
        client.close()

        common = {"milvus_uri": endpoint.uri, "dim": DIM, "search_params": {}}
        blue = replicas.start_replicas(
            settings, ApiConfig(slot="blue", version="v1", collection="products", **common), 1)
        green = replicas.start_replicas(
            settings, ApiConfig(slot="green", version="v2", collection="products_empty", **common), 1)
        router = ensure_router(settings)
        router.put(RoutingTable({"blue": (blue[0].url,), "green": (green[0].url,)},
                                {"blue": 100, "green": 0}, None, ""))
        yield Stack(settings, endpoint.uri, datasets.dataset_dir(settings, "products-v1"), router)
    finally:
        stop_router(settings)
        replicas.stop_replicas(settings)
        server.stop_server(settings)


def _create_empty_collection(client: Any, name: str) -> None:
    """Same fields as the products collections (what the search API reads), zero rows."""
    from pymilvus import MilvusClient

    from milvus_lab.milvus.collections import products_schema

    if client.has_collection(name):
        client.drop_collection(name)
    schema = products_schema(DIM)
    index = MilvusClient.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="COSINE")
    client.create_collection(name, schema=schema, index_params=index)
    client.load_collection(name)


def test_cutover_to_an_empty_release_is_counted_as_failures(stack: Stack, tmp_path: Path) -> None:
    env = {"MILVUS_LAB_DATASET_DIR": str(stack.dataset_dir), "MILVUS_LAB_FILTER_RATIO": "0.3",
           "MILVUS_LAB_EXPECT_VERSIONS": "v1,v2", "MILVUS_LAB_USER_RPS": "4"}
    with start_locust(REPO / "loadtests" / "search_api.py", stack.settings.router_url, users=4,
                      spawn_rate=4, run_time_s=None, out_dir=tmp_path, env=env) as run:
        wait_for_served_seconds(run.files.timeline, 0, "blue/v1")
        stack.router.switch_to("green")
        switch = run.mark("switch to green")
        # green serves an empty release: every answer is a failure, so wait for its seconds
        wait_for_served_seconds(run.files.timeline, switch.t + 1, "green/v2", seconds=2)
    result = run.result()
    before, after = result.phases()
    assert before.requests > 0 and after.requests > 0
    assert result.window(result.start, run.marks[0].t - 1).failures == 0
    assert before.served_by.get("blue/v1", 0) > 0.7 * before.requests
    assert after.served_by.get("green/v2", 0) > 0.7 * after.requests
    green_after = result.window(run.marks[0].t + 1, result.end)
    assert green_after.requests > 0 and green_after.failures == green_after.requests
    assert green_after.errors.keys() == {"empty hits"}
    assert result.data_versions.get("v1", 0) > 0  # X-Data-Version: the rows' release
    assert result.locust_totals == {"requests": result.requests, "failures": result.failures}
    stats_csv = (tmp_path / "locust_stats.csv").read_text()
    assert "/search [filter]" in stats_csv  # the filtered share really ran


def test_grpc_scenario_counts_empty_results_as_failures(stack: Stack, tmp_path: Path) -> None:
    # half the searches filter on a category that has no rows: Milvus returns nothing
    ds = tmp_path / "dataset"
    shutil.copytree(stack.dataset_dir, ds)
    meta = json.loads((ds / "meta.json").read_text())
    (ds / "meta.json").write_text(json.dumps({**meta, "categories": ["no-such-category"]}))
    env = {"MILVUS_LAB_DATASET_DIR": str(ds), "MILVUS_LAB_FILTER_RATIO": "0.5",
           "MILVUS_LAB_COLLECTION": "products", "MILVUS_LAB_EXPECT_VERSIONS": "v1",
           "MILVUS_LAB_USER_RPS": "4", "MILVUS_LAB_SEARCH_PARAMS": '{"nprobe": 4}'}
    run = start_locust(REPO / "loadtests" / "milvus_grpc.py", stack.milvus_uri, users=3,
                       spawn_rate=3, run_time_s=4, out_dir=tmp_path / "out", env=env)
    run.wait()
    result = run.result()
    assert result.requests > 10
    assert 0 < result.failures < result.requests, result.errors
    assert set(result.errors) == {"SearchFailed: empty result"}
    assert set(result.served_by) <= {"products/v1", "unknown"}  # unknown = the empty ones
    assert result.served_by.get("products/v1", 0) == result.requests - result.failures
    assert result.locust_totals == {"requests": result.requests, "failures": result.failures}
