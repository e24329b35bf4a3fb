"""The search API with API keys, HTTPS and the audit chain: a real uvicorn replica on
Milvus Lite, attacked over real sockets."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from milvus_lab import pki
from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.security import apikeys, audit
from milvus_lab.testing.milvus_fixtures import MilvusServer, new_lab_settings, stop_all


@dataclass
class SecureApi:
    url: str
    ca: Path
    store: apikeys.KeyStore
    audit_log: Path
    audit_key: bytes
    search_key: str
    search_id: str
    admin_key: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=str(self.ca)),
                            timeout=10)


@pytest.fixture(scope="module")
def secure_api(tmp_path_factory: pytest.TempPathFactory, milvus_server: MilvusServer,
               small_collection: str, small_dataset: Dataset) -> Iterator[SecureApi]:
    home = tmp_path_factory.mktemp("secure") / "home"
    settings = new_lab_settings(home)
    secrets = settings.state_dir / "secrets"
    tls = pki.service_pki(secrets / "api-tls")
    store = apikeys.KeyStore(secrets / "apikeys.json", secrets / "apikey-pepper")
    search_key, rec = store.create("search-client", ("search",), rate_per_s=5, burst=5)
    admin_key, _ = store.create("ops-admin", ("search", "admin"))
    cfg = ApiConfig(
        slot="blue", version="v1", milvus_uri=milvus_server.uri, collection=small_collection,
        dim=small_dataset.spec.dim, api_keys_file=str(store.path),
        api_key_pepper_file=str(store.pepper_path), audit_log=str(settings.state_dir / "audit.jsonl"),
        audit_key_file=str(secrets / "audit.key"), tls_cert=str(tls.server.cert),
        tls_key=str(tls.server.key),
    )
    (replica,) = replicas.start_replicas(settings, cfg, 1)
    assert replica.url.startswith("https://")
    yield SecureApi(replica.url, tls.ca.cert, store, Path(cfg.audit_log),
                    audit.load_or_create_key(Path(cfg.audit_key_file)), search_key, rec.key_id,
                    admin_key)
    stop_all(settings)


def _body(ds: Dataset) -> dict:
    return {"vector": ds.queries[0].tolist(), "k": 5}


def test_keys_scopes_and_audit(secure_api: SecureApi, small_dataset: Dataset) -> None:
    s = secure_api
    with s.client() as c:
        assert c.post("/search", json=_body(small_dataset)).status_code == 401
        wrong = c.post("/search", json=_body(small_dataset), headers={"X-API-Key": s.search_key[:-2] + "zz"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        ok = c.post("/search", json=_body(small_dataset), headers={"Authorization": f"Bearer {s.search_key}"})
        assert ok.status_code == 200 and len(ok.json()["hits"]) == 5
        assert c.get("/admin/keys", headers={"X-API-Key": s.search_key}).status_code == 403
        listing = c.get("/admin/keys", headers={"X-API-Key": s.admin_key})
        assert listing.status_code == 200
        assert s.search_key not in listing.text and "digest" not in listing.text
        assert c.get("/healthz").status_code == 200  # probes stay open
    verdict = audit.verify(s.audit_log, s.audit_key)
    assert verdict.ok, verdict.summary()
    entries = audit.read_entries(s.audit_log)
    outcomes = [(e["action"], e["outcome"], e["detail"]["status"]) for e in entries]  # type: ignore[index]
    assert outcomes[:4] == [("api.auth", "denied", 401), ("api.auth", "denied", 401),
                            ("api.auth", "denied", 403), ("api.admin", "allowed", 200)]
    text = s.audit_log.read_text()
    assert s.search_key not in text and s.admin_key not in text


def test_rate_limit_then_revocation_reach_the_running_replica(
    secure_api: SecureApi, small_dataset: Dataset
) -> None:
    s = secure_api
    headers = {"X-API-Key": s.search_key}
    with s.client() as c:
        responses = [c.post("/search", json=_body(small_dataset), headers=headers)
                     for _ in range(12)]
        limited = [r for r in responses if r.status_code == 429]
        assert limited, [r.status_code for r in responses]
        assert int(limited[0].headers["retry-after"]) >= 1
        s.store.revoke(s.search_id)
        revoked = c.post("/search", json=_body(small_dataset), headers=headers)
        assert revoked.status_code == 401 and revoked.json()["detail"] == "API key revoked"


def test_plaintext_http_to_the_https_port_fails(secure_api: SecureApi) -> None:
    plain = secure_api.url.replace("https://", "http://")
    try:
        answer: int | None = httpx.get(f"{plain}/healthz", timeout=5).status_code
    except httpx.HTTPError:
        answer = None
    assert answer is None, f"plaintext HTTP to the HTTPS port got an HTTP {answer}"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{secure_api.url}/healthz", timeout=5)  # system CAs do not trust the lab CA


def test_attack_drill_against_the_running_api(secure_api: SecureApi, small_dataset: Dataset,
                                              tmp_path: Path) -> None:
    from milvus_lab.kube.manifests import milvus_pod_labels
    from milvus_lab.security import attacks
    from milvus_lab.security.kube_rbac import lab01_network_policies

    s = secure_api
    key, _ = s.store.create("drill", ("search",))
    gone, gone_rec = s.store.create("gone", ("search",))
    s.store.revoke(gone_rec.key_id)
    old, old_rec = s.store.create("rotating", ("search",))
    s.store.rotate(old_rec.key_id, overlap_s=0)
    # the drill goes over plain HTTP through a router in the lab; here straight to HTTPS
    target = attacks.ApiTarget(s.url, key, gone, old)
    results = attacks.api_attacks(target, _body(small_dataset),
                                  verify=ssl.create_default_context(cafile=str(s.ca)))
    assert [r.got.split()[1] for r in results] == ["401", "401", "401", "403", "401"]
    assert all(r.refused for r in results), [r.row() for r in results]
    assert "API key expired" in results[-1].got and "API key revoked" in results[2].got

    tamper = attacks.tampered_copy(s.audit_log, s.audit_key, tmp_path)
    assert tamper.refused, tamper.got
    assert audit.verify(s.audit_log, s.audit_key).ok  # the real log is untouched

    finding = attacks.metrics_finding(
        f"{s.url.replace('https', 'http')}/nowhere", lab01_network_policies(), milvus_pod_labels(),
        timeout=2)
    assert finding.finding and finding.refused, finding.got  # lab 01's policies close 9091
    assert attacks.failed_controls([*results, tamper, finding]) == []
    broken = attacks.AttackResult("x", "key revocation", "401", "HTTP 200", False)
    assert attacks.failed_controls([*results, broken]) == ["key revocation"]
