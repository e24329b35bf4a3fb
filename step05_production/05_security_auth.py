# %% [markdown]
# # Lab 05: security and authentication, attacked for real
#
# Milvus RBAC with least privilege, TLS one-way then mutual, API keys for the search API
# (hashed, scoped, rotated, revoked, rate limited), a tamper-evident audit log, Kubernetes
# least privilege and Pod Security, a secret scan; then an attack drill that tries every
# door and expects each one shut. Targets: local (the lab starts the real Milvus 2.3.5
# standalone engine with authentication and TLS), compose, kube. About 3 minutes.

# %%
from __future__ import annotations

import argparse
import json
import secrets
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from cryptography import x509

from milvus_lab import pki
from milvus_lab.app import replicas
from milvus_lab.app.client import search_body
from milvus_lab.app.config import ApiConfig
from milvus_lab.bluegreen.ops import wait_for_answers
from milvus_lab.errors import PrerequisiteError
from milvus_lab.kube.apply import ensure_valid, to_yaml
from milvus_lab.kube.manifests import milvus_pod_labels
from milvus_lab.labkit import (
    Drill,
    LabRun,
    LabSpec,
    lab_main,
    notebook_finish,
    notebook_run,
    run_steps,
    settings_from_args,
)
from milvus_lab.load import locustfile, start_locust
from milvus_lab.milvus import collections, datasets
from milvus_lab.milvus.client import connect
from milvus_lab.pki import write_private
from milvus_lab.router.client import RouterClient, ensure_router, stop_router
from milvus_lab.router.table import RoutingTable
from milvus_lab.security import (
    apikeys,
    attacks,
    audit,
    kube_rbac,
    milvus_rbac,
    secret_scan,
    tls_probe,
)
from milvus_lab.security.milvus_rbac import Attempt, Grant, Role
from milvus_lab.settings import Settings
from milvus_lab.targets import Capability

if TYPE_CHECKING:
    from pymilvus import MilvusClient

WEAKNESSES = ("role-too-broad", "key-after-revocation", "tampered-log")
SPEC_DATA = datasets.DatasetSpec(name="lab05-products", version="v1", n=3_000, dim=32,
                                 n_queries=50, k=10)
COLLECTION, ALIAS = "lab05_products_v1", "lab05_products"
STAGING = "lab05_products_staging"  # where the data pipeline writes (the served data is never touched)
API_USER, PIPELINE_USER, INTERN = "lab05_search_api", "lab05_pipeline", "lab05_intern"
OVERLAP_S = 3.0  # seconds the old key keeps working after a rotation
PROBE = [1.0] + [0.0] * (SPEC_DATA.dim - 1)  # a query vector for permission probes
PROBE_ID = 10**9  # the row the pipeline's allowed insert writes into STAGING
# a complete products row: a refused insert must be refused by RBAC, not by pymilvus's schema check
PROBE_ROW = {"id": PROBE_ID, "vector": PROBE, "category": "x", "price": 1.0, "title": "t", "release": "v1"}
ENGINE = ("--milvus", "standalone")  # the local target's engine with auth + TLS (drills pass it)
QUICK = ("--rotation-load-s", "6", "--skip-secret-scan")  # weakness drills: the failing control is the point

SPEC = LabSpec(
    number="05", slug="security_auth",
    title="Security and authentication, attacked for real",
    learn=(
        "Milvus RBAC: a least-privileged role per workload, Milvus's own refusals",
        "TLS one-way then mutual; certificate rotation with no failed request",
        "API keys: shown once, peppered HMAC, scoped, rotated, revoked, rate limited",
        "a hash-chained audit log that names the edited line",
        "Kubernetes ServiceAccounts, Roles, Pod Security restricted; a secret scan",
    ),
    targets=("local", "compose", "kube"), minutes=3,
    needs=frozenset({Capability.MILVUS_AUTH, Capability.MILVUS_TLS}),
    exercise="lab05_security",
    drills=(
        Drill("plain", ENGINE, exit_code=0, passes=(
            "milvus least privilege", "milvus tls", "api keys", "key revocation", "key rotation",
            "rate limit", "cert rotation without downtime", "attacks refused", "audit chain intact",
            "no unbaselined secrets",
        )),
        Drill("role-too-broad", (*ENGINE, *QUICK, "--inject-weakness", "role-too-broad"), exit_code=1,
              fails=("milvus least privilege",)),
        Drill("key-after-revocation", (*ENGINE, *QUICK, "--inject-weakness", "key-after-revocation"),
              exit_code=1, fails=("key revocation", "attacks refused")),
        Drill("tampered-log", (*ENGINE, *QUICK, "--inject-weakness", "tampered-log"), exit_code=1,
              fails=("audit chain intact",)),
        Drill("lite-lacks-auth", ("--milvus", "lite"), exit_code=2),  # Milvus Lite has no auth/TLS
    ),
)


#: Which checklist item each control satisfies (the report's compliance section).
COMPLIANCE = {
    "milvus least privilege": "SOC 2 CC6.3, ISO 27001 A.5.15/A.8.2, PCI DSS 7.2 (least privilege)",
    "milvus tls": "SOC 2 CC6.7, ISO 27001 A.8.24, PCI DSS 4.2 (encryption in transit)",
    "api keys": "SOC 2 CC6.1, ISO 27001 A.5.17, PCI DSS 8.3 (authentication, secrets hashed)",
    "key revocation": "SOC 2 CC6.2, ISO 27001 A.5.18 (access removal)",
    "key rotation": "PCI DSS 3.7/8.3.9, ISO 27001 A.5.17 (credential rotation)",
    "rate limit": "OWASP API4:2023 (unrestricted resource consumption)",
    "cert rotation without downtime": "ISO 27001 A.8.24 (key management), SOC 2 A1.2 (availability)",
    "audit chain intact": "SOC 2 CC7.2, ISO 27001 A.8.15, PCI DSS 10.3 (audit log integrity)",
    "attacks refused": "SOC 2 CC4.1, ISO 27001 A.8.29 (security testing)",
    "no unbaselined secrets": "SOC 2 CC8.1, ISO 27001 A.8.4/A.8.28 (no secrets in source)",  # pragma: allowlist secret
    "kubernetes least privilege": "CIS Kubernetes 5.1.x (RBAC), 5.2.x (Pod Security Standards)",
}
CANNOT_SHOW = (
    "Milvus 2.3.5 (the standalone engine) has no privilege groups and no grant_privilege_v2 "
    "(Milvus 2.4+/2.5+): grants here are one privilege at a time; GetLoadState is checked as "
    "PrivilegeLoad, so the least-privileged API proves readiness with a 1-row search; the "
    "metrics port has no authentication in any Milvus version (network policy is the fix); "
    "KWOK pods in the test control plane never run, so Secret files are proven in the pod "
    "spec, not read by a running process."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--inject-weakness", choices=WEAKNESSES, default=None,
                        help="break one control on purpose: the lab must fail naming it")
    parser.add_argument("--users", type=int, default=8, help="Locust users during the rotation")
    parser.add_argument("--rotation-load-s", type=float, default=16.0,
                        help="seconds of load around the certificate rotation")
    parser.add_argument("--skip-secret-scan", action="store_true",
                        help="skip the repository secret scan (CI runs it as a test anyway)")


def check_arguments(args: argparse.Namespace) -> None:
    if args.users < 1 or args.rotation_load_s < 6:
        raise PrerequisiteError(
            f"--users {args.users} / --rotation-load-s {args.rotation_load_s} too small",
            fix="use --users >= 1 and --rotation-load-s >= 6 (the rotation needs traffic around it)")
    settings = settings_from_args(args)
    if settings.target == "local" and settings.milvus != "standalone":
        # said before anything starts, and never a silent engine switch: the learner picks it
        lacking = ", ".join(c.value for c in sorted(SPEC.needs, key=lambda c: c.value))
        raise PrerequisiteError(
            f"Milvus Lite (the local target's default engine) lacks {lacking}",
            fix=f"{SPEC.command} --milvus standalone   (the real Milvus 2.3.5 on 127.0.0.1; "
                "or MILVUS_LAB_MILVUS=standalone, or --target compose)")


# %% helpers ------------------------------------------------------------------------------
def _engine():  # noqa: ANN202 - the standalone module
    """The standalone engine (real Milvus 2.3.5), imported when the lesson runs, not at import."""
    from milvus_lab.milvus import standalone

    return standalone


def _engine_settings(run: LabRun, tls_mode: int) -> Settings:
    """The target's settings with the standalone engine, authentication on, TLS `tls_mode`."""
    return run.target.settings.with_(milvus="standalone", standalone_auth=True,
                                     standalone_tls=tls_mode)


def _switch_engine(settings: Settings) -> None:
    """Start our standalone Milvus with these auth/TLS settings (restart ours if it runs otherwise)."""
    standalone = _engine()
    running = standalone.status(settings)
    if running.state != "stopped" and (running.tls, running.auth) != (settings.standalone_tls,
                                                                      settings.standalone_auth):
        standalone.stop_standalone(settings)
    standalone.ensure_standalone(settings)


def _show_key(run: LabRun, secrets_dir: Path, name: str, key: str) -> Path:
    """A new key goes to a 0600 file, ONCE; the screen shows its id only."""
    path = write_private(secrets_dir / "keys" / f"{name}.key", key.encode())
    parsed = apikeys.parse(key)
    run.result(True, f"key {name}: mlk_{parsed[0] if parsed else '?'}_… (shown once: saved to {path}, 0600)")
    return path


def _milvus_attempts(api: MilvusClient, pipeline: MilvusClient) -> list[Attempt]:
    """Each workload's allowed calls and the forbidden ones, made for real as that user."""
    probe = [PROBE]
    row = [PROBE_ROW]
    a = milvus_rbac.attempt
    return [
        a(API_USER, f"search {ALIAS} (alias)", True, lambda: api.search(ALIAS, probe, limit=1)),
        a(API_USER, f"query {ALIAS} (alias)", True, lambda: api.query(ALIAS, filter="id >= 0", limit=1)),
        a(API_USER, f"search {COLLECTION} (real name)", False, lambda: api.search(COLLECTION, probe, limit=1)),
        a(API_USER, f"insert into {ALIAS}", False, lambda: api.insert(ALIAS, row)),
        a(API_USER, f"drop {COLLECTION}", False, lambda: api.drop_collection(COLLECTION)),
        a(API_USER, "create a user", False, lambda: api.create_user("x_evil", "Evil-pass-123")),
        a(PIPELINE_USER, f"insert into {STAGING}", True, lambda: pipeline.insert(STAGING, row)),
        a(PIPELINE_USER, f"insert into {COLLECTION} (served)", False, lambda: pipeline.insert(COLLECTION, row)),
        a(PIPELINE_USER, f"search {ALIAS}", False, lambda: pipeline.search(ALIAS, probe, limit=1)),
    ]


# %% the lesson ----------------------------------------------------------------------------
class SecurityLab:
    """Lab 05's steps over one LabRun (one method per step: a notebook cell each)."""

    def __init__(self, run: LabRun) -> None:
        self.run = run
        self.args = run.args
        self.weakness: str | None = run.args.inject_weakness
        self.started = time.monotonic()
        self.secrets_dir = run.settings.state_dir / "secrets" / "lab05"
        self.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log = audit.AuditLog.open(run.settings.state_dir / "audit" / "lab05.jsonl",
                                       self.secrets_dir / "audit.key")
        self.log.append("lab05", "lab.start", "ok", weakness=self.weakness or "")
        # filled in by the steps
        self.s1 = self.s2 = _engine_settings(run, 1)
        self.plain1: tls_probe.ProbeResult | None = None
        self.one_way: tls_probe.ProbeResult | None = None
        self.mutual: dict[str, tls_probe.ProbeResult] = {}
        self.token_file = self.secrets_dir / "milvus-search-api.token"
        self.ds: datasets.Dataset | None = None
        self.keys: dict[str, str] = {}
        self.load_key_file = self.secrets_dir / "keys" / "load-users.key"
        self.api_tls: pki.ServicePki | None = None
        self.cfg: ApiConfig | None = None
        self.router: RouterClient | None = None
        self.url = run.settings.router_url

    def steps(self) -> list[Callable[[], None]]:
        return [self.milvus_one_way, self.least_privilege, self.mutual_tls, self.api_keys,
                self.cert_rotation, self.attack_drill, self.audit_log, self.kubernetes,
                self.secret_scan, self.finish]

    def _admin(self, settings: Settings) -> MilvusClient:
        standalone = _engine()
        return connect(standalone.uri(settings), token=standalone.root_token(settings),
                       tls=standalone.client_tls(settings))

    def milvus_one_way(self) -> None:
        run, standalone = self.run, _engine()
        with run.step("Milvus with authentication and one-way TLS",
                      "The real Milvus 2.3.5 standalone engine with authorizationEnabled and tlsMode 1: "
                      "clients verify the server's certificate (our own CA); every call needs a user.",
                      "common.security.authorizationEnabled=true, common.security.tlsMode=1"):
            if not self.args.keep_running:
                run.on_exit(lambda: standalone.stop_standalone(self.s2))
            _switch_engine(self.s1)
            tls1 = standalone.client_tls(self.s1)
            admin = self._admin(self.s1)
            try:
                self.ds = datasets.ensure_dataset(run.settings, SPEC_DATA)
                with run.progress() as progress:
                    status = collections.ensure_collection(admin, COLLECTION, self.ds, collections.IndexSpec.hnsw(),
                                                           on_progress=progress)
                run.result(True, f"{COLLECTION}: {status.rows:,} rows, {'reused' if status.reused else 'built'}")
                if not admin.has_collection(STAGING):  # the pipeline's landing table (quick setup)
                    admin.create_collection(STAGING, dimension=SPEC_DATA.dim)
                collections.point_alias(admin, ALIAS, COLLECTION)
                run.result(True, f"alias {ALIAS} → {COLLECTION}")
            finally:
                milvus_rbac.close_quietly(admin)
            uri, root = standalone.uri(self.s1), standalone.root_token(self.s1)
            self.plain1 = tls_probe.probe(uri, root)
            run.result(not self.plain1.ok, f"plaintext client refused: {self.plain1.error[:90]}")
            self.one_way = tls_probe.probe(uri, root, ca=Path(tls1.ca_pem_path), server_name=tls1.server_name)
            run.result(self.one_way.ok, "one-way TLS client (trusts our CA) connected")
            run.section["tls_one_way"] = {"plaintext_refused": not self.plain1.ok,
                                          "plaintext_error": self.plain1.error, "ca_client_ok": self.one_way.ok}

    def least_privilege(self) -> None:
        run, standalone, log = self.run, _engine(), self.log
        with run.step("Least privilege in Milvus",
                      "The search API's role may only Search and Query the served collection through "
                      "its alias; the pipeline may only Insert into its staging collection; only root "
                      "grants. Each forbidden call must be refused with Milvus's own error (grants "
                      "apply after ~1 s: we poll).",
                      "client.create_role / grant_privilege(role, 'Collection', 'Search', alias)"):
            role = run.impl.search_api_role(ALIAS)
            if self.weakness == "role-too-broad":
                role = Role(role.name, (*role.grants, Grant("Collection", "*", "Insert")))
            uri, tls1 = standalone.uri(self.s1), standalone.client_tls(self.s1)
            admin = self._admin(self.s1)
            milvus_rbac.ensure_role(admin, role)
            milvus_rbac.ensure_role(admin, milvus_rbac.pipeline_role(STAGING))
            api_password, pipe_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
            milvus_rbac.ensure_user(admin, API_USER, api_password, [role.name])
            milvus_rbac.ensure_user(admin, PIPELINE_USER, pipe_password, ["lab05_pipeline"])
            write_private(self.token_file, f"{API_USER}:{api_password}".encode())
            api = connect(uri, token=f"{API_USER}:{api_password}", tls=tls1)
            pipeline = connect(uri, token=f"{PIPELINE_USER}:{pipe_password}", tls=tls1)
            milvus_rbac.wait_for_privilege(
                lambda: milvus_rbac.attempt(API_USER, "search", True,
                                            lambda: api.search(ALIAS, [PROBE], limit=1)),
                want_allowed=True)
            tried = _milvus_attempts(api, pipeline)
            for t in tried:
                run.result(t.as_expected, f"{t.user}: {t.operation}: "
                                          f"{'allowed' if t.allowed else 'refused: ' + t.error}"[:150])
                log.append(t.user, f"milvus.{t.operation.split()[0]}", "allowed" if t.allowed else "denied",
                           operation=t.operation)
            extra = milvus_rbac.too_broad(role, [Grant("Collection", ALIAS, p) for p in ("Search", "Query")])
            denied_right = all(milvus_rbac.is_permission_denied(t.error) for t in tried if not t.allowed)
            run.verify("milvus least privilege", all(t.as_expected for t in tried) and denied_right and not extra,
                       observed=f"{sum(t.as_expected for t in tried)}/{len(tried)} calls as expected"
                                + (f"; too broad: {', '.join(map(str, extra))}" if extra else ""),
                       required="allowed calls succeed, forbidden ones PERMISSION_DENIED, no extra grant",
                       hint="grant the API role only Search and Query on the alias (solutions/lab05_security.py)")
            run.section["milvus_attempts"] = [asdict(t) for t in tried]
            run.section["search_api_role"] = [str(g) for g in role.grants]

            new_password = secrets.token_urlsafe(18)
            admin.update_password(PIPELINE_USER, pipe_password, new_password)
            old = milvus_rbac.attempt(PIPELINE_USER, "login with the old password", False,
                                      lambda: _list_as(uri, f"{PIPELINE_USER}:{pipe_password}", tls1))
            run.result(not old.allowed and milvus_rbac.is_auth_failure(old.error),
                       f"password rotated: the old one is refused ({old.error[:70]})")
            milvus_rbac.ensure_user(admin, INTERN, secrets.token_urlsafe(18), [])
            milvus_rbac.drop_user(admin, INTERN)
            run.result(INTERN not in admin.list_users(), f"user {INTERN} removed")
            log.append("root", "milvus.update_password", "ok", user=PIPELINE_USER)
            log.append("root", "milvus.drop_user", "ok", user=INTERN)
            for c in (api, pipeline, admin):
                milvus_rbac.close_quietly(c)

    def mutual_tls(self) -> None:
        run, standalone = self.run, _engine()
        with run.step("Mutual TLS",
                      "tlsMode 2: the server also demands a client certificate signed by our CA. A "
                      "client without one is refused (each attempt in a fresh process: pymilvus reuses "
                      "the first secure channel of a process).",
                      "common.security.tlsMode=2; MilvusClient(..., client_pem_path, client_key_path, ca_pem_path)"):
            self.s2 = _engine_settings(run, 2)
            _switch_engine(self.s2)
            admin = self._admin(self.s2)  # a stop releases collections (a fast, clean stop): load again
            try:
                admin.load_collection(COLLECTION)
            finally:
                milvus_rbac.close_quietly(admin)
            tls2 = standalone.client_tls(self.s2)
            uri, root, ca = standalone.uri(self.s2), standalone.root_token(self.s2), Path(tls2.ca_pem_path)
            m = self.mutual
            m["no_cert"] = tls_probe.probe(uri, root, ca=ca, server_name=tls2.server_name)
            m["with_cert"] = tls_probe.probe(uri, root, ca=ca, cert=Path(tls2.client_pem_path),
                                             key=Path(tls2.client_key_path), server_name=tls2.server_name)
            m["plain"] = tls_probe.probe(uri, root)
            m["reason"] = tls_probe.handshake("127.0.0.1", self.s2.standalone_port, ca,
                                              server_name=tls2.server_name)
            run.result(not m["no_cert"].ok, f"client without a certificate refused "
                                            f"({m['reason'].error or m['no_cert'].error})"[:140])
            run.result(not m["plain"].ok, "plaintext client refused")
            run.result(m["with_cert"].ok, "client with our certificate connected")
            assert self.plain1 is not None and self.one_way is not None
            held = (not self.plain1.ok and self.one_way.ok and not m["no_cert"].ok and not m["plain"].ok
                    and m["with_cert"].ok)
            run.verify("milvus tls", held,
                       observed=f"plaintext refused {not self.plain1.ok and not m['plain'].ok}, one-way ok "
                                f"{self.one_way.ok}, cert-less refused {not m['no_cert'].ok}, mutual ok "
                                f"{m['with_cert'].ok}",
                       required="only clients with our CA (and, in mode 2, our client cert) connect",
                       hint="check tls.caPemPath and that the client passes ca/client pem paths")
            run.section["tls_mutual"] = {"certless_refused": not m["no_cert"].ok, "reason": m["reason"].error,
                                         "plaintext_refused": not m["plain"].ok,
                                         "client_cert_ok": m["with_cert"].ok}

    def api_keys(self) -> None:
        run, standalone, log, weakness = self.run, _engine(), self.log, self.weakness
        with run.step("API keys for the search API, served over HTTPS",
                      "Keys are 256 random bits, shown once, stored as HMAC-SHA256 with a server-side "
                      "pepper (not argon2id: a slow hash protects low-entropy passwords; for random keys it "
                      "only costs ~1 s per request here). Scoped, rotated with an overlap, revoked, rate "
                      "limited per key; the API reaches Milvus over mutual TLS as its least-privileged user.",
                      "curl -H 'Authorization: Bearer mlk_…' https://127.0.0.1:PORT/search"):
            store = apikeys.KeyStore(self.secrets_dir / "apikeys.json", self.secrets_dir / "apikey-pepper")
            k = self.keys
            k["load"], _ = store.create("load-users", ("search",), rate_per_s=1000, burst=2000)
            k["admin"], _ = store.create("ops", ("search", "admin"))
            k["slow"], _ = store.create("greedy-client", ("search",), rate_per_s=0.2, burst=2)
            k["victim"], victim = store.create("leaked-laptop", ("search",))
            k["old"], old_rec = store.create("rotating-client", ("search",))
            self.load_key_file = _show_key(run, self.secrets_dir, "load-users", k["load"])
            _show_key(run, self.secrets_dir, "ops", k["admin"])
            log.append("lab05", "key.create", "ok",
                       owners="load-users,ops,greedy-client,leaked-laptop,rotating-client")
            self.api_tls = pki.service_pki(self.secrets_dir / "api-tls")
            tls2 = standalone.client_tls(self.s2)
            self.cfg = ApiConfig(
                slot="blue", version="v1", milvus_uri=standalone.uri(self.s2), collection=ALIAS,
                dim=SPEC_DATA.dim, milvus_token_file=str(self.token_file), milvus_tls=tls2.to_json(),
                api_keys_file=str(store.path),
                api_key_pepper_file=str(store.pepper_path), audit_log=str(self.log.path),
                audit_key_file=str(self.secrets_dir / "audit.key"), tls_cert=str(self.api_tls.server.cert),
                tls_key=str(self.api_tls.server.key),
            )
            run.on_exit(lambda: replicas.stop_replicas(run.settings))
            blue = replicas.start_replicas(run.settings, self.cfg, 2)
            run.on_exit(lambda: stop_router(run.settings))
            self.router = ensure_router(run.settings, ca_file=self.api_tls.ca.cert)
            self.router.put(RoutingTable({"blue": tuple(r.url for r in blue)}, {"blue": 100}))
            assert self.ds is not None
            body = search_body(self.ds.queries[0], 5)
            with httpx.Client(base_url=self.url, timeout=10) as http:
                def post(key: str) -> int:
                    return http.post("/search", json=body, headers={"X-API-Key": key}).status_code

                ok = http.post("/search", json=body, headers={"X-API-Key": k["load"]})
                run.result(ok.status_code == 200 and bool(ok.json().get("hits")),
                           f"search with a key through the router, API over HTTPS: HTTP {ok.status_code}")
                run.verify("api keys", ok.status_code == 200, observed=f"HTTP {ok.status_code}",
                           required="200 with a valid key", hint="read the replica log in .milvus-lab/logs")
                # each replica keeps its own bucket (burst 2 + 0.2/s): 2 replicas allow 4 + 0.4/s,
                # so 20 quick requests must meet a 429 however slow the machine is
                codes: list[int] = []
                while len(codes) < 20 and 429 not in codes:
                    codes.append(post(k["slow"]))
                run.verify("rate limit", 429 in codes and codes[0] == 200, observed=str(codes),
                           required="first 200, then 429 once the key's bucket is empty",
                           hint="rate_per_s/burst on the key record (buckets are per replica)")
                # revocation (the injected weakness "forgets" to revoke: the key keeps working)
                if weakness != "key-after-revocation":
                    store.revoke(victim.key_id)
                log.append("ops", "key.revoke", "ok", key_id=victim.key_id)
                after = post(k["victim"])
                run.verify("key revocation", after == 401, observed=f"HTTP {after}",
                           required="401 right after revocation (replicas reload the store)",
                           hint="revoke writes revoked_at; the verifier reloads the store on change")
                # rotation with an overlap window
                k["new"], new_rec = store.rotate(old_rec.key_id, overlap_s=OVERLAP_S)
                log.append("ops", "key.rotate", "ok", old=old_rec.key_id, new=new_rec.key_id)
                both = [post(k["old"]), post(k["new"])]
                ends = store.records()[old_rec.key_id].expires_at or time.time()
                time.sleep(max(0.0, ends - time.time()) + 0.2)  # the window is the lesson, not a wait for state
                replay = post(k["old"])
                run.verify("key rotation", both == [200, 200] and replay == 401,
                           observed=f"during the overlap {both}, the old key after it HTTP {replay}",
                           required="both keys work during the overlap; the old one is refused after",
                           hint="rotate sets expires_at on the old record")
            # the learner's verifier judges the same keys the API judged
            records, now = store.records(), time.time()
            mine = {name: run.impl.verify_key(records, store.pepper, k.get(name), "search", now)[0]
                    for name in ("load", "victim", "old", "new", "none")}
            want = {"load": 200, "victim": 200 if weakness == "key-after-revocation" else 401,
                    "old": 401, "new": 200, "none": 401}
            run.result(mine == want, f"your verify_key agrees with the API: {mine}")
            run.section["api_keys"] = {"rate_limit_codes": codes, "verify_key_agrees": mine == want}

    def cert_rotation(self) -> None:
        run, args = self.run, self.args
        assert self.api_tls is not None and self.cfg is not None
        with run.step("Certificate rotation without downtime",
                      "New replicas start with a new certificate from the same CA, the router switches "
                      "to them, the old ones stop. Locust (every user carrying its key) runs throughout.",
                      "locust -f loadtests/secure_search.py --host ROUTER; kubectl rollout restart"):
            expiring = pki.check_expiry([self.api_tls.server.cert, self.api_tls.ca.cert], within_days=365)
            run.result(True, "expiry: " + ", ".join(f"{e.subject} {e.days_left:.0f} d" for e in expiring))
            load = start_locust(
                locustfile("secure_search"), self.url, users=args.users, spawn_rate=args.users,
                run_time_s=None, out_dir=run.settings.path("load", "05"),
                env={"MILVUS_LAB_DATASET_DIR": str(datasets.dataset_dir(run.settings, SPEC_DATA.name)),
                     "MILVUS_LAB_API_KEY_FILE": str(self.load_key_file), "MILVUS_LAB_USER_RPS": "4"},
            )
            run.on_exit(load.stop)
            load.wait_for_traffic(seconds=args.rotation_load_s / 3)
            new_pair = pki.rotate_server(self.api_tls, generation=int(time.time()))
            green_cfg = replace(self.cfg, slot="green", tls_cert=str(new_pair.cert), tls_key=str(new_pair.key))
            green = replicas.start_replicas(run.settings, green_cfg, 2)
            load.mark("switch to the new certificate")
            assert self.router is not None
            self.router.put(RoutingTable({"green": tuple(r.url for r in green)}, {"green": 100}))
            # drain: requests the router sent to blue just before the switch finish first
            wait_for_answers(load, time.time() + 1)
            replicas.stop_replicas(run.settings, "blue")
            self.log.append("lab05", "tls.rotate", "ok", serial=str(new_pair.certificate().serial_number))
            load.wait_for_traffic(seconds=args.rotation_load_s * 2 / 3)
            load.stop()
            result = load.result()
            served = ssl.get_server_certificate(("127.0.0.1", green[0].port))
            new_served = (x509.load_pem_x509_certificate(served.encode()).serial_number
                          == new_pair.certificate().serial_number)
            run.result(new_served, "the replicas now serve the new certificate")
            run.verify("cert rotation without downtime",
                       result.failures == 0 and result.requests > 50 and new_served,
                       observed=f"{result.requests} requests, {result.failures} failures",
                       required="0 failures, > 50 requests, the new certificate served",
                       hint="start the new replicas and wait for /readyz before switching the router")
            run.section["cert_rotation"] = {"requests": result.requests, "failures": result.failures,
                                            "p95_ms": result.p95_ms}

    def attack_drill(self) -> None:
        run, standalone, log, k = self.run, _engine(), self.log, self.keys
        assert self.ds is not None
        with run.step("Attack drill",
                      "Play the attacker at every door; each attempt must be refused (and is logged). "
                      "The Milvus metrics port is a known finding: no auth in Milvus, fixed by network policy.",
                      "curl -H 'X-API-Key: wrong' …; python -m milvus_lab.security.tls_probe …"):
            target = attacks.ApiTarget(self.url, k["load"], k["victim"], k["old"])
            results = attacks.api_attacks(target, search_body(self.ds.queries[0], 5))
            api_user = connect(standalone.uri(self.s2), token=self.token_file.read_text().strip(),
                               tls=standalone.client_tls(self.s2))
            m = self.mutual
            results += [
                attacks.milvus_attempt("drop the collection as the API's Milvus user", "milvus least privilege",
                                       lambda: api_user.drop_collection(COLLECTION)),
                attacks.milvus_attempt("insert as the API's Milvus user", "milvus least privilege",
                                       lambda: api_user.insert(ALIAS, [PROBE_ROW])),
                attacks.milvus_attempt("search another collection by name", "milvus least privilege",
                                       lambda: api_user.search(COLLECTION, [PROBE], limit=1)),
                attacks.tls_attack("plaintext gRPC to the TLS port", "milvus tls", m["plain"].ok,
                                   m["plain"].error, "refused"),
                attacks.tls_attack("client without a certificate", "milvus tls", m["no_cert"].ok,
                                   m["reason"].error or m["no_cert"].error, "refused (certificate required)"),
                attacks.tampered_copy(log.path, log.key, run.settings.path("audit", "drill")),
                attacks.metrics_finding(f"http://127.0.0.1:{self.s2.standalone_metrics_port}/metrics",
                                        kube_rbac.lab01_network_policies(), milvus_pod_labels()),
            ]
            milvus_rbac.close_quietly(api_user)
            attacks.record(log, results)
            for r in results:
                run.result(r.refused, f"{r.attack}: expected {r.expected}; got {r.got}"[:160])
            failed = attacks.failed_controls(results)
            run.verify("attacks refused", not failed,
                       observed=f"{sum(r.refused for r in results)}/{len(results)} held",
                       required="every attack refused; the metrics finding covered by NetworkPolicy",
                       hint=f"controls that did not hold: {', '.join(failed) or 'none'}")
            run.section["attacks"] = [dict(zip(("attempt", "expected", "got", "verdict"), r.row(), strict=True))
                                      for r in results]

    def audit_log(self) -> None:
        run, log = self.run, self.log
        with run.step("Audit log: who did what, and has anyone edited it?",
                      "Every auth failure, admin action, key change and attack is a JSON line whose HMAC "
                      "covers the previous line's: an edit, a deletion or a swap breaks the chain there.",
                      "python -c 'from milvus_lab.security import audit; print(audit.verify(...))'"):
            if self.weakness == "tampered-log":  # an insider rewrites who did something
                lines = log.path.read_text().splitlines()
                entry = json.loads(lines[1])
                entry["actor"] = "nobody"
                lines[1] = json.dumps(entry, sort_keys=True)
                log.path.write_text("\n".join(lines) + "\n")
            verdict = audit.verify(log.path, log.key)
            mine = run.impl.first_broken_line(log.path.read_text().splitlines(), log.key)
            run.result(verdict.ok, verdict.summary()[:150])
            run.result((mine is None) == verdict.ok, f"your first_broken_line says {mine}")
            run.verify("audit chain intact", verdict.ok, observed=verdict.summary()[:200],
                       required="every line's MAC and prev chain verify",
                       hint="someone edited the log: restore it from a copy and investigate the named line")
            run.section["who_did_what"] = audit.who_did_what(audit.read_entries(log.path))
            run.artifact(log.path, "the audit log (JSON lines, HMAC chain)")

    def kubernetes(self) -> None:
        run = self.run
        with run.step("Kubernetes: ServiceAccounts, Roles, Pod Security restricted, Secrets as files",
                      "One ServiceAccount per workload; the search API gets no Role and no token at all; "
                      "the namespace enforces `restricted`. Proven with SubjectAccessReview on a real API "
                      "server by tests/kube/test_security_kube_rbac.py; here: built and schema-validated.",
                      "kubectl auth can-i patch services/search-api --as=system:serviceaccount:NS:release-switcher"):
            objs = [kube_rbac.restricted_namespace(), *kube_rbac.rbac_objects(),
                    kube_rbac.credentials_secret({"token": "<from secrets>"}),
                    kube_rbac.secure_search_api("milvus-lab/search-api:0.1.0"),
                    *kube_rbac.lab01_network_policies()]
            count = ensure_valid(objs)
            out = run.settings.path("kube", "05-security.yaml")
            out.write_text(to_yaml(objs))
            run.result(True, f"{count} objects valid against the Kubernetes schema -> {out}")
            run.artifact(out, "lab 05 Kubernetes manifests (RBAC, restricted namespace, Secret as files)")
            run.section["kube_expectations"] = [f"{w} {v} {r}/{n or '*'}: {'allowed' if e else 'denied'}"
                                                for w, v, _g, r, n, e in kube_rbac.EXPECTATIONS]

    def secret_scan(self) -> None:
        run = self.run
        with run.step("Secret scan of the repository",
                      "detect-secrets over every tracked file against the committed, audited "
                      ".secrets.baseline: only a NEW secret fails (CI runs the same as a test).",
                      "detect-secrets-hook --baseline .secrets.baseline $(git ls-files)"):
            if self.args.skip_secret_scan:
                run.verify("no unbaselined secrets", None, observed="skipped (--skip-secret-scan)",
                           hint="tests/test_secret_scan.py runs it in CI")
                return
            scan = secret_scan.scan(run.settings.repo_root)
            run.result(scan.ok, f"{scan.files} files scanned, {len(scan.new)} new findings")
            run.verify("no unbaselined secrets", scan.ok, observed=f"{len(scan.new)} new",
                       required="0 new findings", hint=secret_scan.UPDATE_COMMAND)

    def finish(self) -> None:
        section = self.run.section
        section["compliance"] = COMPLIANCE
        section["engine_cannot_show"] = CANNOT_SHOW
        section["wall_time_s"] = round(time.monotonic() - self.started, 1)


def _list_as(uri: str, token: str, tls: object) -> object:
    """Log in as `token` and list collections (a fresh client: the login is what is tested)."""
    client = connect(uri, token=token, tls=tls)
    try:
        return client.list_collections()
    finally:
        milvus_rbac.close_quietly(client)


def lesson(run: LabRun) -> None:
    run_steps(run, SecurityLab(run).steps())


def plan(run: LabRun) -> None:
    """Say what would start and validate the Kubernetes objects; start nothing."""
    port = _engine_settings(run, 1).standalone_port
    run.info(f"would start Milvus 2.3.5 standalone on 127.0.0.1:{port} with auth, TLS mode 1 then 2; "
             "create roles and users; 2+2 HTTPS API replicas with API keys behind the router; Locust "
             "through a certificate rotation; the attack drill; verify the audit chain; a secret scan")
    count = ensure_valid([kube_rbac.restricted_namespace(), *kube_rbac.rbac_objects()])
    run.result(True, f"{count} Kubernetes objects (namespace, ServiceAccounts, Roles) valid")


def cleanup(run: LabRun) -> None:
    """Stop what the lab started (replicas, router, the standalone engine); data and keys stay."""
    replicas.stop_replicas(run.settings)
    stop_router(run.settings)
    _engine().stop_standalone(_engine_settings(run, 2))


def main(argv: list[str] | None = None) -> int:
    return lab_main(SPEC, lesson, argv=argv, add_arguments=add_arguments,
                    check_arguments=check_arguments, plan=plan, cleanup=cleanup)


# %% [markdown]
# ## Run it
# From a shell: `python step05_production/05_security_auth.py [flags]`. In Jupyter the cells
# below run the lesson one step at a time with the default flags.

# %%
run = notebook_run(SPEC, add_arguments, argv=list(ENGINE))  # None outside Jupyter
lab = SecurityLab(run) if run else None

# %%
if lab:
    lab.milvus_one_way()

# %%
if lab and not run.stopped:
    lab.least_privilege()

# %%
if lab and not run.stopped:
    lab.mutual_tls()

# %%
if lab and not run.stopped:
    lab.api_keys()

# %%
if lab and not run.stopped:
    lab.cert_rotation()

# %%
if lab and not run.stopped:
    lab.attack_drill()

# %%
if lab and not run.stopped:
    lab.audit_log()

# %%
if lab and not run.stopped:
    lab.kubernetes()

# %%
if lab and not run.stopped:
    lab.secret_scan()

# %%
if run:
    lab.finish()
    notebook_finish(run)
elif __name__ == "__main__":
    sys.exit(main())
