"""Emit `.github/workflows/lab-pipeline.yml` and `.gitlab-ci.yml` from the one definition.

Every step is `python -m milvus_lab.pipeline stage NAME`, so the CI systems run exactly what
the local runner runs. Jobs follow the definition's groups: `checks` (every ref), `release`
(develop and main: build, tag, push, dev, staging), `production` (main only, behind the CI
system's approval: a GitHub environment, a GitLab manual job). The run's state (registry,
promotions) travels between jobs as a CI artifact.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from rich.console import Console

from milvus_lab.pipeline import definition
from milvus_lab.pipeline.definition import Pipeline

GITHUB_PATH = Path(".github/workflows/lab-pipeline.yml")
GITLAB_PATH = Path(".gitlab-ci.yml")
STATE = ".pipeline-state"
HEADER = ("# GENERATED from deploy/pipeline/pipeline.yaml by `python -m milvus_lab.pipeline emit`.\n"
          "# Do not edit: change the definition and re-run (a test fails when this file is stale).\n")
SETUP = 'PIPELINE_PY="$(bash deploy/pipeline/ci-setup.sh)"'
CHECKOUT = "actions/checkout@v4"
UPLOAD = "actions/upload-artifact@v4"
DOWNLOAD = "actions/download-artifact@v4"
SETUP_PYTHON = "actions/setup-python@v5"


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:  # noqa: ARG002
        return True  # no &id001 anchors: each job reads on its own

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # noqa: ARG002
        super().increase_indent(flow, False)  # lists indented under their key


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def dump(doc: dict) -> str:
    return HEADER + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=120, default_flow_style=False)


def stage_cmd(name: str, first: bool = False, approve: bool = False) -> str:
    flags = (" --new-run" if first else "") + (" --approve" if approve else "")
    return f'"$PIPELINE_PY" -m milvus_lab.pipeline stage {name}{flags}'


def github(p: Pipeline) -> str:
    state_dir = f"${{{{ github.workspace }}}}/{STATE}"
    artifact_path = f"{STATE}/.milvus-lab/pipeline/"

    def steps(group: str, download: bool) -> list[dict]:
        out: list[dict] = [
            {"uses": CHECKOUT},
            {"uses": SETUP_PYTHON, "with": {"python-version": p.python}},
            {"name": "set up", "run": f'{SETUP}\necho "PIPELINE_PY=$PIPELINE_PY" >> "$GITHUB_ENV"'},
        ]
        if download:
            out.append({"uses": DOWNLOAD, "with": {"name": "pipeline-state", "path": artifact_path}})
        for i, name in enumerate(p.groups[group]):
            stage = p.stage(name)
            out.append({"name": f"{name}: {stage.help}",
                        "run": stage_cmd(name, first=(i == 0 and group == "checks"), approve=stage.approval)})
        if group != "production":
            out.append({"uses": UPLOAD, "if": "always()",
                        "with": {"name": f"pipeline-state{'' if group == 'checks' else '-' + group}",
                                 "path": artifact_path, "include-hidden-files": True,
                                 "retention-days": 7}})
        if group != "checks":
            out.append({"name": "stop the replicas", "if": "always()",
                        "run": '"$PIPELINE_PY" -m milvus_lab.pipeline down'})
        return out

    doc = {
        "name": p.name,
        "on": {"push": {"branches": ["main", "develop"]}, "pull_request": {}, "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        "concurrency": {"group": f"{p.name}-${{{{ github.ref }}}}", "cancel-in-progress": False},
        "env": {"MILVUS_LAB_HOME": state_dir, "PYTHONPATH": "${{ github.workspace }}/src",
                "MILVUS_LAB_MILVUS_PORT": "${{ vars.MILVUS_LAB_MILVUS_PORT || '19530' }}"},
        "jobs": {
            "checks": {"name": "checks (every ref)", "runs-on": "ubuntu-latest", "timeout-minutes": 20,
                       "steps": steps("checks", download=False)},
            "release": {
                "name": "release (develop: staging, main: staging then prod)", "needs": "checks",
                "if": "github.event_name == 'push' && (github.ref_name == 'develop' || github.ref_name == 'main')",
                "runs-on": "ubuntu-latest", "timeout-minutes": 20, "environment": "staging",
                "steps": steps("release", download=True)},
            "production": {
                "name": "production (approval: the environment's required reviewers)", "needs": "release",
                "if": "github.event_name == 'push' && github.ref_name == 'main'",
                "runs-on": "ubuntu-latest", "timeout-minutes": 20,
                "environment": {"name": "production"},
                "steps": [*steps("production", download=False)[:3],
                          {"uses": DOWNLOAD, "with": {"name": "pipeline-state-release",
                                                      "path": artifact_path}},
                          *steps("production", download=False)[3:]]},
        },
    }
    return dump(doc)


def gitlab(p: Pipeline) -> str:
    release_rule = '$CI_PIPELINE_SOURCE == "push" && ($CI_COMMIT_BRANCH == "develop" || $CI_COMMIT_BRANCH == "main")'

    def script(group: str) -> list[str]:
        return [stage_cmd(n, first=(i == 0 and group == "checks"), approve=p.stage(n).approval)
                for i, n in enumerate(p.groups[group])]

    artifacts = {"paths": [f"{STATE}/.milvus-lab/pipeline/"], "when": "always", "expire_in": "1 week"}
    down = {"after_script": [f"export PYTHONPATH=$CI_PROJECT_DIR/src; {SETUP}; "
                             '"$PIPELINE_PY" -m milvus_lab.pipeline down']}
    doc = {
        "workflow": {"rules": [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
                               {"if": release_rule}]},
        "stages": list(p.groups),
        "variables": {"MILVUS_LAB_HOME": f"$CI_PROJECT_DIR/{STATE}", "PIPELINE_PYTHON_VERSION": p.python},
        "default": {"before_script": ["export PYTHONPATH=$CI_PROJECT_DIR/src", SETUP]},
        "checks": {"stage": "checks", "script": script("checks"), "artifacts": artifacts},
        "release": {"stage": "release", "needs": ["checks"], "rules": [{"if": release_rule}],
                    "environment": {"name": "staging"}, "script": script("release"),
                    "artifacts": artifacts, **down},
        "production": {"stage": "production", "needs": ["release"],
                       "rules": [{"if": '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == "main"',
                                  "when": "manual"}],
                       "allow_failure": False, "environment": {"name": "production"},
                       "script": script("production"), **down},
    }
    return dump(doc)


def rendered(repo: Path) -> dict[Path, str]:
    p = definition.load(repo)
    return {GITHUB_PATH: github(p), GITLAB_PATH: gitlab(p)}


def stale(repo: Path) -> list[Path]:
    """The emitted files that differ from what the definition generates now."""
    return [rel for rel, text in rendered(repo).items()
            if not (repo / rel).exists() or (repo / rel).read_text() != text]


def main(repo: Path, check: bool, console: Console) -> int:
    """Write both files, or (--check) exit 1 naming each stale one with its diff."""
    stale = 0
    for rel, text in rendered(repo).items():
        path = repo / rel
        old = path.read_text() if path.exists() else ""
        if old == text:
            console.print(f"[green]✔ {rel} up to date[/]")
            continue
        if check:
            stale += 1
            console.print(f"[red]✘ {rel} is stale[/]: run `python -m milvus_lab.pipeline emit`")
            console.print("".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                       str(rel), "generated", n=1))[:3000],
                          markup=False, highlight=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            console.print(f"wrote {rel}")
    return 1 if stale else 0
