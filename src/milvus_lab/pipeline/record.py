"""Lab 02's record of one pipeline run: its report section and its artifacts (wheel, SBOM, plot)."""

from __future__ import annotations

from pathlib import Path

from milvus_lab.labkit import LabRun
from milvus_lab.pipeline import plot
from milvus_lab.pipeline.context import RunContext
from milvus_lab.pipeline.runner import PipelineRun


def record_run(run: LabRun, result: PipelineRun, ctx: RunContext) -> None:
    """Every stage (status, time, commands), the artifact and where it went; the files as artifacts."""
    run.section.update({
        "seconds": result.seconds,
        "stages": [{"name": r.name, "status": r.status, "seconds": r.seconds, "detail": r.detail,
                    "commands": r.commands, "artifacts": r.artifacts} for r in result.results],
        "artifact": ctx.artifact, "tags": ctx.tags, "sbom": ctx.sbom, "promotions": ctx.promotions,
        "rollbacks": ctx.rollbacks, "deployed": ctx.deployed,
    })
    if result.failed and result.failed.output:
        run.section["failed_output"] = result.failed.output
    for path, what in ((ctx.artifact.get("path"), f"the wheel, {ctx.digest}"),
                       (ctx.sbom.get("path"), "CycloneDX SBOM of the lockfile")):
        if path and Path(str(path)).is_file():
            run.artifact(str(path), what)
    png = plot.stage_timeline(result.results, f"lab 02: {run.args.event} {run.args.branch}, "
                              f"{result.seconds:.1f}s", run.settings.path("reports", "02_pipeline_stages.png"))
    run.artifact(png, "each stage's time and outcome")
