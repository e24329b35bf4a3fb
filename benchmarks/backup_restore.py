"""Backup, disaster and restore of one collection, timed: backup throughput, RPO and RTO.

    python benchmarks/backup_restore.py [--rows 20000] [--dim 128] [--writes-after 500]

A fresh Milvus Lite server (temp home, free port) serves a seeded n x dim HNSW collection
behind an alias. `milvus_lab.monitoring.backup.run_drill` then backs it up to Parquet,
writes `--writes-after` rows (the ones the restore will lose: the RPO in rows), verifies
the backup, drops the collection, restores it into a new one, verifies rows, content
checksum and 20 probe searches, and switches the alias back. Prints the timings and
writes `.milvus-lab/reports/benchmark_backup_restore.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pymilvus import MilvusClient
from rich.console import Console
from rich.table import Table

from milvus_lab import processes
from milvus_lab.milvus import server
from milvus_lab.milvus.client import quiet_pymilvus
from milvus_lab.milvus.collections import IndexSpec, ensure_collection, point_alias
from milvus_lab.milvus.datasets import DatasetSpec, generate
from milvus_lab.monitoring import backup
from milvus_lab.settings import Settings, find_repo_root

console = Console(highlight=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--writes-after", type=int, default=500)
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.rows < 100 or args.dim < 2 or not 0 <= args.writes_after <= args.rows:
        console.print("[red]✘ need --rows >= 100, --dim >= 2, 0 <= --writes-after <= --rows[/]")
        return 2
    report = args.report or Settings(repo_root=find_repo_root()).path(
        "reports", "benchmark_backup_restore.json")
    home = Path(tempfile.mkdtemp(prefix="milvus-lab-backup-"))
    settings = Settings(repo_root=home, home=home, milvus_port=processes.free_port())
    ds = generate(DatasetSpec(name="backup-bench", n=args.rows, dim=args.dim, n_queries=20, seed=5))
    try:
        with quiet_pymilvus():
            endpoint = server.ensure_server(settings, timeout=90)
        client = MilvusClient(uri=endpoint.uri, timeout=120)
        index = IndexSpec.hnsw()
        t0 = time.monotonic()
        ensure_collection(client, "products_v1", ds, index, batch=5_000)
        build_s = time.monotonic() - t0
        point_alias(client, "products", "products_v1")

        with console.status("drill") as status:
            result = backup.run_drill(client, "products", home / "backup",
                                      restored_name="products_restored",
                                      probe_queries=ds.queries, k=10, search_params=dict(index.search),
                                      after_backup=backup.late_writes(ds.rows(0, args.writes_after)),
                                      progress=lambda m, f: status.update(f"[{f:4.0%}] {m}"))
        client.close()
    finally:
        server.stop_server(settings)
        shutil.rmtree(home, ignore_errors=True)
    s = result.summary()
    mb = result.manifest.summary()["bytes"] / 1024**2  # type: ignore[operator]
    table = Table(title=f"Backup / restore drill: {args.rows:,} x {args.dim}, {index.label()}, Milvus Lite")
    for col in ("measure", "value"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    rows = [("build (insert+index+load) s", f"{build_s:.1f}"),
            ("backup s (query_iterator -> Parquet + checksum + probe)", f"{result.backup_s:.1f}"),
            ("backup size MB / rows per s", f"{mb:.1f} / {args.rows / result.backup_s:,.0f}"),
            ("RPO: s since snapshot / rows lost", f"{result.rpo.seconds:.1f} / {result.rpo.rows_lost:,}"),
            ("restore insert s", f"{result.restore.insert_s:.1f}"),
            ("restore index + load s", f"{result.restore.index_load_s:.1f}"),
            ("RTO s (drop -> alias on verified restore)", f"{result.rto_s:.1f}"),
            ("rows / checksum / identical probe searches",
             f"{result.check.rows:,} / {'ok' if result.check.checksum_ok else 'MISMATCH'} / "
             f"{result.check.identical_queries}/{result.check.queries}")]
    for r in rows:
        table.add_row(*r)
    console.print(table)
    console.print("[green]drill ok[/]" if result.ok else "[red]drill FAILED[/]")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"benchmark": "backup_restore", "rows": args.rows, "dim": args.dim,
                                  "build_s": round(build_s, 2), **s}, indent=2, default=str))
    console.print(f"[dim]report: {report}[/]")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
