"""Lab 02's pipeline wall time and each stage's time, measured on this machine.

    python benchmarks/pipeline_stages.py [--runs 2]

Runs `python -m milvus_lab.pipeline run --branch main --approve` in a fresh temp
MILVUS_LAB_HOME on free ports, `--runs` times in the same home (run 1 starts cold: Milvus
Lite, collection, first wheel; later runs are warm), then stops everything it started.
Goal (issue 15): the plain run under 5 minutes on 2 cores with warm caches. Prints PASS/MISS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from milvus_lab.settings import find_repo_root
from milvus_lab.testing.milvus_fixtures import lab_env, new_lab_settings, stop_all

GOAL_S = 300.0


def one_run(env: dict[str, str], report: Path) -> tuple[float, dict]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "milvus_lab.pipeline", "run", "--branch", "main", "--approve",
                           "--report", str(report)], cwd=find_repo_root(), env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"pipeline exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return wall, json.loads(report.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        settings = new_lab_settings(Path(tmp) / "home")
        env = {**os.environ, **lab_env(settings), "PYTHONPATH": str(find_repo_root() / "src")}
        try:
            runs = [one_run(env, Path(tmp) / f"run{i}.json") for i in range(args.runs)]
        finally:
            stop_all(settings)
    names = [s["name"] for s in runs[0][1]["stages"]]
    print(f"{'stage':<18}" + "".join(f"{'run ' + str(i + 1):>10}" for i in range(len(runs))))
    for name in names:
        row = [next(s["seconds"] for s in data["stages"] if s["name"] == name) for _, data in runs]
        print(f"{name:<18}" + "".join(f"{v:>9.1f}s" for v in row))
    print(f"{'pipeline':<18}" + "".join(f"{data['seconds']:>9.1f}s" for _, data in runs))
    print(f"{'wall (process)':<18}" + "".join(f"{wall:>9.1f}s" for wall, _ in runs))
    warm = runs[-1][0]
    print(f"{'PASS' if warm <= GOAL_S else 'MISS'}: warm run {warm:.1f}s (goal <= {GOAL_S:.0f}s, 2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
