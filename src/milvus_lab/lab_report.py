"""The one report every lab writes (JSON, validated by `schemas/lab-report.schema.json`).

Same top level for all labs: lab, title, target, parameters, started/finished, exit code,
steps, verifications, artifacts, and the lab's own `section`. The console's verification
table is printed from the same `Verification` objects, so a failed one is a red row.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from milvus_lab import interrupts
from milvus_lab.errors import LabError
from milvus_lab.report import console, jsonable
from milvus_lab.verification import Verification

if TYPE_CHECKING:
    from milvus_lab.labkit import LabRun, LabSpec

SCHEMA_ID = "milvus-lab/lab-report/v1"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "lab-report.schema.json"


def flag_values(args: argparse.Namespace) -> dict[str, object]:
    """Every flag as given (paths as text): the report's `parameters`."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(vars(args).items())}


def outcome(code: int) -> str:
    return {0: "passed", 1: "failed", 2: "error", 130: "interrupted", 143: "interrupted"}.get(code, "error")


def build(spec: LabSpec, args: argparse.Namespace, run: LabRun | None, started: datetime, code: int,
          error: LabError | None, interrupted: KeyboardInterrupt | None) -> dict[str, object]:
    finished = datetime.now(timezone.utc)
    message = (f"interrupted ({interrupts.cause(interrupted)})" if interrupted is not None else error.message if error
               else "; ".join(run.failures) if run and run.failures
               else failure_summary(run) if run and run.failed else "ok")
    return {
        "schema": SCHEMA_ID,
        "lab": spec.number,
        "title": spec.title,
        "script": f"step05_production/{spec.script}",
        "target": run.settings.target if run else (args.target or "local"),
        "mode": "cleanup" if args.cleanup else "dry-run" if args.dry_run else "run",
        "parameters": flag_values(args),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 2),
        "exit_code": code,
        "outcome": outcome(code),
        "message": message,
        "fix": error.fix if error else None,
        "steps": [jsonable(s) for s in run.story.steps] if run else [],
        "verifications": [v.to_dict() for v in run.verifications] if run else [],
        "artifacts": [jsonable(a) for a in run.artifacts] if run else [],
        "section": jsonable(run.section) if run else {},
    }


def write(path: Path, payload: dict[str, object]) -> Path | None:
    """Write the report; a report that cannot be written is said, never a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(jsonable(payload), indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        console.print(f"[yellow]![/] report not written to {path}: {exc.strerror or exc}")
        return None
    return path


def print_verifications(verifications: list[Verification]) -> None:
    """The verification table: a failed row is red and says what to do."""
    if not verifications:
        return
    table = Table(title="Verification", title_justify="left")
    for col in ("check", "result", "observed", "required"):
        table.add_column(col)
    for v in verifications:
        mark = "[yellow]skipped[/]" if v.skipped else "[green]✔ passed[/]" if v.passed else "[red]✘ FAILED[/]"
        style = "red" if v.failed else None
        table.add_row(v.name, mark, v.observed, v.required, style=style)
    console.print(table)
    for v in verifications:
        if v.failed and v.hint:
            console.print(f"  [red]✘ {v.name}[/]: {v.hint}", highlight=False)


def failure_summary(run: LabRun | None) -> str:
    if run is None:
        return ""
    failed = [v.name for v in run.verifications if v.failed]
    parts = list(run.failures) + ([f"failed verification(s): {', '.join(failed)}"] if failed else [])
    return "; ".join(parts)


def load_schema() -> dict[str, object]:
    return json.loads(SCHEMA_PATH.read_text())
