"""API keys: shown once, stored as HMAC, scoped, rotated with overlap, revoked, rate limited."""

from __future__ import annotations

from pathlib import Path

import pytest

from milvus_lab.security import apikeys


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def setup(tmp_path: Path) -> tuple[apikeys.KeyStore, apikeys.Verifier, Clock]:
    clock = Clock()
    store = apikeys.KeyStore(tmp_path / "keys.json", tmp_path / "pepper", clock=clock)
    verifier = apikeys.Verifier(store.path, store.pepper, clock=clock)
    return store, verifier, clock


def test_key_is_stored_only_as_a_peppered_hash(setup: tuple) -> None:
    store, _, _ = setup
    key, rec = store.create("alice", ("search",))
    text = store.path.read_text()
    secret = apikeys.parse(key)[1]
    assert secret not in text and key not in text
    assert rec.digest == apikeys.digest(store.pepper, key) and rec.digest in text
    assert (store.path.stat().st_mode & 0o777) == 0o600
    assert (store.pepper_path.stat().st_mode & 0o777) == 0o600


def test_verify_scope_wrong_key_and_missing_key(setup: tuple) -> None:
    store, verifier, _ = setup
    key, rec = store.create("alice", ("search",))
    assert verifier.check(key, "search").ok
    assert verifier.check(key, "admin").status == 403
    assert verifier.check(key[:-1] + ("A" if key[-1] != "A" else "B"), "search").status == 401
    assert verifier.check(None, "search").status == 401
    assert verifier.check("garbage", "search").status == 401


def test_rotation_overlap_then_old_key_expires(setup: tuple) -> None:
    store, verifier, clock = setup
    old, rec = store.create("alice", ("search",))
    new, new_rec = store.rotate(rec.key_id, overlap_s=30)
    assert verifier.check(old, "search").ok and verifier.check(new, "search").ok
    clock.t += 31
    got = verifier.check(old, "search")
    assert (got.status, got.reason) == (401, "API key expired")
    assert verifier.check(new, "search").ok


def test_revoked_key_is_refused_at_once(setup: tuple) -> None:
    store, verifier, _ = setup
    key, rec = store.create("bob", ("search", "admin"))
    assert verifier.check(key, "admin").ok
    store.revoke(rec.key_id)
    got = verifier.check(key, "search")
    assert (got.status, got.reason) == (401, "API key revoked")


def test_rate_limit_per_key(setup: tuple) -> None:
    store, verifier, clock = setup
    fast, _ = store.create("a", ("search",), rate_per_s=1, burst=3)
    other, _ = store.create("b", ("search",), rate_per_s=1, burst=3)
    assert [verifier.check(fast, "search").status for _ in range(4)] == [200, 200, 200, 429]
    assert verifier.check(other, "search").ok  # another key has its own bucket
    clock.t += 1.0
    assert verifier.check(fast, "search").ok


def test_bad_scope_refused(setup: tuple) -> None:
    store, _, _ = setup
    with pytest.raises(ValueError, match="scopes"):
        store.create("x", ("root",))


def test_bearer_header_forms() -> None:
    assert apikeys.bearer("Bearer abc", None) == "abc"
    assert apikeys.bearer(None, "xyz") == "xyz"
    assert apikeys.bearer("Basic abc", None) is None
