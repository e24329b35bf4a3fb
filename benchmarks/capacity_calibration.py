"""Calibrate the Milvus memory sizing model against measured RSS and quote the held-out error.

    python benchmarks/capacity_calibration.py [--sizes 5000,10000,20000,40000] [--dim 128]
        [--index HNSW|IVF_FLAT|IVF_SQ8|FLAT] [--held-out 40000] [--plot PATH] [--report PATH]

For each size, a fresh Milvus Lite server (temp home, free port) ingests a seeded n x dim
collection, is restarted (a serving node loads from storage, without ingest buffers), loads
it, answers a few searches, and its process-tree RSS is read from /proc. The model
(`milvus_lab.monitoring.capacity`: base + factor x theoretical index bytes) is fitted on
every size but the held-out one (default: the largest, so the quoted error is an
extrapolation) and its error on each size is printed. Goal: held-out error within 15%.
Writes the fit plot (PNG) and a JSON report under `.milvus-lab/reports/`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from milvus_lab.milvus.collections import INDEX_TYPES, IndexSpec
from milvus_lab.monitoring import capacity
from milvus_lab.settings import Settings, find_repo_root

console = Console(highlight=False)
GOAL_PCT = 15.0


def index_spec(kind: str) -> IndexSpec:
    if kind == "HNSW":
        return IndexSpec.hnsw()
    if kind.startswith("IVF"):
        return IndexSpec.ivf(kind)
    return IndexSpec.flat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5000,10000,20000,40000", help="comma list of row counts")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--index", default="HNSW", choices=INDEX_TYPES)
    parser.add_argument("--held-out", type=int, default=None, help="size to hold out (default: largest)")
    parser.add_argument("--plot", type=Path, default=None, help="PNG path (default: reports dir)")
    parser.add_argument("--report", type=Path, default=None, help="JSON path (default: reports dir)")
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        console.print(f"[red]✘ --sizes {args.sizes!r} is not a comma list of integers[/]")
        return 2
    held = args.held_out or max(sizes)
    if len(sizes) < 3 or held not in sizes or min(sizes) < 100 or args.dim < 2:
        console.print("[red]✘ need >= 3 sizes >= 100 (two to fit, one held out that is one of "
                      "them) and --dim >= 2[/]")
        return 2
    reports = Settings(repo_root=find_repo_root()).path("reports", "x").parent
    plot = args.plot or reports / "capacity_calibration.png"
    report = args.report or reports / "benchmark_capacity_calibration.json"
    index = index_spec(args.index)
    work = Path(tempfile.mkdtemp(prefix="milvus-lab-capacity-"))
    t0 = time.monotonic()
    try:
        with console.status("calibrating") as status:
            cal = capacity.calibrate(sizes, args.dim, index, [held], work_dir=work,
                                     progress=lambda m, f: status.update(f"[{f:4.0%}] {m}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall = time.monotonic() - t0

    table = Table(title=f"Milvus memory model vs measured RSS ({index.label()}, dim {args.dim})")
    for col in ("rows", "measured MB", "predicted MB", "error %", "set", "empty MB",
                "after ingest MB", "build s", "load s"):
        table.add_column(col, justify="right")
    for row, pt in zip(cal.rows, cal.points, strict=True):
        table.add_row(f"{row.n:,}", f"{row.measured_mb:.1f}", f"{row.predicted_mb:.1f}",
                      f"{row.error_pct:+.2f}", "held out" if row.held_out else "fit",
                      f"{pt.empty_bytes / capacity.MB:.0f}", f"{pt.after_build_bytes / capacity.MB:.0f}",
                      f"{pt.build_s:.1f}", f"{pt.load_s:.1f}")
    console.print(table)
    m = cal.model
    console.print(f"model: {m.base_bytes / capacity.MB:.1f} MB + {m.factor:.2f} x theoretical bytes "
                  f"({m.calibrated_on})")
    err = cal.held_out_error_pct
    verdict = "[green]PASS[/]" if err <= GOAL_PCT else "[red]MISS[/]"
    console.print(f"held-out error at {held:,} rows: {err:.2f}%   goal <= {GOAL_PCT:g}%: {verdict}")
    for n in (1_000_000, 10_000_000):
        console.print(f"  predicts {m.predict(n, args.dim, index) / 1024**3:.2f} GiB per replica for "
                      f"{n:,} x {args.dim} (extrapolated far beyond the measured range)")
    capacity.plot_calibration(cal, plot)
    console.print(f"wall time {wall:.0f} s; plot: {plot}")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"benchmark": "capacity_calibration",
                                  "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                  **cal.summary(), "goal_pct": GOAL_PCT, "pass": err <= GOAL_PCT,
                                  "wall_s": round(wall, 1),
                                  "points": [p.__dict__ for p in cal.points]}, indent=2))
    console.print(f"[dim]report: {report}[/]")
    return 0 if err <= GOAL_PCT else 1


if __name__ == "__main__":
    sys.exit(main())
