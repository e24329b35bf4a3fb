"""Lab 02 checks: the tag scheme, the branch rule and the promotion rule.

Run `pytest checks -k lab02` (your code) or `pytest checks -k lab02 --impl solutions`.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest
from conftest import attempt

from milvus_lab.pipeline.registry import Registry

SHA = "0123456789ABCDEF0123456789abcdef01234567"  # pragma: allowlist secret (a made-up commit)
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@pytest.fixture(scope="module")
def lab02(impl_loader) -> ModuleType:
    return impl_loader("lab02_cicd")


def test_tags_name_version_sha_and_branch(lab02: ModuleType) -> None:
    tags = attempt(lab02.release_tags, "0.1.0", SHA, "refs/heads/Feature/Search API")
    assert tags == ["0.1.0", "sha-0123456789ab", "branch-feature-search-api"], (
        f"got {tags}; hint: version as is, 'sha-' + 12 lowercased hex chars, "
        "'branch-' + the slug of the branch without refs/heads/")
    for t in attempt(lab02.release_tags, "1.0.0rc1", SHA, "x" * 300):
        assert TAG.match(t), f"{t!r} is not a valid registry tag (max 128 chars, [A-Za-z0-9_.-])"


@pytest.mark.parametrize("args", [("", SHA, "main"), ("0.1.0", "not-a-sha!", "main"), ("0.1.0", SHA, "///")])
def test_tags_refuse_bad_input(lab02: ModuleType, args: tuple[str, str, str]) -> None:
    with pytest.raises(ValueError):
        attempt(lab02.release_tags, *args)


def test_every_tag_resolves_to_the_one_digest(lab02: ModuleType, tmp_path: Path) -> None:
    """Against a real content-addressed registry on disk."""
    reg = Registry(tmp_path / "registry")
    wheel = tmp_path / "app.whl"
    wheel.write_bytes(b"the bytes that were tested")
    digest = reg.push(wheel)
    for t in attempt(lab02.release_tags, "0.1.0", SHA, "main"):
        reg.tag(t, digest)
    tags = reg.tags_of(digest)
    assert len(tags) == 3 and all(reg.resolve(t) == digest for t in tags), (
        f"tags {tags} must be three distinct names of {digest}")


@pytest.mark.parametrize("event, branch, expected", [
    ("pull_request", "main", []),
    ("push", "develop", ["dev", "staging"]),
    ("push", "refs/heads/main", ["dev", "staging", "prod"]),
    ("push", "feature/x", []),
])
def test_branch_rule(lab02: ModuleType, event: str, branch: str, expected: list[str]) -> None:
    got = attempt(lab02.deploy_plan, event, branch)
    assert got == expected, f"{event} {branch}: got {got}, expected {expected} (PRs: checks only)"


def test_promotion_needs_the_same_digest_to_have_passed_before(lab02: ModuleType, tmp_path: Path) -> None:
    reg = Registry(tmp_path / "registry")
    a, b = tmp_path / "a.whl", tmp_path / "b.whl"
    a.write_bytes(b"release a")
    b.write_bytes(b"release b")
    da, db = reg.push(a), reg.push(b)
    reg.record_promotion("dev", da)
    passed = {p.env: p.digest for p in reg.promotions()}
    assert attempt(lab02.can_promote, db, "dev", passed, False).passed, "dev accepts any pushed build"
    ok = attempt(lab02.can_promote, da, "staging", passed, False)
    assert ok.passed and ok.name == "promote to staging", f"{da} passed dev, so staging must accept it: {ok}"
    refused = attempt(lab02.can_promote, db, "staging", passed, False)
    assert not refused.passed, "staging must refuse a digest that did not pass dev (rebuilt bytes are not tested bytes)"
    assert refused.hint, "say what to do when a promotion is refused"
    reg.record_promotion("staging", da)
    passed = {p.env: p.digest for p in reg.promotions()}
    assert not attempt(lab02.can_promote, da, "prod", passed, False).passed, "prod needs an approval"
    assert attempt(lab02.can_promote, da, "prod", passed, True).passed, "approved, same digest: prod accepts"
    assert not attempt(lab02.can_promote, da, "qa", passed, True).passed, "unknown environment"
