"""The attack drill: play the attacker against every control, record attempt / expected / got.

Each attack is a real request: HTTP to the running API (through the router), gRPC to the
real Milvus in a fresh process (TLS cases), a Milvus call as the API's own user, an edit
to a copy of the audit log, a GET on the Milvus metrics port. An attack PASSES (the control
held) when it is refused the way we expect; each attempt also goes to the audit chain as
actor "attacker", so the log shows what was tried.

The metrics port is the one expected FINDING: Milvus serves /metrics (and /debug/pprof/)
without authentication even with RBAC + TLS on. It is reported, not refused; the fix is
network-level (lab 01's NetworkPolicy: only the search API may reach Milvus, on 19530).
"""

from __future__ import annotations

import json
import shutil
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from milvus_lab.security import audit
from milvus_lab.security.workloads import ALIAS, COLLECTION, PROBE, PROBE_ROW

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from milvus_lab.security.tls_checks import Mutual


@dataclass(frozen=True)
class AttackResult:
    """One row of the drill's table."""

    attack: str
    control: str  # the control under test (named when the drill fails)
    expected: str
    got: str
    refused: bool  # the control held (for a finding: it was reported)
    finding: bool = False  # a known gap reported with its fix, not a refusal

    def row(self) -> tuple[str, str, str, str]:
        verdict = "finding" if self.finding else ("refused" if self.refused else "NOT REFUSED")
        return self.attack, self.expected, self.got, verdict


@dataclass(frozen=True)
class ApiTarget:
    """Where the API answers (router URL) and which keys the drill holds."""

    url: str
    search_key: str
    revoked_key: str
    rotated_old_key: str  # the old key after its overlap window ended


def _status(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail") or resp.json().get("error") or ""
    except ValueError:
        detail = resp.text[:80]
    return f"HTTP {resp.status_code} {detail}".strip()


def api_attacks(target: ApiTarget, body: dict[str, object], timeout: float = 10.0,
                verify: ssl.SSLContext | bool = True) -> list[AttackResult]:
    """No key, wrong key, revoked key, admin call with a search key, replay after rotation."""
    wrong = target.search_key[:-4] + ("AAAA" if not target.search_key.endswith("AAAA") else "BBBB")
    cases: list[tuple[str, str, str, dict[str, str], str, int]] = [
        ("no API key", "API keys", "POST", {}, "/search", 401),
        ("wrong API key", "API keys", "POST", {"X-API-Key": wrong}, "/search", 401),
        ("revoked key", "key revocation", "POST", {"X-API-Key": target.revoked_key}, "/search", 401),
        ("admin call with a search key", "key scopes", "GET", {"X-API-Key": target.search_key},
         "/admin/keys", 403),
        ("replay of the old key after rotation", "key rotation", "POST",
         {"X-API-Key": target.rotated_old_key}, "/search", 401),
    ]
    out = []
    with httpx.Client(base_url=target.url, timeout=timeout, verify=verify) as client:
        for name, control, method, headers, path, want in cases:
            resp = client.request(method, path, headers=headers,
                                  json=body if method == "POST" else None)
            out.append(AttackResult(name, control, f"HTTP {want}", _status(resp),
                                    resp.status_code == want))
    return out


def milvus_attempt(name: str, control: str, call: Callable[[], object],
                   expected: str = "PERMISSION_DENIED") -> AttackResult:
    """A forbidden Milvus operation as the API's own user: refused with Milvus's words."""
    from milvus_lab.security.milvus_rbac import (
        expected_refusals,
        is_permission_denied,
        milvus_error,
    )

    try:
        with expected_refusals():
            call()
    except Exception as exc:  # noqa: BLE001 - the refusal is what we want to see
        text = milvus_error(exc)
        return AttackResult(name, control, expected, text, is_permission_denied(text))
    return AttackResult(name, control, expected, "allowed: the call succeeded", False)


def as_the_api_user(api_user: MilvusClient) -> list[AttackResult]:
    """What a stolen search-API password could try in Milvus: each must be PERMISSION_DENIED."""
    control = "milvus least privilege"
    return [
        milvus_attempt("drop the collection as the API's Milvus user", control,
                       lambda: api_user.drop_collection(COLLECTION)),
        milvus_attempt("insert as the API's Milvus user", control, lambda: api_user.insert(ALIAS, [PROBE_ROW])),
        milvus_attempt("search another collection by name", control,
                       lambda: api_user.search(COLLECTION, [PROBE], limit=1)),
    ]


def tls_attacks(mutual: Mutual) -> list[AttackResult]:
    """Plaintext and certificate-less clients against Milvus in mutual TLS (probed already)."""
    return [
        tls_attack("plaintext gRPC to the TLS port", "milvus tls", mutual.plaintext.ok,
                   mutual.plaintext.error, "refused"),
        tls_attack("client without a certificate", "milvus tls", mutual.no_cert.ok,
                   mutual.certless_error, "refused (certificate required)"),
    ]


def tls_attack(name: str, control: str, ok: bool, error: str, expected: str) -> AttackResult:
    """A TLS probe's outcome (from `tls_probe.probe`) as a drill row: refusal wanted."""
    return AttackResult(name, control, expected, error if not ok else "connected", not ok)


def tampered_copy(log: Path, key: bytes, work: Path) -> AttackResult:
    """Edit one line of a COPY of the audit log (the real one stays intact) and verify it."""
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "audit-tampered.jsonl"
    shutil.copy(log, copy)
    head = audit.head_path(log)
    if head.is_file():
        shutil.copy(head, audit.head_path(copy))
    lines = copy.read_text().splitlines()
    victim = next((i for i, line in enumerate(lines) if '"denied"' in line), 0)
    entry = json.loads(lines[victim])
    entry["outcome"] = "allowed"  # hide a failed attempt
    lines[victim] = json.dumps(entry, sort_keys=True)
    copy.write_text("\n".join(lines) + "\n")
    verdict = audit.verify(copy, key)
    got = verdict.summary() if not verdict.ok else "chain verified: the edit went unnoticed"
    return AttackResult("edit an audit line (hide a denial)", "audit chain",
                        f"verify names line {victim + 1}", got,
                        any(p.line == victim + 1 for p in verdict.problems))


def metrics_finding(metrics_url: str, policies: Sequence[object] | None = None,
                    milvus_labels: dict[str, str] | None = None, timeout: float = 5.0) -> AttackResult:
    """GET /metrics on Milvus without credentials (it answers), and whether lab 01's
    NetworkPolicies (by default) keep every pod but the search API (gRPC only) away from that
    port (Milvus's pod labels by default)."""
    from milvus_lab.kube import netpol
    from milvus_lab.kube.manifests import API_NAME, MILVUS_HTTP_PORT, NAME_LABEL, milvus_pod_labels
    from milvus_lab.security.kube_rbac import lab01_network_policies

    policies = lab01_network_policies() if policies is None else policies
    milvus_labels = milvus_pod_labels() if milvus_labels is None else milvus_labels

    try:
        resp = httpx.get(metrics_url, timeout=timeout)
        families = sum(1 for line in resp.text.splitlines() if line.startswith("# TYPE"))
        seen = f"HTTP {resp.status_code} without credentials, {families} metric families"
    except httpx.HTTPError as exc:
        seen = f"unreachable ({type(exc).__name__})"
    attacker = netpol.Source.pod(app="attacker")
    api = netpol.Source.pod(**{NAME_LABEL: API_NAME})
    blocked = not netpol.ingress_allowed(policies, milvus_labels, attacker, MILVUS_HTTP_PORT) \
        and not netpol.ingress_allowed(policies, milvus_labels, api, MILVUS_HTTP_PORT)
    fix = "fixed on kube by NetworkPolicy (other pods blocked from 9091)" if blocked \
        else "NOT covered by the NetworkPolicies"
    return AttackResult("scrape the Milvus metrics port", "network policy",
                        "answers (no auth in Milvus): a finding", f"{seen}; {fix}", blocked,
                        finding=True)


def record(log: audit.AuditLog, results: Sequence[AttackResult]) -> None:
    """Every attempt in the audit chain: who tried what, and whether the control held."""
    for r in results:
        log.append("attacker", f"attack.{r.control.replace(' ', '_')}",
                   "refused" if r.refused else ("reported" if r.finding else "succeeded"),
                   attack=r.attack, got=r.got[:160])


def failed_controls(results: Sequence[AttackResult]) -> list[str]:
    """The controls that did not hold (findings count only if their fix is missing)."""
    return sorted({r.control for r in results if not r.refused})


def table(results: Sequence[AttackResult]) -> list[dict[str, str]]:
    """The report's attempt / expected / got / verdict rows."""
    return [dict(zip(("attempt", "expected", "got", "verdict"), r.row(), strict=True)) for r in results]
