"""Milvus Lite vs the standalone engine (real Milvus 2.3.5), side by side in one run.

    python benchmarks/engines.py [--rows 20000] [--requests 300] [--threads 4] [--report PATH]

For each engine, in its own temp MILVUS_LAB_HOME on free ports, the same steps:
start (until the engine answers), insert the same dataset (rows/s), flush + index + load,
serial search latency (p50/p95/p99, one client), throughput (N threads, a client each),
recall@10 against exact ground truth, the server's resident memory (RSS of its process
group) after load, and the stop time. Prints one table with a column per engine, writes
`.milvus-lab/reports/benchmark_engines.json` and a PNG of the latency distributions.
Searches read with Bounded consistency, as the search API does: with "Strong" every search on
Milvus 2.3.5 waits for the next time tick (~200 ms at its default 200 ms interval).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from milvus_lab import processes
from milvus_lab.errors import LabError
from milvus_lab.milvus import collections, datasets
from milvus_lab.milvus.client import varchar_index_type
from milvus_lab.milvus.engines import get_engine
from milvus_lab.milvus.quality import measure_recall
from milvus_lab.milvus.server import MilvusEndpoint
from milvus_lab.settings import Settings, find_repo_root
from milvus_lab.testing.milvus_fixtures import new_lab_settings
from milvus_lab.testing.standalone_fixtures import standalone_settings

INDEX = collections.IndexSpec.hnsw(m=16, ef_construction=128, ef=64)
COLLECTION = "bench_engines"
ENGINE_LABELS = {"lite": "Milvus Lite", "standalone": "standalone 2.3.5"}
console = Console(highlight=False, width=None if sys.stdout.isatty() else 130)


@dataclass
class EngineStats:
    """One engine's figures (times in seconds, latencies in ms, memory in MB)."""

    engine: str
    start_s: float
    insert_rows_per_s: float
    index_load_s: float
    search_p50_ms: float
    search_p95_ms: float
    search_p99_ms: float
    qps: float
    threads: int
    recall_at_10: float
    rss_mb: float
    stop_s: float
    latencies_ms: list[float]


def group_rss_mb(pid: int) -> float:
    """Resident memory of every process in `pid`'s process group (the engine and its children)."""
    total = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if os.getpgid(int(proc.name)) != pid:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total / 1024


def engine_settings(home: Path, engine: str) -> Settings:
    """Settings for `engine` in its own home, on free ports (the standalone engine's below 32768)."""
    return standalone_settings(home) if engine == "standalone" else new_lab_settings(home)


def build(endpoint: MilvusEndpoint, ds: datasets.Dataset, batch: int = 2_000) -> tuple[float, float]:
    """Create, insert (timed), flush + index + load (timed). Returns (rows/s, index+load s)."""
    client = endpoint.client(timeout=120)
    try:
        client.create_collection(COLLECTION, schema=collections.schema(ds),
                                 index_params=collections.index_params(INDEX, varchar_index_type(client)),
                                 consistency_level="Strong")
        t0 = time.perf_counter()
        for start in range(0, ds.spec.n, batch):
            client.insert(COLLECTION, ds.rows(start, min(start + batch, ds.spec.n)))
        insert_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        client.flush(COLLECTION)
        client.load_collection(COLLECTION)
        return ds.spec.n / insert_s, time.perf_counter() - t0
    finally:
        client.close()


def serial(endpoint: MilvusEndpoint, queries: list[list[float]], n: int, warmup: int) -> list[float]:
    client = endpoint.client(timeout=30)
    try:
        lat = []
        for i in range(warmup + n):
            t0 = time.perf_counter()
            hits = client.search(COLLECTION, data=[queries[i % len(queries)]], limit=10,
                                 search_params={"params": dict(INDEX.search)}, consistency_level="Bounded")[0]
            if i >= warmup:
                lat.append((time.perf_counter() - t0) * 1000)
            if not hits:
                raise RuntimeError("a search returned no hits")
        return lat
    finally:
        client.close()


def throughput(endpoint: MilvusEndpoint, queries: list[list[float]], n: int, threads: int) -> float:
    """Searches per second with `threads` clients sharing `n` requests."""
    errors: list[BaseException] = []
    per_thread = max(1, n // threads)

    def work(offset: int) -> None:
        client = endpoint.client(timeout=30)
        try:
            for i in range(per_thread):
                client.search(COLLECTION, data=[queries[(offset + i) % len(queries)]], limit=10,
                              search_params={"params": dict(INDEX.search)}, consistency_level="Bounded")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            client.close()

    workers = [threading.Thread(target=work, args=(t * 97,)) for t in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} worker error(s), first: {errors[0]!r}")
    return per_thread * threads / wall


def measure(engine: str, ds: datasets.Dataset, requests: int, threads: int, warmup: int) -> EngineStats:
    home = Path(tempfile.mkdtemp(prefix=f"milvus-lab-bench-{engine}-"))
    settings = engine_settings(home, engine)
    eng = get_engine(settings)
    try:
        console.print(f"[bold]{ENGINE_LABELS[engine]}[/]: start")
        t0 = time.perf_counter()
        endpoint = eng.ensure()
        start_s = time.perf_counter() - t0
        assert endpoint.pid is not None
        console.print(f"  started in {start_s:.1f}s; insert {ds.spec.n:,} x {ds.spec.dim}, index, load")
        rate, index_load_s = build(endpoint, ds)
        queries = [q.tolist() for q in ds.queries]
        console.print(f"  {rate:,.0f} rows/s, index+load {index_load_s:.1f}s; {requests} serial searches")
        lat = serial(endpoint, queries, requests, warmup)
        console.print(f"  {threads} threads x {requests // threads} searches")
        qps = throughput(endpoint, queries, requests, threads)
        client = endpoint.client(timeout=60)
        try:
            recall = measure_recall(client, COLLECTION, ds, INDEX)
        finally:
            client.close()
        rss = group_rss_mb(endpoint.pid)
        t0 = time.perf_counter()
        eng.stop()
        stop_s = time.perf_counter() - t0
        arr = np.asarray(lat)
        return EngineStats(engine, start_s, rate, index_load_s, float(np.percentile(arr, 50)),
                           float(np.percentile(arr, 95)), float(np.percentile(arr, 99)), qps, threads,
                           recall, rss, stop_s, lat)
    finally:
        eng.stop()
        for rec in processes.list_records(settings):
            processes.stop_process(settings, rec.name)
        shutil.rmtree(home, ignore_errors=True)


def table(stats: list[EngineStats]) -> Table:
    out = Table(title="Milvus engines side by side (one run, same data and queries)")
    out.add_column("figure")
    for s in stats:
        out.add_column(ENGINE_LABELS[s.engine], justify="right")
    rows = [("start (s)", "start_s", "{:.1f}"), ("insert (rows/s)", "insert_rows_per_s", "{:,.0f}"),
            ("flush+index+load (s)", "index_load_s", "{:.1f}"), ("search p50 (ms)", "search_p50_ms", "{:.2f}"),
            ("search p95 (ms)", "search_p95_ms", "{:.2f}"), ("search p99 (ms)", "search_p99_ms", "{:.2f}"),
            ("throughput (searches/s)", "qps", "{:,.0f}"), ("recall@10", "recall_at_10", "{:.4f}"),
            ("server RSS after load (MB)", "rss_mb", "{:,.0f}"), ("stop (s)", "stop_s", "{:.1f}")]
    for label, key, fmt in rows:
        out.add_row(label, *(fmt.format(getattr(s, key)) for s in stats))
    return out


def plot(stats: list[EngineStats], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.boxplot([s.latencies_ms for s in stats], vert=False, whis=(5, 95), showfliers=False,
               tick_labels=[ENGINE_LABELS[s.engine] for s in stats])
    for i, s in enumerate(stats, start=1):
        ax.annotate(f"p50 {s.search_p50_ms:.1f} ms, {s.qps:,.0f}/s with {s.threads} threads",
                    (s.search_p95_ms, i), xytext=(6, 8), textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("serial search latency, ms (log scale; box p25-p75, whiskers p5-p95)")
    ax.set_title("Milvus Lite vs standalone Milvus 2.3.5: same 128-d HNSW collection")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000, help="rows of 128-d vectors")
    parser.add_argument("--requests", type=int, default=300, help="searches per engine and phase")
    parser.add_argument("--threads", type=int, default=4, help="clients in the throughput phase")
    parser.add_argument("--warmup", type=int, default=30, help="untimed searches first")
    parser.add_argument("--engines", default="lite,standalone", help="comma-separated, in order")
    parser.add_argument("--report", type=Path, default=None,
                        help="JSON path (default .milvus-lab/reports/benchmark_engines.json)")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.rows < 1_000 or args.requests < 10 or args.threads < 1 or not set(engines) <= set(ENGINE_LABELS):
        console.print("[red]✘ --rows >= 1000, --requests >= 10, --threads >= 1, --engines from lite,standalone[/]")
        return 2
    report = args.report or Settings(repo_root=find_repo_root()).path("reports", "benchmark_engines.json")
    report.parent.mkdir(parents=True, exist_ok=True)
    spec = datasets.DatasetSpec(name=f"bench-{args.rows}", version="v1", n=args.rows, dim=128,
                                n_queries=200, k=10)
    ds = datasets.generate(spec)
    try:
        stats = [measure(e, ds, args.requests, args.threads, args.warmup) for e in engines]
    except LabError as exc:
        console.print(f"[red]✘ {exc.message}[/]")
        if exc.fix:
            console.print(f"  fix: {exc.fix}")
        return 2
    console.print(table(stats))
    png = report.with_suffix(".png")
    plot(stats, png)
    report.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "rows": args.rows, "dim": 128, "index": INDEX.label(), "requests": args.requests,
        "engines": [{k: v for k, v in asdict(s).items() if k != "latencies_ms"} for s in stats],
    }, indent=2))
    console.print(f"report {report}\nplot {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
