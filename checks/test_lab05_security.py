"""Lab 05 checks: the search API's least-privileged role, API-key verification with rotation
and revocation, and the audit chain walker, against real key stores and real audit logs.

Run `pytest checks -k lab05` (your code) or `pytest checks -k lab05 --impl solutions`.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from types import ModuleType

import pytest
from conftest import attempt

from milvus_lab.security import apikeys, audit
from milvus_lab.security.milvus_rbac import DANGEROUS, Grant


@pytest.fixture(scope="module")
def lab05(impl_loader) -> ModuleType:
    return impl_loader("lab05_security")


# ---- 1. least privilege --------------------------------------------------------------
def test_search_api_role_is_exactly_search_and_query_on_the_alias(lab05: ModuleType) -> None:
    role = attempt(lab05.search_api_role, "products_live")
    assert role.name == "lab05_search_api", f"role name is {role.name!r}; name it 'lab05_search_api'"
    got = set(role.grants)
    want = {Grant("Collection", "products_live", "Search"), Grant("Collection", "products_live", "Query")}
    assert not [g for g in got if g.object_name == "*"], "a grant on '*' reaches every collection"
    risky = sorted(str(g) for g in got if g.privilege in DANGEROUS)
    assert not risky, f"these grants let a stolen API password change data: {risky}"
    assert got == want, (
        f"grants are {sorted(map(str, got))}; the API only needs {sorted(map(str, want))} "
        "(on the alias: the real collection name changes at every release)"
    )


# ---- 2. API keys ------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.t = 2_000_000.0

    def __call__(self) -> float:
        return self.t


def test_verify_key_follows_the_rules(lab05: ModuleType, tmp_path: Path) -> None:
    clock = Clock()
    store = apikeys.KeyStore(tmp_path / "keys.json", tmp_path / "pepper", clock=clock)
    search, search_rec = store.create("svc", ("search",))
    admin, admin_rec = store.create("ops", ("search", "admin"))
    revoked, revoked_rec = store.create("gone", ("search",))
    store.revoke(revoked_rec.key_id)
    old, old_rec = store.create("rotating", ("search",))
    new, _ = store.rotate(old_rec.key_id, overlap_s=60)
    tampered = search[:-3] + ("xyz" if not search.endswith("xyz") else "abc")

    def judge(key: str | None, scope: str = "search") -> tuple[int, str]:
        return tuple(attempt(lab05.verify_key, store.records(), store.pepper, key, scope, clock()))

    cases = [
        ("no key", None, "search", (401, "no API key")),
        ("garbage", "not-a-key", "search", (401, "invalid API key")),
        ("tampered secret", tampered, "search", (401, "invalid API key")),
        ("valid search key", search, "search", (200, "ok")),
        ("search key on an admin call", search, "admin", (403, "key lacks scope 'admin'")),
        ("admin key", admin, "admin", (200, "ok")),
        ("revoked key", revoked, "search", (401, "API key revoked")),
        ("old key inside the overlap window", old, "search", (200, "ok")),
        ("new key after rotation", new, "search", (200, "ok")),
    ]
    for label, key, scope, want in cases:
        assert judge(key, scope) == want, f"{label}: got {judge(key, scope)}, want {want}"
    clock.t += 61
    assert judge(old) == (401, "API key expired"), (
        "the old key must be refused once the rotation's overlap window is over (expires_at <= now)"
    )
    assert judge(new) == (200, "ok")
    del admin_rec, search_rec


def test_verify_key_compares_in_constant_time(lab05: ModuleType) -> None:
    source = inspect.getsource(lab05.verify_key).replace(lab05.verify_key.__doc__ or "", "")
    assert "compare_digest(" in source, (
        "compare digests with hmac.compare_digest: `==` stops at the first differing byte, "
        "and that timing tells an attacker how much of a guess was right"
    )


# ---- 3. the audit chain -----------------------------------------------------------------
@pytest.fixture
def chain(tmp_path: Path) -> tuple[list[str], bytes]:
    log = audit.AuditLog.open(tmp_path / "audit.jsonl", tmp_path / "audit.key")
    for i in range(6):
        log.append(f"user{i}", "key.rotate", "ok", key_id=f"k{i}")
    return log.path.read_text().splitlines(), log.key


def test_intact_chain_has_no_broken_line(lab05: ModuleType, chain: tuple[list[str], bytes]) -> None:
    lines, key = chain
    assert attempt(lab05.first_broken_line, lines, key) is None, "an untouched log must verify"


@pytest.mark.parametrize("tamper, want", [
    ("edit line 3", 3), ("delete line 2", 2), ("swap lines 4 and 5", 4), ("garbage on line 6", 6),
])
def test_tampering_is_found_at_the_right_line(
    lab05: ModuleType, chain: tuple[list[str], bytes], tamper: str, want: int
) -> None:
    lines, key = list(chain[0]), chain[1]
    if tamper.startswith("edit"):
        entry = json.loads(lines[2])
        entry["actor"] = "someone-else"
        lines[2] = json.dumps(entry, sort_keys=True)
    elif tamper.startswith("delete"):
        del lines[1]
    elif tamper.startswith("swap"):
        lines[3], lines[4] = lines[4], lines[3]
    else:
        lines[5] = "{not json"
    got = attempt(lab05.first_broken_line, lines, key)
    assert got == want, (
        f"{tamper}: you said line {got}, the chain first breaks at line {want} "
        "(check the MAC of each line AND that its prev is the previous line's mac)"
    )
