"""The one pipeline definition (`deploy/pipeline/pipeline.yaml`), loaded and checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from milvus_lab.errors import PrerequisiteError

DEFINITION = Path("deploy/pipeline/pipeline.yaml")
KINDS = ("check", "release", "deploy", "smoke", "watch", "promote")


@dataclass(frozen=True)
class Stage:
    name: str
    kind: str
    tool: str
    help: str
    env: str | None = None
    approval: bool = False


@dataclass(frozen=True)
class Pipeline:
    name: str
    python: str
    stages: tuple[Stage, ...]
    groups: dict[str, list[str]]
    paths: dict[str, object]
    branches: dict[str, dict[str, object]]
    environments: tuple[str, ...]

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise PrerequisiteError(f"no stage {name!r} in the pipeline",
                                fix=f"use one of {', '.join(s.name for s in self.stages)}")

    def group_of(self, name: str) -> str:
        return next(g for g, names in self.groups.items() if name in names)


def load(repo: Path) -> Pipeline:
    path = repo / DEFINITION
    try:
        raw = yaml.safe_load(path.read_text())
        stages = tuple(Stage(**s) for s in raw["stages"])
        pipe = Pipeline(raw["name"], str(raw["python"]), stages, raw["groups"], raw["paths"],
                        raw["branches"], tuple(raw["environments"]))
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise PrerequisiteError(f"cannot load {path}: {exc}", fix=f"fix {path} (git diff shows what changed)") from exc
    names = [s.name for s in stages]
    grouped = [n for g in pipe.groups.values() for n in g]
    bad = [s.name for s in stages if s.kind not in KINDS]
    if bad or sorted(grouped) != sorted(names) or len(set(names)) != len(names):
        raise PrerequisiteError(f"{path}: every stage must be in exactly one group and have a known kind",
                                fix=f"kinds: {', '.join(KINDS)}; check groups against stages")
    return pipe
