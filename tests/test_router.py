"""The local router as a real process in front of real API replicas (blue/v1 and green/v2)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from milvus_lab import processes
from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.processes import pid_running
from milvus_lab.router.client import RouterClient, ensure_router, stop_router
from milvus_lab.router.table import RoutingTable
from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import MilvusServer, new_lab_settings, stop_all


@dataclass
class Stack:
    settings: Settings
    router: RouterClient
    http: httpx.Client  # on the router's data port
    blue: ApiConfig
    green: ApiConfig
    blue_url: str
    green_url: str

    def reset(self, weights: dict[str, int], preview: str | None = None) -> RoutingTable:
        return self.router.put(RoutingTable({"blue": (self.blue_url,), "green": (self.green_url,)},
                                            weights, preview))

    def served_by(self, n: int, path: str = "/version", **headers: str) -> Counter[str]:
        return Counter(self.http.get(path, headers=headers).headers["x-served-by"] for _ in range(n))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, milvus_server: MilvusServer,
          small_collection: str, small_collection_v2: str, small_dataset: Dataset) -> Iterator[Stack]:
    settings = new_lab_settings(tmp_path_factory.mktemp("router") / "home")
    common = {"milvus_uri": milvus_server.uri, "dim": small_dataset.spec.dim}
    blue = ApiConfig(slot="blue", version="v1", collection=small_collection, **common)
    green = ApiConfig(slot="green", version="v2", collection=small_collection_v2, **common)
    try:
        (b,) = replicas.start_replicas(settings, blue, 1)
        (g,) = replicas.start_replicas(settings, green, 1)
        router = ensure_router(settings)
        with httpx.Client(base_url=settings.router_url, timeout=15) as http:
            yield Stack(settings, router, http, blue, green, b.url, g.url)
        router.close()
    finally:
        stop_all(settings)


def _search(stack: Stack, ds: Dataset, i: int = 0, **headers: str) -> httpx.Response:
    return stack.http.post("/search", json={"vector": ds.queries[i % len(ds.queries)].tolist(), "k": 5},
                           headers=headers)


def test_search_through_the_router(stack: Stack, small_dataset: Dataset) -> None:
    stack.reset({"blue": 100})
    resp = _search(stack, small_dataset)
    assert resp.status_code == 200 and resp.headers["x-served-by"] == "blue/v1"
    assert resp.headers["x-data-version"] == "v1" and len(resp.json()["hits"]) == 5
    bad = stack.http.post("/search", content=b"{oops", headers={"content-type": "application/json"})
    assert bad.status_code == 422 and bad.headers["x-served-by"] == "blue/v1"  # passed through


def test_weights_are_respected(stack: Stack) -> None:
    stack.reset({"blue": 100, "green": 0})
    assert stack.served_by(40) == Counter({"blue/v1": 40})
    stack.reset({"blue": 70, "green": 30})
    seen = stack.served_by(400)
    assert set(seen) == {"blue/v1", "green/v2"}
    share = seen["green/v2"] / 400
    assert 0.30 - 0.09 < share < 0.30 + 0.09, seen  # about 4 standard deviations
    stack.reset({"blue": 0, "green": 100})
    assert stack.served_by(40) == Counter({"green/v2": 40})


def test_sticky_users_always_land_on_the_same_slot(stack: Stack) -> None:
    stack.reset({"blue": 50, "green": 50})
    first: dict[str, str] = {}
    for u in range(40):
        seen = stack.served_by(4, **{"X-User-Id": f"user-{u}"})
        assert len(seen) == 1, f"user-{u} was split: {seen}"
        first[f"user-{u}"] = next(iter(seen))
    assert set(first.values()) == {"blue/v1", "green/v2"}  # users spread over both
    # a ramp towards green never sends a green user back to blue
    stack.reset({"blue": 20, "green": 80})
    for user, slot in first.items():
        if slot == "green/v2":
            assert stack.served_by(1, **{"X-User-Id": user}) == Counter({"green/v2": 1})


def test_preview_route_and_header_go_to_the_preview_slot(stack: Stack) -> None:
    stack.reset({"blue": 100}, preview="green")
    assert stack.served_by(5, "/preview/version") == Counter({"green/v2": 5})
    assert stack.served_by(5, **{"X-Preview": "1"}) == Counter({"green/v2": 5})
    assert stack.served_by(5) == Counter({"blue/v1": 5})  # live traffic untouched
    assert stack.http.get("/preview/version").json()["slot"] == "green"
    stack.reset({"blue": 100}, preview=None)
    resp = stack.http.get("/preview/version")
    assert resp.status_code == 503 and "no preview slot" in resp.json()["error"]
    assert resp.headers["x-served-by"] == "router/none"


def test_a_table_that_sends_traffic_nowhere_is_refused(stack: Stack) -> None:
    before = stack.reset({"blue": 100})
    ctl = stack.settings.router_control_url
    broken = {"pools": {"blue": [stack.blue_url]}, "weights": {"blue": 0, "green": 100}}
    resp = httpx.put(f"{ctl}/routes", json=broken, timeout=5)
    assert resp.status_code == 400 and "'green' has weight 100 but no backends" in resp.json()["error"]
    for bad in ({"pools": {"blue": [stack.blue_url]}, "weights": {"blue": 0}},
                {"pools": {"blue": []}, "weights": {"blue": 100}},
                {"pools": {"blue": [stack.blue_url]}, "weights": {"blue": -5}}):
        assert httpx.put(f"{ctl}/routes", json=bad, timeout=5).status_code == 400, bad
    assert httpx.put(f"{ctl}/routes", content=b"{not json", timeout=5).status_code == 400
    with pytest.raises(PrerequisiteError, match="router refused the table"):
        stack.router.set_weights({"purple": 100})
    after = stack.router.table()
    assert after == before  # the previous table stays, version included
    assert stack.served_by(10) == Counter({"blue/v1": 10})


def test_empty_table_means_no_live_slot(stack: Stack) -> None:
    stack.router.put(RoutingTable())
    resp = stack.http.get("/version")
    assert resp.status_code == 503 and "no live slot" in resp.json()["error"]
    stack.reset({"blue": 100})
    assert stack.http.get("/version").status_code == 200


def test_a_killed_backend_is_skipped(stack: Stack, small_dataset: Dataset) -> None:
    extra = replicas.start_replicas(stack.settings, stack.blue, 2)  # a second blue replica
    victim = next(r for r in extra if r.url != stack.blue_url)
    stack.router.put(RoutingTable({"blue": (stack.blue_url, victim.url), "green": (stack.green_url,)},
                                  {"blue": 100}))
    assert len(stack.served_by(10)) == 1
    os.killpg(victim.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_running(victim.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    statuses = Counter(_search(stack, small_dataset, i).status_code for i in range(40))
    assert statuses == Counter({200: 40})
    processes.stop_process(stack.settings, victim.name)  # drop its record


def test_every_backend_gone_is_a_502_naming_the_slot(stack: Stack) -> None:
    dead = f"http://127.0.0.1:{processes.free_port()}"
    stack.router.put(RoutingTable({"blue": (stack.blue_url,), "gone": (dead,)}, {"gone": 100}))
    resp = stack.http.get("/version")
    assert resp.status_code == 502 and "no backend of slot 'gone' answered" in resp.json()["error"]
    assert resp.headers["x-served-by"] == "router/gone"
    stack.reset({"blue": 100})


def test_in_flight_requests_survive_switches(stack: Stack, small_dataset: Dataset) -> None:
    stack.reset({"blue": 100})
    stop = threading.Event()
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=stack.settings.router_url, timeout=15) as http:
            i = n
            while not stop.is_set():
                resp = http.post("/search", json={"vector": small_dataset.queries[i % 50].tolist()})
                ok = resp.status_code == 200 and bool(resp.json().get("hits"))
                with lock:
                    results.append((resp.status_code if ok else -resp.status_code,
                                    resp.headers.get("x-served-by", "")))
                i += 7

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    try:
        def answered(n: int) -> None:  # wait for traffic, not for a sleep (busy machines are slow)
            deadline, start = time.monotonic() + 30, len(results)
            while len(results) < start + n and time.monotonic() < deadline:
                time.sleep(0.02)

        for k in range(12):
            answered(5)
            stack.router.switch_to("green" if k % 2 == 0 else "blue")
        answered(5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    statuses = Counter(code for code, _ in results)
    assert statuses == Counter({200: len(results)}), statuses
    assert len(results) >= 50
    assert {who for _, who in results} == {"blue/v1", "green/v2"}
    assert stack.router.table().version >= 12


def test_router_metrics_and_restart_keeps_the_table(stack: Stack) -> None:
    table = stack.reset({"blue": 60, "green": 40}, preview="green")
    stack.served_by(5)
    metrics = httpx.get(f"{stack.settings.router_control_url}/metrics", timeout=5).text
    assert 'router_slot_weight{slot="green"} 40.0' in metrics
    assert 'router_requests_total{slot="' in metrics
    old_pid = processes.read_record(stack.settings, "router").pid  # type: ignore[union-attr]
    assert stop_router(stack.settings) and not pid_running(old_pid)
    restarted = ensure_router(stack.settings)
    try:
        kept = restarted.table()
        assert (kept.pools, kept.weights, kept.preview) == (table.pools, table.weights, table.preview)
    finally:
        restarted.close()
    assert sum(stack.served_by(10).values()) == 10
