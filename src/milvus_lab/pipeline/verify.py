"""What a pipeline run proved, as Verifications (lab 02's gates and its report rows).

Read from the run's own records (stage results, promotions in the registry, rollbacks) and,
for a rollback, from the environment's live replicas: what they serve now.
"""

from __future__ import annotations

import httpx

from milvus_lab.pipeline import deploy, health
from milvus_lab.pipeline.context import RunContext
from milvus_lab.pipeline.definition import Pipeline
from milvus_lab.pipeline.runner import PipelineRun
from milvus_lab.settings import Settings
from milvus_lab.verification import Verification

PROMOTED = "one digest promoted through the planned environments"
STOPPED = "nothing ran after the failed stage"
NOT_PROMOTED = "nothing promoted past the failure"
ROLLED_BACK = "automatic rollback to the last verified release"
APPROVAL = "prod waits for an approval"


def stage_checks(result: PipelineRun) -> list[Verification]:
    """One row per stage that ran: `stage NAME` passed or failed, with the tool's verdict."""
    out = []
    for r in result.results:
        if r.status in ("passed", "failed"):
            hint = "" if r.status == "passed" else f"the tool's output is in the report; re-run: {r.commands[-1] if r.commands else r.name}"
            out.append(Verification(f"stage {r.name}", r.status == "passed", f"{r.seconds:.1f}s: {_short(r.detail)}",
                                    "the tool exits 0" if r.name in CHECK_STAGES else "the gate passes", hint))
    return out


CHECK_STAGES = ("lint", "unit-tests", "security", "sbom")


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _env_of(pipeline: Pipeline, stage: str) -> str | None:
    return pipeline.stage(stage).env


def expected_envs(result: PipelineRun) -> list[str]:
    """The planned environments, minus prod when it is waiting for an approval."""
    blocked = result.blocked
    return [e for e in result.plan if not (blocked and blocked.name == f"promote-{e}")]


def promoted(result: PipelineRun, ctx: RunContext) -> Verification:
    """The plain outcome: every planned environment got the built digest, in order, nothing else."""
    envs = [str(p["env"]) for p in ctx.promotions]
    digests = {str(p["digest"]) for p in ctx.promotions}
    want = expected_envs(result)
    ok = envs == want and (not want or digests == {ctx.digest})
    observed = f"{', '.join(envs) or 'none'}: {', '.join(sorted(digests)) or '-'}"
    return Verification(PROMOTED, ok, observed, f"{', '.join(want) or 'none'}: {ctx.digest or 'the built digest'}",
                        "a promotion names a digest, never a rebuild: look for a stage that rebuilt or retagged")


def stopped_at_failure(result: PipelineRun, pipeline: Pipeline, ctx: RunContext) -> list[Verification]:
    """After a failed stage: nothing after it ran, and no environment at or after it was promoted."""
    failed = result.failed
    if failed is None:
        return []
    names = [r.name for r in result.results]
    after = names[names.index(failed.name) + 1:]
    order = list(pipeline.environments)
    env = _env_of(pipeline, failed.name)
    allowed = order[:order.index(env)] if env in order else []  # a check or build failure: none
    envs = [str(p["env"]) for p in ctx.promotions]
    late = [e for e in envs if e not in allowed]
    return [
        Verification(STOPPED, not after, f"stopped at {failed.name}" + (f", then ran {', '.join(after)}" if after else ""),
                     f"no stage after {failed.name}", "a failed stage must stop the pipeline, as CI does"),
        Verification(NOT_PROMOTED, not late, f"promoted: {', '.join(envs) or 'nothing'}",
                     f"only environments before the failure ({', '.join(allowed) or 'none'})",
                     "a promotion may only follow a passed smoke test and watch"),
    ]


def serving(settings: Settings, env: str) -> set[str]:
    """The versions the environment's live replicas report on /version (empty when none run)."""
    out = set()
    for url in deploy.urls(settings, env):
        try:
            out.add(str(httpx.get(f"{url}/version", timeout=3.0).json().get("version")))
        except (httpx.HTTPError, ValueError):
            out.add("unreachable")
    return out


def rolled_back(result: PipelineRun, pipeline: Pipeline, ctx: RunContext, settings: Settings) -> list[Verification]:
    """A failed smoke test or watch rolled its environment back by itself: the replicas now serve
    the last verified release (or, with none, nothing runs): asked over HTTP, not from our notes."""
    failed = result.failed
    env = _env_of(pipeline, failed.name) if failed else None
    if failed is None or env is None or pipeline.stage(failed.name).kind in ("deploy",):
        return []
    back = next((r for r in ctx.rollbacks if r["env"] == env), None)
    if back is None:
        return [Verification(ROLLED_BACK, False, f"no rollback recorded for {env}", "a rollback after a failed gate",
                             "the smoke and watch stages must call the rollback when they fail")]
    live = serving(settings, env)
    to = back["to"]
    want = {str(to).split(":", 1)[1][:12]} if to else set()
    ok, answers = live == want, ""
    if ok and to:  # the same digest may come back without the fault: it must answer searches again
        check = health.smoke(deploy.urls(settings, env), next(iter(want)), requests=3)
        ok, answers = check.passed, f"; smoke after rollback: {check.detail}"
    return [Verification(ROLLED_BACK, ok,
                         f"{env} serves {', '.join(sorted(live)) or 'nothing'} (was {str(back['from'])[:19]}){answers}",
                         f"{env} serves {', '.join(want) or 'nothing (no earlier verified release)'} and answers",
                         f"a rollback re-deploys the previous verified digest of {env} ({deploy.PREFIX}{env}-* replicas)")]


def approval(result: PipelineRun, ctx: RunContext) -> list[Verification]:
    """Prod is in the plan but not approved: it stopped before prod, prod untouched."""
    blocked = result.blocked
    if "prod" not in result.plan or ctx.approve or result.failed:
        return []
    prod_promoted = any(p["env"] == "prod" for p in ctx.promotions)
    ok = blocked is not None and blocked.name == "promote-prod" and not prod_promoted
    return [Verification(APPROVAL, ok, f"promote-prod {result.status('promote-prod')}",
                         "blocked without --approve, prod not deployed",
                         "approve with --approve (or answer the prompt on a terminal)")]
