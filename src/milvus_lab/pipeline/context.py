"""What one pipeline run carries from stage to stage (and from CI job to CI job): a JSON file
in the state directory, because in CI each stage may be a separate process."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from milvus_lab.settings import Settings

INJECTABLE = ("lint", "test", "secret", "vuln", "smoke", "post-deploy")


@dataclass
class RunContext:
    branch: str = "main"
    event: str = "push"
    git_sha: str = ""
    version: str = ""
    approve: bool = False
    inject: str | None = None
    fail_env: str = "dev"  # where a smoke / post-deploy drill makes the release bad
    overrides: dict[str, dict[str, object]] = field(default_factory=dict)  # env -> config overlay (--set)
    artifact: dict[str, object] = field(default_factory=dict)  # path, digest, size
    tags: list[str] = field(default_factory=list)
    sbom: dict[str, object] = field(default_factory=dict)
    milvus_uri: str = ""  # the Milvus the replicas searched (an output)
    target_milvus: str = ""  # a Milvus the caller provides (lab on compose); else our Milvus Lite
    deployed: dict[str, dict[str, object]] = field(default_factory=dict)  # env -> release info
    rollbacks: list[dict[str, object]] = field(default_factory=list)
    promotions: list[dict[str, object]] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return str(self.artifact.get("digest", ""))


def context_path(settings: Settings) -> Path:
    return settings.path("pipeline", "run.json")


def load(settings: Settings) -> RunContext:
    path = context_path(settings)
    if not path.exists():
        return RunContext()
    return RunContext(**json.loads(path.read_text()))


def save(settings: Settings, ctx: RunContext) -> None:
    path = context_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(ctx), indent=1))
    tmp.replace(path)
