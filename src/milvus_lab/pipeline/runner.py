"""The local runner: the pipeline stage by stage, with a live view and per-stage timings.

Branch rules decide which stages run (pull requests: checks only; develop: up to staging;
main: up to prod). A failed stage stops everything after it, as in CI. Prod waits for an
approval: `--approve`, or a prompt on a terminal; without either it stops before prod.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from milvus_lab.pipeline import context as run_context
from milvus_lab.pipeline.context import RunContext
from milvus_lab.pipeline.definition import Pipeline, Stage
from milvus_lab.pipeline.stages import StageResult, run_stage
from milvus_lab.settings import Settings

STYLE = {"passed": "green", "failed": "red", "skipped": "dim", "blocked": "yellow",
         "running": "cyan", "pending": "dim", "not run": "dim"}
ICON = {"passed": "✔", "failed": "✘", "skipped": "–", "blocked": "⏸", "running": "…",
        "pending": " ", "not run": "·"}


@dataclass
class PipelineRun:
    results: list[StageResult] = field(default_factory=list)
    seconds: float = 0.0
    plan: list[str] = field(default_factory=list)  # environments the branch rule allows

    @property
    def failed(self) -> StageResult | None:
        return next((r for r in self.results if r.status == "failed"), None)

    @property
    def blocked(self) -> StageResult | None:
        return next((r for r in self.results if r.status == "blocked"), None)

    def status(self, name: str) -> str:
        return next((r.status for r in self.results if r.name == name), "not run")


def included(stage: Stage, plan: list[str]) -> bool:
    """Does the branch rule run this stage? Checks always; release and dev stages when any
    environment is planned; promote-<env> when <env> is planned."""
    if stage.kind == "check":
        return True
    if stage.kind == "promote":
        return stage.env in plan
    return bool(plan)


def table(pipeline: Pipeline, results: dict[str, StageResult], running: str | None,
          started: float, plan: list[str]) -> Table:
    t = Table(title=f"{pipeline.name}: {time.monotonic() - started:5.1f}s", title_justify="left", expand=False)
    for col, kw in (("", {}), ("stage", {}), ("tool", {"style": "dim"}), ("s", {"justify": "right"}),
                    ("detail", {"overflow": "fold", "max_width": 80})):
        t.add_column(col, **kw)  # type: ignore[arg-type]
    for stage in pipeline.stages:
        r = results.get(stage.name)
        state = r.status if r else ("running" if stage.name == running
                                     else "pending" if included(stage, plan) else "skipped")
        secs = f"{r.seconds:.1f}" if r else ""
        detail = r.detail if r else ("" if included(stage, plan) else "branch rule")
        t.add_row(Text(ICON[state], style=STYLE[state]), Text(stage.name, style=STYLE[state]),
                  stage.tool, secs, detail)
    return t


def ask_approval(env: str, digest: str, console: Console) -> bool:
    """On a terminal: ask. Elsewhere (CI, pipes): never assume yes."""
    if not sys.stdin.isatty():
        return False
    console.print(f"[bold yellow]Approve deploying {digest} to {env}?[/] [y/N] ", end="")
    return input().strip().lower() in ("y", "yes")


def run_pipeline(settings: Settings, pipeline: Pipeline, ctx: RunContext, impl: ModuleType,
                 console: Console, approve: Callable[[str, str], bool] | None = None) -> PipelineRun:
    """Run every stage the branch rule allows, in order; stop at the first failure."""
    out = PipelineRun(plan=list(impl.deploy_plan(ctx.event, ctx.branch)))
    started = time.monotonic()
    done: dict[str, StageResult] = {}
    approve = approve or (lambda env, digest: ask_approval(env, digest, console))
    with Live(table(pipeline, done, None, started, out.plan), console=console, refresh_per_second=4,
              transient=not console.is_terminal) as live:
        stop = False
        for stage in pipeline.stages:
            if stop:
                break
            if not included(stage, out.plan):
                result = StageResult(stage.name, "skipped", detail=f"branch rule ({ctx.event} {ctx.branch})")
            elif stage.approval and not ctx.approve:
                live.stop()
                ctx.approve = approve(stage.env or "", ctx.digest)
                live.start()
                if not ctx.approve:
                    result = StageResult(stage.name, "blocked", detail=(
                        f"stopped before {stage.env}: approval needed (re-run with --approve, "
                        "or approve the environment in CI)"))
                    stop = True
            if stop or not included(stage, out.plan):
                done[stage.name] = result
                out.results.append(result)
                live.update(table(pipeline, done, None, started, out.plan))
                continue
            live.update(table(pipeline, done, stage.name, started, out.plan))
            result = run_stage(stage, settings, pipeline, ctx, impl)
            run_context.save(settings, ctx)
            done[stage.name] = result
            out.results.append(result)
            live.update(table(pipeline, done, None, started, out.plan))
            if not console.is_terminal:
                console.print(f"[{STYLE[result.status]}]{ICON[result.status]} {stage.name}[/] "
                              f"{result.seconds:.1f}s {result.detail}")
            if result.status == "failed":
                stop = True
    out.seconds = round(time.monotonic() - started, 2)
    if not console.is_terminal:
        console.print(table(pipeline, done, None, started, out.plan))
    failed = out.failed
    if failed:
        console.print(Group(Text(f"✘ stage {failed.name} failed: {failed.detail}", style="red"),
                            Text("  " + "\n  ".join(failed.commands[-1:]), style="dim"),
                            Text(failed.output, style="dim")))
    return out
