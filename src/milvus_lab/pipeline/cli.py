"""`python -m milvus_lab.pipeline run|stage|emit|envs|down`: the pipeline's one entry point
(the local runner, every CI job, and lab 02 all go through it)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from milvus_lab.errors import LabError
from milvus_lab.labkit import load_impl
from milvus_lab.milvus import server
from milvus_lab.pipeline import context as run_context
from milvus_lab.pipeline import definition, deploy, emit, envconfig
from milvus_lab.pipeline.context import INJECTABLE, RunContext
from milvus_lab.pipeline.runner import run_pipeline
from milvus_lab.pipeline.stages import ENV_DIR, osv_scanner, run_stage
from milvus_lab.settings import Settings


def _ci_ref() -> tuple[str, str]:
    """(event, branch) from GitHub Actions or GitLab CI variables; (push, current branch) else."""
    if os.environ.get("GITHUB_ACTIONS"):
        event = os.environ.get("GITHUB_EVENT_NAME", "push")
        return event, os.environ.get("GITHUB_HEAD_REF") or os.environ.get("GITHUB_REF_NAME", "")
    if os.environ.get("GITLAB_CI"):
        mr = os.environ.get("CI_PIPELINE_SOURCE") == "merge_request_event"
        return ("pull_request" if mr else "push"), os.environ.get("CI_COMMIT_REF_NAME", "")
    return "push", ""


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--branch", default=None, help="the ref being built (default: from CI, else main)")
    p.add_argument("--event", choices=("push", "pull_request"), default=None)
    p.add_argument("--approve", action="store_true", help="approve the production deploy")
    p.add_argument("--impl", choices=("solutions", "labs"), default="solutions",
                   help="tag scheme and promotion rule: the reference or your exercise")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m milvus_lab.pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the whole pipeline locally with a live view")
    add_common(r)
    r.add_argument("--inject-failure", choices=INJECTABLE, default=None)
    r.add_argument("--fail-in", choices=envconfig.ENVIRONMENTS, default="dev",
                   help="the environment a smoke / post-deploy drill breaks (default dev)")
    r.add_argument("--set", action="append", default=[], metavar="ENV:KEY=VALUE",
                   help="override one environment value, e.g. prod:replicas=2 (validated)")
    r.add_argument("--report", type=Path, default=None, help="write the run as JSON here")
    s = sub.add_parser("stage", help="run one stage (what each CI step calls)")
    s.add_argument("name")
    add_common(s)
    s.add_argument("--new-run", action="store_true", help="start a new run (the first stage of a pipeline)")
    e = sub.add_parser("emit", help="generate the GitHub Actions and GitLab CI files")
    e.add_argument("--check", action="store_true", help="exit 1 when the committed files are stale")
    v = sub.add_parser("envs", help="render the environments, show what differs, validate")
    v.add_argument("--set", action="append", default=[], metavar="ENV:KEY=VALUE")
    d = sub.add_parser("down", help="stop every environment's replicas and our Milvus Lite")
    d.add_argument("--keep-milvus", action="store_true", help="leave Milvus Lite running")
    return parser


def overrides(items: list[str]) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for item in items:
        env, value = envconfig.parse_override(item)
        out[env] = envconfig.merge(out.get(env, {}), value)
    return out


def env_table(configs: dict[str, envconfig.Config]) -> Table:
    t = Table(title="What differs between environments (base.yaml + <env>.yaml)", title_justify="left")
    t.add_column("key")
    for env in configs:
        t.add_column(env)
    for d in envconfig.diff(configs):
        t.add_row(d.key, *(json.dumps(d.values[env]) for env in configs))
    return t


def _context(args: argparse.Namespace, base: RunContext) -> RunContext:
    event, branch = _ci_ref()
    base.event = args.event or (event if os.environ.get("CI") else base.event) or "push"
    base.branch = args.branch or branch or base.branch or "main"
    base.approve = base.approve or args.approve
    return base


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    settings = Settings.from_env()
    try:
        if args.cmd == "emit":
            return emit.main(settings.repo_root, check=args.check, console=console)
        if args.cmd == "envs":
            configs = envconfig.validate(settings.repo_root / ENV_DIR, overrides(args.set))
            console.print(env_table(configs))
            console.print("[green]✔ every environment validates[/]")
            return 0
        if args.cmd == "down":
            stopped = sum(deploy.stop(settings, env) for env in envconfig.ENVIRONMENTS)
            milvus = settings.target == "local" and not args.keep_milvus and server.stop_server(settings)
            console.print(f"stopped {stopped} replica(s)" + (" and Milvus Lite" if milvus else ""))
            return 0
        pipeline = definition.load(settings.repo_root)
        impl = load_impl("lab02_cicd", args.impl, settings.repo_root)
        if args.cmd == "stage":
            ctx = RunContext() if args.new_run else run_context.load(settings)
            ctx = _context(args, ctx)
            stage = pipeline.stage(args.name)
            if stage.approval and not ctx.approve:
                console.print(f"[yellow]⏸ {stage.name}: stopped before {stage.env}: approval needed (--approve)[/]")
                return 0
            result = run_stage(stage, settings, pipeline, ctx, impl)
            run_context.save(settings, ctx)
            style = "green" if result.ok else "red"
            console.print(f"[{style}]{stage.name}: {result.status} in {result.seconds:.1f}s: {result.detail}[/]")
            for cmd in result.commands:
                console.print(f"  $ {cmd}", style="dim", markup=False, highlight=False)
            if result.output:
                console.print(result.output, markup=False, highlight=False)
            return 0 if result.ok else 1
        # run
        sets = overrides(args.set)
        envconfig.validate(settings.repo_root / ENV_DIR, sets)  # bad values: exit 2, nothing deployed
        osv_scanner(settings.repo_root)  # prerequisite, before anything runs
        ctx = _context(args, RunContext(inject=args.inject_failure, fail_env=args.fail_in, overrides=sets))
        run_context.save(settings, ctx)
        result = run_pipeline(settings, pipeline, ctx, impl, console)
        if args.report:
            args.report.parent.mkdir(parents=True, exist_ok=True)
            args.report.write_text(json.dumps({"seconds": result.seconds, "plan": result.plan,
                                               "stages": [asdict(r) for r in result.results],
                                               "context": asdict(ctx)}, indent=1))
        return 1 if result.failed else 0
    except LabError as exc:
        console.print(f"[red]✘ cannot run:[/] {exc.message}")
        if exc.fix:
            console.print(f"  [bold]fix:[/] {exc.fix}")
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())

