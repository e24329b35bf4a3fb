"""Lab 02's fast unit subset (the pipeline's own unit-tests stage runs this file): pure logic
of the environment overlays, the registry and the definition, on temp dirs, in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from milvus_lab.errors import PrerequisiteError
from milvus_lab.pipeline import definition, envconfig
from milvus_lab.pipeline.registry import Registry, RegistryError

REPO = Path(__file__).resolve().parents[1]
ENVS = REPO / "deploy/pipeline/environments"


def test_overlays_merge_deep_and_only_what_differs_is_listed() -> None:
    configs = envconfig.validate(ENVS)
    assert configs["prod"]["replicas"] == 3 and configs["dev"]["replicas"] == 1
    # a nested overlay key replaces one leaf, the siblings come from base
    assert configs["prod"]["search"]["ef"] == 128
    assert configs["prod"]["search"]["collection"] == configs["dev"]["search"]["collection"]
    keys = {d.key for d in envconfig.diff(configs)}
    assert {"replicas", "search.ef", "log_level"} <= keys
    assert "search.collection" not in keys and "milvus.token" not in keys


@pytest.mark.parametrize("override, message", [
    ({"replicas": 0}, "replicas=0"),
    ({"search": {"ef": 4}}, "search.ef=4 < search.top_k=10"),
    ({"log_level": "loud"}, "log_level='loud'"),
    ({"resources": {"memory": "1GB"}}, "resources.memory"),
    ({"milvus": {"token": "hunter2"}}, "a secret must be a reference"),
])
def test_bad_values_are_refused_before_deploy(override: dict, message: str) -> None:
    with pytest.raises(PrerequisiteError) as err:
        envconfig.validate(ENVS, {"prod": override})
    assert message in err.value.message
    assert "hunter2" not in err.value.message  # a secret value is never echoed


def test_parse_override() -> None:
    assert envconfig.parse_override("prod:search.ef=256") == ("prod", {"search": {"ef": 256}})
    with pytest.raises(PrerequisiteError):
        envconfig.parse_override("replicas=2")


def test_registry_is_content_addressed(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    art = tmp_path / "a.whl"
    art.write_bytes(b"release bytes")
    digest = reg.push(art)
    assert digest.startswith("sha256:") and reg.push(art) == digest  # idempotent
    reg.tag("0.1.0", digest)
    reg.tag("branch-main", digest)
    assert reg.resolve("branch-main") == digest and reg.tags_of(digest) == ["0.1.0", "branch-main"]
    with pytest.raises(RegistryError):
        reg.tag("x", "sha256:" + "0" * 64)  # never pushed
    reg.blob(digest).write_bytes(b"tampered")
    with pytest.raises(RegistryError):
        reg.record_promotion("dev", digest)  # a corrupted blob cannot be promoted


def test_definition_groups_cover_every_stage_once() -> None:
    p = definition.load(REPO)
    names = [s.name for s in p.stages]
    assert [n for g in p.groups.values() for n in g] == names
    assert [s.name for s in p.stages if s.approval] == ["promote-prod"]
