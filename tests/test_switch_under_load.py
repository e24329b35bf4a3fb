"""The issue's acceptance test: blue -> green -> blue ... switches under real Locust load, zero failures.

Real processes end to end: Locust (subprocess, the project's runner and locustfile) -> the
router -> blue/v1 and green/v2 uvicorn replicas -> the shared Milvus Lite server. A request
fails when it is not a 200, has no hits, or was answered by a version nobody expected.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.load import LoadResult, start_locust
from milvus_lab.milvus import datasets
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.router.client import RouterClient, ensure_router
from milvus_lab.router.table import RoutingTable
from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import MilvusServer, new_lab_settings, stop_all

REPO = Path(__file__).resolve().parents[1]
SWITCHES = ("green", "blue", "green", "blue", "green", "blue")
MIN_REQUESTS = 1_000
DWELL_S = 3.0  # between switches: long enough for whole-second timeline buckets per phase


@dataclass
class Run:
    result: LoadResult
    switches: list[tuple[str, float]]
    router_version: int


@pytest.fixture(scope="module")
def switched_run(tmp_path_factory: pytest.TempPathFactory, milvus_server: MilvusServer,
                 small_collection: str, small_collection_v2: str,
                 small_dataset: Dataset) -> Iterator[Run]:
    home = tmp_path_factory.mktemp("switch") / "home"
    settings: Settings = new_lab_settings(home)
    router: RouterClient | None = None
    try:
        common = {"milvus_uri": milvus_server.uri, "dim": small_dataset.spec.dim}
        blue = replicas.start_replicas(
            settings, ApiConfig(slot="blue", version="v1", collection=small_collection, **common), 1)
        green = replicas.start_replicas(
            settings, ApiConfig(slot="green", version="v2", collection=small_collection_v2, **common), 1)
        router = ensure_router(settings)
        router.put(RoutingTable({"blue": tuple(r.url for r in blue), "green": tuple(r.url for r in green)},
                                {"blue": 100, "green": 0}))
        dataset_dir = datasets.save(small_dataset, home / "dataset")
        env = {"MILVUS_LAB_DATASET_DIR": str(dataset_dir), "MILVUS_LAB_USER_RPS": "6",
               "MILVUS_LAB_EXPECT_VERSIONS": "v1,v2", "MILVUS_LAB_FILTER_RATIO": "0.1"}
        switches: list[tuple[str, float]] = []
        with start_locust(REPO / "loadtests" / "search_api.py", settings.router_url, users=12,
                          spawn_rate=12, run_time_s=None, out_dir=home / "locust", env=env) as run:
            time.sleep(DWELL_S + 1)
            for slot in SWITCHES:
                router.switch_to(slot)
                switches.append((slot, time.time()))
                run.mark(f"switch to {slot}")
                time.sleep(DWELL_S)
            deadline = time.monotonic() + 40  # a slow machine: run on (on blue) until enough
            while run.snapshot().total_requests < MIN_REQUESTS + 100 and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)
            run.stop()
            result = run.result()
        yield Run(result, switches, router.table().version)
    finally:
        if router is not None:
            router.close()
        stop_all(settings)


@pytest.mark.slow
def test_switches_under_load_have_zero_failures(switched_run: Run) -> None:
    r = switched_run.result
    assert r.requests >= MIN_REQUESTS, f"only {r.requests} requests ({r.rps:.0f}/s)"
    assert r.failures == 0, f"{r.failures} failures: {r.errors}"
    # Locust's own totals: they also count requests that end while it stops (the timeline
    # can miss those), so a failure at the very end cannot hide
    assert r.locust_totals.get("requests", 0) >= r.requests
    assert r.locust_totals.get("failures") == 0
    assert r.exit_code == 0, f"Locust exited with {r.exit_code}; log: {r.files.log}"


@pytest.mark.slow
def test_both_versions_answered_and_the_data_matched_the_app(switched_run: Run) -> None:
    r = switched_run.result
    assert set(r.served_by) == {"blue/v1", "green/v2"}, r.served_by
    assert min(r.versions.values()) >= 200, r.versions
    assert set(r.data_versions) == {"v1", "v2"}  # X-Data-Version: v1 rows vs v2 rows
    assert switched_run.router_version >= 1 + len(SWITCHES)


@pytest.mark.slow
def test_each_phase_is_served_by_the_slot_switched_to(switched_run: Run) -> None:
    r = switched_run.result
    expected = {"blue": "v1", "green": "v2"}
    for slot, t in switched_run.switches:
        window = r.window(t + 1.0, t + DWELL_S - 0.5, f"after switch to {slot}")  # whole seconds only
        assert window.requests > 0, window
        assert window.failures == 0
        assert set(window.versions) == {expected[slot]}, (slot, window.versions)

