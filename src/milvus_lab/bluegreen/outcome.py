"""Lab 03's closing record: the whole run judged from the load test's own data.

Runs as an exit callback, so a failed gate, a rollback or Ctrl-C still get the timeline
plot, the load summary and the verdicts on what users saw.
"""

from __future__ import annotations

from milvus_lab.bluegreen.verdicts import load_verdicts
from milvus_lab.labkit import LabRun
from milvus_lab.load import plot_timeline
from milvus_lab.load.runner import LocustRun

TIMELINE_PNG = "03_blue_green_timeline.png"


def record_load_outcome(run: LabRun, load: LocustRun, switched_at: float | None) -> None:
    """Load summary into the report section, the timeline PNG as an artifact, the verdicts."""
    result = load.result()
    run.section["load"] = result.report_summary()
    png = plot_timeline(result, run.settings.path("reports", TIMELINE_PNG),
                        title="Lab 03: traffic by served version, with the cutovers")
    run.artifact(png, "traffic timeline by served version, cutovers marked")
    rollback = run.section.get("rollback")
    blue_stopped_at = run.section.get("blue_stopped_at")
    run.record(*load_verdicts(result, switched_at=switched_at,
                              rollback=rollback if isinstance(rollback, dict) else None,
                              manual=run.args.rollback, fault=run.args.inject_fault, stopped=run.stopped,
                              blue_stopped_at=blue_stopped_at if isinstance(blue_stopped_at, float) else None))
