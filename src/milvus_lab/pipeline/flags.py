"""Lab 02's own flags and everything refusable before anything starts."""

from __future__ import annotations

import argparse

from milvus_lab.errors import PrerequisiteError
from milvus_lab.pipeline import envconfig
from milvus_lab.pipeline.cli import overrides
from milvus_lab.pipeline.context import INJECTABLE
from milvus_lab.pipeline.stages import ENV_DIR, osv_scanner
from milvus_lab.settings import find_repo_root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ref and event being built, the approval, the failure drills, overrides, `--run-ci`."""
    parser.add_argument("--branch", default="main", help="the ref being built (main: up to prod, develop: "
                        "up to staging, anything else: checks only)")
    parser.add_argument("--event", choices=("push", "pull_request"), default="push",
                        help="pull_request runs the checks only")
    parser.add_argument("--approve", action="store_true",
                        help="approve the production deploy (without it: a prompt on a terminal, else stop before prod)")
    parser.add_argument("--inject-failure", choices=INJECTABLE, default=None,
                        help="a real fault for a real tool: the pipeline must stop at that stage")
    parser.add_argument("--fail-in", choices=envconfig.ENVIRONMENTS, default="dev",
                        help="the environment a smoke / post-deploy fault breaks (default dev)")
    parser.add_argument("--set", action="append", default=[], metavar="ENV:KEY=VALUE",
                        help="override one environment value, e.g. prod:replicas=2 (validated first)")
    parser.add_argument("--run-ci", action="store_true",
                        help="also run the emitted workflows with act and gitlab-ci-local (a few minutes)")


def check_arguments(args: argparse.Namespace) -> None:
    """Everything refusable before anything starts: bad values, a missing scanner, a misused flag."""
    if args.fail_in != "dev" and args.inject_failure not in ("smoke", "post-deploy"):
        raise PrerequisiteError("--fail-in only applies to --inject-failure smoke or post-deploy",
                                fix="add --inject-failure smoke (or post-deploy), or drop --fail-in")
    repo = find_repo_root()
    envconfig.validate(repo / ENV_DIR, overrides(args.set))
    osv_scanner(repo)
