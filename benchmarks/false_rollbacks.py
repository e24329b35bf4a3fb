"""False rollbacks and missed faults of lab 03 on a busy machine, counted.

    python benchmarks/false_rollbacks.py [--runs 20] [--busy 2] [--script PATH] [--report PATH]

Runs lab 03 plain `--runs` times (must exit 0: a rollback there is a *false* rollback) and
`--inject-fault errors` `--runs` times (must exit 1 with an automatic rollback: anything
else is a *missed* fault) while `--busy` busy-loop processes load the CPUs (a workshop
laptop with a video call, a browser and an IDE). Prints runs, exit codes, false rollbacks,
missed faults and detection time (switch -> rollback); JSON to the report path. One temp
MILVUS_LAB_HOME on free ports for all runs (datasets and collections reused), removed at
the end; the busy loops are stopped by pid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from milvus_lab.processes import free_ports

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "step05_production" / "03_blue_green_deployment.py"
console = Console()


@dataclass
class Run:
    mode: str
    exit_code: int
    rolled_back: bool
    reason: str
    detection_s: float | None  # switch -> rollback completed
    wall_s: float


def _find_rollback(report: object) -> dict | None:
    """The report's rollback record, wherever the report schema keeps it."""
    if isinstance(report, dict):
        rb = report.get("rollback")
        if isinstance(rb, dict) and rb.get("reason"):
            return rb
        for value in report.values():
            found = _find_rollback(value)
            if found:
                return found
    elif isinstance(report, list):
        for value in report:
            found = _find_rollback(value)
            if found:
                return found
    return None


def run_once(script: Path, mode: str, env: dict[str, str], report: Path, timeout: float) -> Run:
    argv = [sys.executable, str(script), "--yes", "--report", str(report)]
    if mode == "errors":
        argv += ["--inject-fault", "errors"]
    report.unlink(missing_ok=True)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        code = proc.returncode
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    except subprocess.TimeoutExpired:
        code, tail = -1, ["timeout"]
    wall = time.monotonic() - t0
    data = json.loads(report.read_text()) if report.is_file() else {}
    rb = _find_rollback(data) if data else None
    reason = (rb or {}).get("reason", "") or ("" if code == 0 else " / ".join(tail)[-160:])
    automatic = bool(rb) and "manual" not in rb.get("reason", "")
    return Run(mode, code, automatic, reason, (rb or {}).get("since_switch_s"), round(wall, 1))


def summary(runs: list[Run], mode: str) -> dict:
    mine = [r for r in runs if r.mode == mode]
    detect = [r.detection_s for r in mine if r.detection_s is not None]
    expected = 0 if mode == "plain" else 1
    return {
        "mode": mode, "runs": len(mine),
        "exit_codes": dict(Counter(r.exit_code for r in mine)),
        "as_expected": sum(1 for r in mine if r.exit_code == expected and r.rolled_back == (mode != "plain")),
        "false_rollbacks": sum(1 for r in mine if mode == "plain" and r.rolled_back),
        "missed_faults": sum(1 for r in mine if mode != "plain" and not r.rolled_back),
        "detection_median_s": round(statistics.median(detect), 1) if detect else None,
        "detection_max_s": max(detect) if detect else None,
        "wall_median_s": round(statistics.median([r.wall_s for r in mine]), 1) if mine else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per mode (default 20)")
    parser.add_argument("--busy", type=int, default=2, help="busy-loop processes (default 2)")
    parser.add_argument("--script", type=Path, default=SCRIPT, help="the lab 03 script")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.busy < 0:
        parser.error("--runs must be >= 1 and --busy >= 0")

    home = Path(tempfile.mkdtemp(prefix="false-rollbacks-"))
    milvus, router, control = free_ports(3)
    env = {**os.environ, "MILVUS_LAB_HOME": str(home), "MILVUS_LAB_MILVUS_PORT": str(milvus),
           "MILVUS_LAB_ROUTER_PORT": str(router), "MILVUS_LAB_ROUTER_CONTROL_PORT": str(control),
           "COLUMNS": "160"}
    busy = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(args.busy)]
    runs: list[Run] = []
    try:
        with Progress(console=console) as bar:
            task = bar.add_task("lab 03 runs", total=2 * args.runs)
            for i in range(args.runs):  # interleaved, so both modes see the same machine
                for mode in ("plain", "errors"):
                    run = run_once(args.script, mode, env, home / f"report-{mode}-{i}.json", args.timeout)
                    runs.append(run)
                    bar.console.print(f"{mode:6} #{i + 1}: exit {run.exit_code}, rollback {run.rolled_back}, "
                                      f"detect {run.detection_s}, {run.wall_s}s  {run.reason[:90]}")
                    bar.advance(task)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
        subprocess.run([sys.executable, "-m", "milvus_lab.cli", "down"], env=env, cwd=REPO,
                       capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)

    rows = [summary(runs, "plain"), summary(runs, "errors")]
    table = Table(title=f"lab 03 under {args.busy} busy-loop processes ({os.cpu_count()} CPUs)")
    for col in ("mode", "runs", "exit codes", "as expected", "false rollbacks", "missed faults",
                "detection median s", "detection max s", "wall median s"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["mode"], str(r["runs"]), str(r["exit_codes"]), f"{r['as_expected']}/{r['runs']}",
                      str(r["false_rollbacks"]), str(r["missed_faults"]), str(r["detection_median_s"]),
                      str(r["detection_max_s"]), str(r["wall_median_s"]))
    console.print(table)
    out = args.report or REPO / ".milvus-lab" / "reports" / "benchmark_false_rollbacks.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"busy": args.busy, "summary": rows, "runs": [asdict(r) for r in runs]}, indent=2))
    console.print(f"Report: {out}")
    ok = all(r["as_expected"] == r["runs"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
