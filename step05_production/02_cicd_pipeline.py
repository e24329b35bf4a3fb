# %% [markdown]
# # Lab 02: one CI/CD pipeline, run here and emitted for GitHub Actions and GitLab CI
#
# One pipeline definition (`deploy/pipeline/pipeline.yaml`) with the stages a production
# release goes through: lint (ruff), unit tests (pytest), security (bandit, detect-secrets,
# osv-scanner against an offline fixture database), SBOM (CycloneDX), build (a wheel named
# by its sha256), tag (version, git sha, branch), push (a content-addressed registry),
# deploy to dev, smoke test, post-deploy watch, then the SAME digest promoted to staging and
# (behind an approval) prod. Each stage is a real tool run, failing the way CI fails.
# The GitHub Actions and GitLab CI files are generated from the same definition, linted with
# actionlint + shellcheck and both CI schemas, and can be run here by act / gitlab-ci-local.
#
# - Target: `local` (Python only: the deployed "environments" are uvicorn replicas importing
#   the built wheel, searching Milvus Lite). With Docker, the image stage would build the
#   search API image, tag it the same way and promote it by `name@sha256:...`: same rules.
# - Time: ~1 minute (about 30 s of pipeline on 2 cores, warm caches).
# - Exercise: `labs/lab02_cicd.py` (tag scheme, branch rule, promotion rule), run it with
#   `--impl labs` and check it with `pytest checks/test_lab02_cicd.py`.
#
# ```
# python step05_production/02_cicd_pipeline.py --approve                    # main: dev -> staging -> prod
# python step05_production/02_cicd_pipeline.py --branch develop             # develop: up to staging
# python step05_production/02_cicd_pipeline.py --inject-failure vuln        # a vulnerable pin stops it
# python step05_production/02_cicd_pipeline.py --inject-failure smoke --fail-in staging
# python step05_production/02_cicd_pipeline.py --set prod:replicas=0        # refused, exit 2
# python step05_production/02_cicd_pipeline.py --approve --run-ci           # + act and gitlab-ci-local
# ```

# %%
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from milvus_lab.labkit import Drill, LabRun, LabSpec, lab_main, notebook_finish, notebook_run
from milvus_lab.pipeline import ci_local, definition, deploy, emit, envconfig, verify
from milvus_lab.pipeline import context as run_context
from milvus_lab.pipeline.cleanup import clean_up
from milvus_lab.pipeline.cli import env_table, overrides
from milvus_lab.pipeline.context import RunContext
from milvus_lab.pipeline.flags import add_arguments, check_arguments
from milvus_lab.pipeline.record import record_run
from milvus_lab.pipeline.runner import PipelineRun, run_pipeline
from milvus_lab.pipeline.stages import ENV_DIR
from milvus_lab.processes import free_port
from milvus_lab.report import console

CHECKS = ("stage lint", "stage unit-tests", "stage security", "stage sbom")
FAILURE = (verify.STOPPED, verify.NOT_PROMOTED)
SPEC = LabSpec(
    number="02", slug="cicd_pipeline", title="One CI/CD pipeline: checks, build, promote one digest",
    learn=("one pipeline definition, run stage by stage here and emitted for GitHub Actions and GitLab CI",
           "quality and security gates with the field's tools: ruff, pytest, bandit, detect-secrets, "
           "osv-scanner, CycloneDX",
           "one artifact named by its digest, tagged three ways, promoted dev -> staging -> prod",
           "per-environment configuration as overlays, smoke tests, approval, automatic rollback"),
    targets=("local",), minutes=1, exercise="lab02_cicd",
    drills=(
        Drill("plain", ("--approve",), 0, passes=(*CHECKS, verify.PROMOTED, "emitted CI files up to date",
                                                 "GitHub workflow schema", "GitLab CI schema")),
        Drill("lint", ("--approve", "--inject-failure", "lint"), 1, passes=FAILURE, fails=("stage lint",)),
        Drill("test", ("--approve", "--inject-failure", "test"), 1, passes=FAILURE, fails=("stage unit-tests",)),
        Drill("secret", ("--approve", "--inject-failure", "secret"), 1, passes=FAILURE, fails=("stage security",)),
        Drill("vuln", ("--approve", "--inject-failure", "vuln"), 1, passes=FAILURE, fails=("stage security",)),
        Drill("smoke-staging", ("--approve", "--inject-failure", "smoke", "--fail-in", "staging"), 1,
              passes=(*FAILURE, verify.ROLLED_BACK), fails=("stage promote-staging",)),
        Drill("post-deploy", ("--approve", "--inject-failure", "post-deploy"), 1,
              passes=(*FAILURE, verify.ROLLED_BACK), fails=("stage watch-dev",)),
        Drill("no-approval", (), 0, passes=(verify.APPROVAL, verify.PROMOTED)),
        Drill("pull-request", ("--event", "pull_request", "--branch", "feature/x"), 0,
              passes=(*CHECKS, verify.PROMOTED)),
        Drill("bad-config", ("--set", "prod:replicas=0"), 2),
    ),
)


# The lab's flags (--branch, --event, --approve, --inject-failure, --fail-in, --set, --run-ci)
# and their checks are in milvus_lab/pipeline/flags.py, its --cleanup in pipeline/cleanup.py.


# %% [markdown]
# ## Step 1: the definition and the branch rule
# `deploy/pipeline/pipeline.yaml` lists the stages, groups them into CI jobs and says which
# refs deploy where. Your `deploy_plan(event, branch)` decides the environments of this run.


# %%
def show_definition(run: LabRun) -> definition.Pipeline:
    with run.step("The pipeline definition and the branch rule",
                  "One file drives the local runner and both CI systems. Pull requests run the checks only; "
                  "develop deploys up to staging; main up to prod, behind an approval.",
                  "cat deploy/pipeline/pipeline.yaml"):
        pipeline = definition.load(run.settings.repo_root)
        for group, names in pipeline.groups.items():
            run.info(f"job {group}: {' -> '.join(names)}")
        plan = run.impl.deploy_plan(run.args.event, run.args.branch)
        run.section.update({"pipeline": pipeline.name, "event": run.args.event, "branch": run.args.branch,
                            "plan": list(plan)})
        run.result(True, f"{run.args.event} {run.args.branch}: deploys to {', '.join(plan) or 'nothing (checks only)'}")
    return pipeline


# %% [markdown]
# ## Step 2: per-environment configuration
# `base.yaml` plus one overlay per environment. The table shows exactly what differs; a bad
# value (`--set prod:replicas=0`) is refused before anything is deployed.


# %%
def show_environments(run: LabRun) -> None:
    with run.step("Per-environment configuration: base + overlay",
                  "dev, staging and prod share one base; each overlay changes only what must differ "
                  "(replicas, resources, search ef, log level, gate thresholds). Secrets are references.",
                  "python -m milvus_lab.pipeline envs"):
        configs = envconfig.validate(run.settings.repo_root / ENV_DIR, overrides(run.args.set))
        console.print(env_table(configs))
        run.section["environments"] = {d.key: d.values for d in envconfig.diff(configs)}
        run.verify("environments validate", True, f"{len(configs)} environments", "every value in range")


# %% [markdown]
# ## Step 3: the emitted CI files
# `.github/workflows/lab-pipeline.yml` and `.gitlab-ci.yml` are generated from the
# definition. They must be fresh, pass actionlint (with shellcheck on every `run:`) and the
# bundled GitHub and GitLab schemas of check-jsonschema.


# %%
def check_ci_files(run: LabRun) -> None:
    with run.step("Emitted CI files: fresh, linted, schema-valid",
                  "Every CI step calls `python -m milvus_lab.pipeline stage NAME`, so GitHub Actions, GitLab CI "
                  "and this runner run the same thing. (Skipped in the failure drills: the plain run covers it.)",
                  "actionlint .github/workflows/lab-pipeline.yml; check-jsonschema --builtin-schema vendor.gitlab-ci .gitlab-ci.yml"):
        repo = run.settings.repo_root
        if run.args.inject_failure:
            run.info("a failure drill: the CI files are checked by the plain run")
            return
        stale = emit.stale(repo)
        run.verify("emitted CI files up to date", not stale, ", ".join(map(str, stale)) or "both match the definition",
                   "generated from deploy/pipeline/pipeline.yaml",
                   "python -m milvus_lab.pipeline emit, then commit both files")
        for path in (emit.GITHUB_PATH, emit.GITLAB_PATH):
            run.artifact(repo / path, "CI file generated from the definition")
        results, no_actionlint = ci_local.lint_or_schemas(repo)
        if no_actionlint:  # actionlint not built: skipped (not passed), both schemas still checked
            run.verify(ci_local.CHECK_NAMES["actionlint"], None, hint=no_actionlint)
        for r in results:
            run.verify(ci_local.CHECK_NAMES[r.tool], r.ok, f"exit {r.returncode} in {r.seconds:.1f}s"
                       + ("" if r.ok else f": {r.output.strip()[-300:]}"), "exit 0", f"$ {' '.join(r.argv[-3:])}")


# %% [markdown]
# ## Step 4: run the pipeline, stage by stage
# A live table shows each stage, its tool and its time. A failed stage stops everything after
# it; a failed smoke test or post-deploy watch rolls its environment back by itself.


# %%
def run_the_pipeline(run: LabRun, pipeline: definition.Pipeline) -> tuple[PipelineRun, RunContext]:
    with run.step("Run the pipeline", "Each stage is a real tool run or a real deploy; the artifact is "
                  "built once and promoted by digest (the bytes tested are the bytes deployed).",
                  f"python -m milvus_lab.pipeline run --branch {run.args.branch}"
                  + (" --approve" if run.args.approve else "")):
        ctx = RunContext(branch=run.args.branch, event=run.args.event, approve=run.args.approve,
                         inject=run.args.inject_failure, fail_env=run.args.fail_in,
                         overrides=overrides(run.args.set), target_milvus=run.target.ensure_milvus())
        if not run.args.keep_running:
            run.on_exit(lambda: [deploy.stop(run.settings, env) for env in envconfig.ENVIRONMENTS])
        run_context.save(run.settings, ctx)
        result = run_pipeline(run.settings, pipeline, ctx, run.impl, console)
        record_run(run, result, ctx)  # report section; wheel, SBOM and stage plot as artifacts
        failed = result.failed
        run.result(failed is None, f"{len(result.results)} stages in {result.seconds:.1f}s"
                   + (f"; stopped at {failed.name}" if failed else ""))
    return result, ctx


# %% [markdown]
# ## Step 5: verification
# What the run proved, read from its records and from the live replicas.


# %%
def verify_run(run: LabRun, pipeline: definition.Pipeline, result: PipelineRun, ctx: RunContext) -> None:
    with run.step("Verify: gates, promotions, rollback", "Every stage that ran is a row; then the rules: "
                  "after a failure nothing runs and nothing is promoted past it, a failed gate rolls back, "
                  "prod waits for an approval, and one digest goes everywhere it was planned to.",
                  "python -m milvus_lab.pipeline run --report run.json"):
        run.record(*verify.stage_checks(result))
        if result.failed:
            run.record(*verify.stopped_at_failure(result, pipeline, ctx))
            run.record(*verify.rolled_back(result, pipeline, ctx, run.settings))
            run.fail(f"stage {result.failed.name} failed: {result.failed.detail}")
        else:
            run.record(verify.promoted(result, ctx), *verify.approval(result, ctx))


# %% [markdown]
# ## Step 6 (optional, `--run-ci`): the CI systems' own runners
# act runs the GitHub workflow with the self-hosted platform (steps on this machine, remote
# actions other than checkout replaced by local stubs); gitlab-ci-local runs `.gitlab-ci.yml`
# with its shell executor. Both in a scratch copy of the repository, on branch main.


# %%
def run_ci_locally(run: LabRun) -> None:
    if not run.args.run_ci:
        return
    with run.step("Run the emitted files under act and gitlab-ci-local", "The same stages, started by the CI "
                  "systems' local runners: the files are not only valid, they run.",
                  "act push -P ubuntu-latest=-self-hosted --no-cache-server; gitlab-ci-local --manual production"):
        work = Path(tempfile.mkdtemp(prefix="lab02-ci-", dir=run.settings.path("pipeline", "ci", "x").parent))
        run.on_exit(lambda: shutil.rmtree(work, ignore_errors=True))
        for name, runner in (("act: the GitHub workflow runs green", ci_local.run_act),
                             ("gitlab-ci-local: the GitLab pipeline runs green", ci_local.run_gitlab)):
            tool = runner(run.settings.repo_root, work / name.split(":")[0], free_port())
            jobs = ci_local.job_results(tool)
            run.verify(name, tool.ok and set(jobs.values()) == {"passed"},
                       f"exit {tool.returncode} in {tool.seconds:.0f}s, jobs {jobs}", "exit 0, every job passed",
                       f"read the runner's output: {tool.output.strip()[-200:]}")


# %%
def lesson(run: LabRun) -> None:
    pipeline = show_definition(run)
    show_environments(run)
    check_ci_files(run)
    result, ctx = run_the_pipeline(run, pipeline)
    verify_run(run, pipeline, result, ctx)
    if not run.stopped:
        run_ci_locally(run)


def plan(run: LabRun) -> None:
    """--dry-run: the definition, the plan, the configuration and the CI files; nothing starts."""
    show_definition(run)
    show_environments(run)
    stale = emit.stale(run.settings.repo_root)
    run.verify("emitted CI files up to date", not stale, ", ".join(map(str, stale)) or "both fresh",
               "generated from the definition", "python -m milvus_lab.pipeline emit")


def main(argv: list[str] | None = None) -> int:
    return lab_main(SPEC, lesson, argv=argv, add_arguments=add_arguments, check_arguments=check_arguments,
                    plan=plan, cleanup=clean_up)


# %% [markdown]
# ## In Jupyter: one cell per step

# %%
run = notebook_run(SPEC, add_arguments, ["--approve"])  # None outside Jupyter

# %%
if run:
    pipe = show_definition(run)

# %%
if run:
    show_environments(run)

# %%
if run:
    check_ci_files(run)

# %%
if run:
    outcome, context = run_the_pipeline(run, pipe)

# %%
if run:
    verify_run(run, pipe, outcome, context)

# %%
if run:
    notebook_finish(run)
elif __name__ == "__main__":
    sys.exit(main())
