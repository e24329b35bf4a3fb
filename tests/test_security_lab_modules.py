"""Lab 05's lesson helpers (pure logic): the verdicts the lesson verifies, the tampering it
injects, the key drill's bookkeeping, the manifests it writes."""

from __future__ import annotations

from pathlib import Path

from milvus_lab.kube.apply import ensure_valid
from milvus_lab.labkit import load_impl
from milvus_lab.security import apikeys, audit, key_drill, kube_rbac, tls_checks, workloads
from milvus_lab.security.milvus_rbac import Attempt, Grant, Role
from milvus_lab.security.tls_probe import ProbeResult

OK, REFUSED = ProbeResult(True, ""), ProbeResult(False, "refused")


def test_tampering_the_real_log_is_named_by_verify(tmp_path: Path) -> None:
    log = audit.AuditLog.open(tmp_path / "audit.jsonl", tmp_path / "audit.key")
    for i in range(4):
        log.append(f"user{i}", "key.create", "ok")
    audit.tamper(log.path, line=2, actor="nobody")
    verdict = audit.verify(log.path, log.key)
    assert not verdict.ok and verdict.problems[0].line == 2, verdict.summary()
    assert audit.read_entries(log.path)[1]["actor"] == "nobody"


def _attempts(refusal: str = "PrivilegeInsert: permission deny to x") -> list[Attempt]:
    return [Attempt("api", "search", True, True), Attempt("api", "insert", False, False, refusal)]


def test_least_privilege_holds_only_without_extra_grants_and_with_milvus_refusals() -> None:
    exact = Role("lab05_search_api", workloads.API_GRANTS)
    assert workloads.judge(exact, _attempts()).held
    broad = Role(exact.name, (*exact.grants, Grant("Collection", "*", "Insert")))
    verdict = workloads.judge(broad, _attempts())
    assert not verdict.held and "too broad" in verdict.observed
    assert not workloads.judge(exact, _attempts(refusal="collection not found")).held  # not RBAC's refusal
    allowed_when_forbidden = [Attempt("api", "drop", False, True)]
    assert not workloads.judge(exact, allowed_when_forbidden).held


def test_tls_holds_only_when_every_probe_went_as_expected() -> None:
    one = tls_checks.OneWay(plaintext=REFUSED, with_ca=OK)
    two = tls_checks.Mutual(no_cert=REFUSED, with_cert=OK, plaintext=REFUSED, reason=ProbeResult(False, "cert required"))
    assert tls_checks.judge(one, two).held and two.certless_error == "cert required"
    leaky = tls_checks.Mutual(no_cert=OK, with_cert=OK, plaintext=REFUSED, reason=ProbeResult(True, ""))
    verdict = tls_checks.judge(one, leaky)
    assert not verdict.held and "cert-less refused False" in verdict.observed
    assert not tls_checks.judge(tls_checks.OneWay(plaintext=OK, with_ca=OK), two).held


def test_key_drill_keys_are_saved_once_and_judged_like_the_api(tmp_path: Path) -> None:
    store = apikeys.KeyStore(tmp_path / "keys.json", tmp_path / "pepper")
    keys = key_drill.issue(store)
    path, shown = key_drill.save_once(tmp_path / "k", "load-users", keys.load)
    assert path.read_text() == keys.load and (path.stat().st_mode & 0o777) == 0o600
    assert keys.load not in shown and shown.startswith("mlk_")
    store.revoke(keys.victim_id)
    keys.new, _ = store.rotate(keys.old_id, overlap_s=0.0)
    verify_key = load_impl("lab05_security", "solutions").verify_key
    assert key_drill.learner_verdicts(verify_key, store, keys) == key_drill.expected_verdicts(victim_revoked=True)
    assert key_drill.expected_verdicts(victim_revoked=False)["victim"] == 200


def test_lab05_manifests_are_valid_and_name_every_expectation() -> None:
    assert ensure_valid(kube_rbac.lab05_objects()) >= 5
    lines = kube_rbac.expectation_lines()
    assert len(lines) == len(kube_rbac.EXPECTATIONS)
    assert any(line.endswith("denied") for line in lines) and any(line.endswith("allowed") for line in lines)
