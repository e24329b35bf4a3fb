"""What the search API and the router cost on top of Milvus itself, measured in one run.

    python benchmarks/api_overhead.py [--requests 500] [--threads 8] [--engines lite,standalone]
        [--report PATH]

For each Milvus engine (Milvus Lite, and the standalone engine: the real Milvus 2.3.5), one
dataset (20,000 x 128, HNSW M=16 ef=64) in a fresh server, then the same searches three ways:
  (a) direct pymilvus `MilvusClient.search` (same output fields and params as the API),
  (b) HTTP POST /search on one uvicorn replica of the search API,
  (c) the same through the local router (router -> replica -> Milvus).
Phase 1 is sequential single-client latency, the three paths interleaved request by request
so a load change on a shared machine hits all three alike. Phase 2 is throughput: N
threads, each with its own client, a fixed number of requests per path. A last table puts
the engines side by side (same paths, same queries, one run).

Targets: the API adds <= 3 ms p50 over (a); the router adds <= 2 ms p50 over (b). The run
prints PASS/MISS as measured. Everything runs in a temp MILVUS_LAB_HOME on free ports and is
stopped at the end; results go to `.milvus-lab/reports/benchmark_api_overhead.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from milvus_lab import processes
from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.app.main import OUTPUT_FIELDS, SEARCH_CONSISTENCY
from milvus_lab.milvus import collections, datasets
from milvus_lab.milvus.engines import get_engine
from milvus_lab.router.client import ensure_router, stop_router
from milvus_lab.router.table import RoutingTable
from milvus_lab.settings import Settings, find_repo_root
from milvus_lab.testing.milvus_fixtures import new_lab_settings
from milvus_lab.testing.standalone_fixtures import standalone_settings

API_TARGET_MS = 3.0
ROUTER_TARGET_MS = 2.0
SPEC = datasets.DatasetSpec(name="bench-20k", version="v1", n=20_000, dim=128, n_queries=200, k=10)
INDEX = collections.IndexSpec.hnsw(m=16, ef_construction=128, ef=64)
COLLECTION = "bench_20k"
console = Console(highlight=False, width=None if sys.stdout.isatty() else 130)

Search = Callable[[int], None]  # one search of query i; raises on a bad answer


@dataclass
class PathStats:
    """Latency and throughput of one path."""

    path: str
    seq_n: int
    seq_p50_ms: float
    seq_p90_ms: float
    seq_p99_ms: float
    seq_mean_ms: float
    conc_n: int
    conc_threads: int
    conc_rps: float
    conc_p50_ms: float
    conc_p99_ms: float


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# ---- the three paths -------------------------------------------------------------------
def direct_factory(uri: str, queries: list[list[float]]) -> Callable[[], tuple[Search, Callable[[], None]]]:
    """(a): a MilvusClient per caller; the same call the API makes."""
    from pymilvus import MilvusClient

    def make() -> tuple[Search, Callable[[], None]]:
        client = MilvusClient(uri=uri, timeout=10)

        def search(i: int) -> None:
            hits = client.search(COLLECTION, data=[queries[i % len(queries)]], limit=10,
                                 output_fields=OUTPUT_FIELDS, search_params={"params": {"ef": 64}},
                                 timeout=10, consistency_level=SEARCH_CONSISTENCY)[0]
            if not hits:
                raise RuntimeError("direct search returned no hits")

        return search, client.close

    return make


def http_factory(base_url: str, bodies: list[bytes], expect_served_by: str
                 ) -> Callable[[], tuple[Search, Callable[[], None]]]:
    """(b) and (c): a keep-alive httpx client per caller, pre-encoded JSON bodies."""

    def make() -> tuple[Search, Callable[[], None]]:
        client = httpx.Client(base_url=base_url, timeout=10,
                              headers={"content-type": "application/json"})

        def search(i: int) -> None:
            resp = client.post("/search", content=bodies[i % len(bodies)])
            if resp.status_code != 200 or resp.headers.get("x-served-by") != expect_served_by:
                raise RuntimeError(f"{base_url}: HTTP {resp.status_code} {resp.text[:200]}")
            if not resp.json()["hits"]:
                raise RuntimeError(f"{base_url}: no hits")

        return search, client.close

    return make


# ---- phases ------------------------------------------------------------------------------
def sequential(makers: dict[str, Callable[[], tuple[Search, Callable[[], None]]]], n: int,
               warmup: int) -> dict[str, list[float]]:
    """Single client per path, interleaved a, b, c, a, b, c, ... Latencies in ms."""
    made = {name: make() for name, make in makers.items()}
    try:
        for i in range(warmup):
            for search, _ in made.values():
                search(i)
        lat: dict[str, list[float]] = {name: [] for name in made}
        for i in range(n):
            for name, (search, _) in made.items():
                t0 = time.perf_counter()
                search(i)
                lat[name].append((time.perf_counter() - t0) * 1000)
        return lat
    finally:
        for _, close in made.values():
            close()


def concurrent(make: Callable[[], tuple[Search, Callable[[], None]]], n: int, threads: int
               ) -> tuple[float, list[float]]:
    """`threads` clients share `n` requests; returns (requests/s, latencies ms)."""
    made = [make() for _ in range(threads)]
    for search, _ in made:  # connect + warm each client
        search(0)
    counter = iter(range(n))
    lock = threading.Lock()
    lat: list[float] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)

    def worker(search: Search) -> None:
        start.wait()
        mine: list[float] = []
        try:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                t0 = time.perf_counter()
                search(i)
                mine.append((time.perf_counter() - t0) * 1000)
        except BaseException as exc:  # noqa: BLE001 - reported below, never swallowed
            errors.append(exc)
        with lock:
            lat.extend(mine)

    pool = [threading.Thread(target=worker, args=(s,)) for s, _ in made]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    for _, close in made:
        close()
    if errors:
        raise RuntimeError(f"{len(errors)} worker error(s), first: {errors[0]!r}")
    return len(lat) / wall, lat


# ---- setup, run, report --------------------------------------------------------------------
ENGINE_LABELS = {"lite": "Milvus Lite", "standalone": "standalone 2.3.5"}


def bring_up(settings: Settings) -> tuple[datasets.Dataset, str, str, str]:
    """The engine + the collection + one replica + the router: (dataset, milvus uri, api url, router url)."""
    t0 = time.perf_counter()
    endpoint = get_engine(settings).ensure()
    ds = datasets.ensure_dataset(settings, SPEC)
    client = endpoint.client(timeout=30)
    try:
        collections.ensure_collection(client, COLLECTION, ds, INDEX)
    finally:
        client.close()
    cfg = ApiConfig(slot="blue", version="v1", milvus_uri=endpoint.uri, collection=COLLECTION,
                    dim=SPEC.dim, search_params=dict(INDEX.search))
    (replica,) = replicas.start_replicas(settings, cfg, 1)
    router = ensure_router(settings)
    router.put(RoutingTable({"blue": (replica.url,)}, {"blue": 100}))
    router.close()
    console.print(f"[dim]set up in {time.perf_counter() - t0:.1f}s: {ENGINE_LABELS[settings.milvus]} "
                  f"{endpoint.uri}, {SPEC.n:,} x {SPEC.dim} {INDEX.label()}, API {replica.url}, "
                  f"router {settings.router_url}[/]")
    return ds, endpoint.uri, replica.url, settings.router_url


def tear_down(settings: Settings) -> None:
    replicas.stop_replicas(settings)
    stop_router(settings)
    get_engine(settings).stop()
    for rec in processes.list_records(settings):
        processes.stop_process(settings, rec.name)


def measure_engine(engine: str, home: Path, args: argparse.Namespace) -> list[PathStats]:
    """Both phases on one engine (its own home and free ports), printed; stopped at the end."""
    settings = standalone_settings(home) if engine == "standalone" else new_lab_settings(home)
    try:
        ds, milvus_uri, api_url, router_url = bring_up(settings)
        queries = [q.tolist() for q in ds.queries]
        bodies = [json.dumps({"vector": q, "k": 10}).encode() for q in queries]
        makers = {
            "(a) direct pymilvus": direct_factory(milvus_uri, queries),
            "(b) search API": http_factory(api_url, bodies, "blue/v1"),
            "(c) router + API": http_factory(router_url, bodies, "blue/v1"),
        }
        console.print(f"[dim]phase 1: sequential, {args.requests} requests per path, interleaved "
                      f"(+{args.warmup} warm-up)[/]")
        seq = sequential(makers, args.requests, args.warmup)
        conc: dict[str, tuple[float, list[float]]] = {}
        for name, make in makers.items():
            console.print(f"[dim]phase 2: {args.threads} threads, {args.requests} requests: {name}[/]")
            conc[name] = concurrent(make, args.requests, args.threads)
    finally:
        tear_down(settings)
    stats = [
        PathStats(name, len(seq[name]), pct(seq[name], 50), pct(seq[name], 90), pct(seq[name], 99),
                  statistics.fmean(seq[name]), len(conc[name][1]), args.threads, conc[name][0],
                  pct(conc[name][1], 50), pct(conc[name][1], 99))
        for name in makers
    ]
    console.print(path_table(stats, f"{ENGINE_LABELS[engine]}: {SPEC.n:,} x {SPEC.dim}, {INDEX.label()}, "
                                    f"k=10 ({args.requests} requests per path and phase)", args.threads))
    return stats


def path_table(stats: list[PathStats], title: str, threads: int) -> Table:
    table = Table(title=title)
    for col in ("path", "p50 ms", "p90 ms", "p99 ms", "mean ms",
                f"req/s ({threads} threads)", "p50 ms (conc)", "p99 ms (conc)"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for s in stats:
        table.add_row(s.path, f"{s.seq_p50_ms:.2f}", f"{s.seq_p90_ms:.2f}", f"{s.seq_p99_ms:.2f}",
                      f"{s.seq_mean_ms:.2f}", f"{s.conc_rps:.0f}", f"{s.conc_p50_ms:.2f}",
                      f"{s.conc_p99_ms:.2f}")
    return table


def side_by_side(per_engine: dict[str, list[PathStats]], threads: int) -> Table:
    """One row per path, a p50 and a throughput column per engine."""
    table = Table(title="Engines side by side (same paths and queries, one run)")
    table.add_column("path")
    for engine in per_engine:
        table.add_column(f"{ENGINE_LABELS[engine]} p50 ms", justify="right")
        table.add_column(f"{ENGINE_LABELS[engine]} req/s ({threads} thr)", justify="right")
    paths = [s.path for s in next(iter(per_engine.values()))]
    for i, path in enumerate(paths):
        cells: list[str] = []
        for stats in per_engine.values():
            cells += [f"{stats[i].seq_p50_ms:.2f}", f"{stats[i].conc_rps:.0f}"]
        table.add_row(path, *cells)
    return table


def verdict(delta: float, target: float) -> str:
    return "[green]PASS[/]" if delta <= target else "[red]MISS[/]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="requests per path and phase")
    parser.add_argument("--threads", type=int, default=8, help="clients in the throughput phase")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests per path first")
    parser.add_argument("--report", type=Path, default=None,
                        help="JSON path (default .milvus-lab/reports/benchmark_api_overhead.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temp home (logs) afterwards")
    parser.add_argument("--engines", default="lite,standalone",
                        help="comma list of Milvus engines to measure, side by side (lite, standalone)")
    args = parser.parse_args(argv)
    if args.requests < 10 or args.threads < 1:
        console.print("[red]✘ --requests must be >= 10 and --threads >= 1[/]")
        return 2

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or any(e not in ENGINE_LABELS for e in engines):
        console.print(f"[red]✘ --engines takes a comma list of {', '.join(ENGINE_LABELS)}[/]")
        return 2
    report = args.report or Settings(repo_root=find_repo_root()).path("reports", "benchmark_api_overhead.json")
    home = Path(tempfile.mkdtemp(prefix="milvus-lab-bench-"))
    per_engine: dict[str, list[PathStats]] = {}
    try:
        for engine in engines:
            console.rule(ENGINE_LABELS[engine])
            per_engine[engine] = measure_engine(engine, home / engine, args)
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    if len(per_engine) > 1:
        console.print(side_by_side(per_engine, args.threads))
    first = per_engine[engines[0]]  # the API/router targets are judged on the first engine
    a, b, c = first
    api_delta, router_delta = b.seq_p50_ms - a.seq_p50_ms, c.seq_p50_ms - b.seq_p50_ms
    console.print(f"[dim]API and router targets judged on {ENGINE_LABELS[engines[0]]}[/]")
    console.print(f"ratios p50: (b)/(a) = {b.seq_p50_ms / a.seq_p50_ms:.2f}x, "
                  f"(c)/(b) = {c.seq_p50_ms / b.seq_p50_ms:.2f}x;  "
                  f"throughput: (b)/(a) = {b.conc_rps / a.conc_rps:.2f}x, (c)/(b) = {c.conc_rps / b.conc_rps:.2f}x")
    console.print(f"API adds {api_delta:+.2f} ms p50 over (a)    target <= {API_TARGET_MS:g} ms: "
                  f"{verdict(api_delta, API_TARGET_MS)}")
    console.print(f"router adds {router_delta:+.2f} ms p50 over (b) target <= {ROUTER_TARGET_MS:g} ms: "
                  f"{verdict(router_delta, ROUTER_TARGET_MS)}")

    result = {
        "benchmark": "api_overhead", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": {"n": SPEC.n, "dim": SPEC.dim, "index": INDEX.label(), "search": INDEX.search},
        "requests_per_path": args.requests, "threads": args.threads, "warmup": args.warmup,
        "engines": {e: [asdict(s) for s in stats] for e, stats in per_engine.items()},
        "paths": [asdict(s) for s in first],
        "api_adds_p50_ms": round(api_delta, 3), "router_adds_p50_ms": round(router_delta, 3),
        "targets": {"api_p50_ms": API_TARGET_MS, "router_p50_ms": ROUTER_TARGET_MS},
        "api_pass": api_delta <= API_TARGET_MS, "router_pass": router_delta <= ROUTER_TARGET_MS,
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(), "python": sys.version.split()[0],
                    "platform": platform.platform()},
    }
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(result, indent=2))
    console.print(f"[dim]report: {report}[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
