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
import sys
import time
from collections.abc import Callable
from dataclasses import asdict

from milvus_lab import labkit, pki
from milvus_lab.app import replicas
from milvus_lab.app.client import search_body
from milvus_lab.errors import PrerequisiteError
from milvus_lab.kube.apply import ensure_valid, to_yaml
from milvus_lab.labkit import Drill, LabRun, LabSpec, lab_main, run_steps
from milvus_lab.milvus import datasets
from milvus_lab.security import (
    attacks,
    audit,
    compliance,
    key_drill,
    kube_rbac,
    lab_engine,
    secret_scan,
    secure_api,
    tls_checks,
    workloads,
)
from milvus_lab.security.lab_files import LabFiles
from milvus_lab.security.milvus_rbac import Grant, Role
from milvus_lab.security.workloads import ALIAS, COLLECTION, INTERN, PIPELINE_USER
from milvus_lab.targets import Capability

WEAKNESSES = ("role-too-broad", "key-after-revocation", "tampered-log")
OVERLAP_S = 3.0  # seconds the old key keeps working after a rotation
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
    lab_engine.refuse_lite(labkit.settings_from_args(args), SPEC.needs, SPEC.command)


# %% the lesson ----------------------------------------------------------------------------
class SecurityLab:
    """Lab 05's steps over one LabRun (one method per step: a notebook cell each); the
    mechanics live in milvus_lab.security."""

    def __init__(self, run: LabRun) -> None:
        self.run, self.weakness = run, run.args.inject_weakness
        self.started = time.monotonic()
        self.files = LabFiles.under(run.settings.state_dir)
        self.log = audit.AuditLog.open(self.files.audit_log, self.files.audit_key)
        self.log.append("lab05", "lab.start", "ok", weakness=self.weakness or "")
        self.s1 = self.s2 = lab_engine.settings_for(run.settings, 1)  # one-way TLS; then mutual (2)
        self.url = run.settings.router_url

    def steps(self) -> list[Callable[[], None]]:
        return [self.milvus_one_way, self.least_privilege, self.mutual_tls, self.api_keys,
                self.cert_rotation, self.attack_drill, self.audit_log, self.kubernetes,
                self.secret_scan, self.finish]

    def milvus_one_way(self) -> None:
        run = self.run
        with run.step("Milvus with authentication and one-way TLS",
                      "The real Milvus 2.3.5 standalone engine with authorizationEnabled and tlsMode 1: "
                      "clients verify the server's certificate (our own CA); every call needs a user.",
                      "common.security.authorizationEnabled=true, common.security.tlsMode=1"):
            if not run.args.keep_running:
                run.on_exit(lambda: lab_engine.stop(self.s2))
            lab_engine.switch_to(self.s1)
            self.ds = datasets.ensure_dataset(run.settings, workloads.DATA)
            with lab_engine.session(self.s1) as admin, run.progress() as progress:  # as root
                status = workloads.prepare_served(admin, self.ds, on_progress=progress)
            run.result(True, f"{COLLECTION}: {status.rows:,} rows, {'reused' if status.reused else 'built'}; "
                             f"alias {ALIAS} → {COLLECTION}")
            self.one_way = tls_checks.one_way(self.s1)
            run.result(not self.one_way.plaintext.ok, f"plaintext client refused: {self.one_way.plaintext.error[:90]}")
            run.result(self.one_way.with_ca.ok, "one-way TLS client (trusts our CA) connected")
            run.section["tls_one_way"] = self.one_way.section()

    def least_privilege(self) -> None:
        run = self.run
        with run.step("Least privilege in Milvus",
                      "The search API's role may only Search and Query the served collection through "
                      "its alias; the pipeline may only Insert into its staging collection; only root "
                      "grants. Each forbidden call must be refused with Milvus's own error (grants "
                      "apply after ~1 s: we poll).",
                      "client.create_role / grant_privilege(role, 'Collection', 'Search', alias)"):
            role = run.impl.search_api_role(ALIAS)  # your exercise
            if self.weakness == "role-too-broad":
                role = Role(role.name, (*role.grants, Grant("Collection", "*", "Insert")))
            with lab_engine.session(self.s1) as admin:
                tokens = workloads.create_users(admin, role, self.files.milvus_token)
                with lab_engine.session(self.s1, tokens.api) as api, \
                        lab_engine.session(self.s1, tokens.pipeline) as pipeline:
                    workloads.wait_until_api_may_search(api)
                    tried = workloads.attempts(api, pipeline)
                # a password rotated (the old one must stop working), a user who left removed
                lifecycle = workloads.password_lifecycle(admin, self.s1, tokens.pipeline)
            for t in tried:
                run.result(t.as_expected, workloads.describe(t))
            workloads.record(self.log, tried)
            verdict = workloads.judge(role, tried)
            run.verify("milvus least privilege", verdict.held, observed=verdict.observed,
                       required="allowed calls succeed, forbidden ones PERMISSION_DENIED, no extra grant",
                       hint="grant the API role only Search and Query on the alias (solutions/lab05_security.py)")
            run.section["milvus_attempts"] = [asdict(t) for t in tried]
            run.section["search_api_role"] = [str(g) for g in role.grants]
            for ok, line in lifecycle:
                run.result(ok, line)
            self.log.append("root", "milvus.update_password", "ok", user=PIPELINE_USER)
            self.log.append("root", "milvus.drop_user", "ok", user=INTERN)

    def mutual_tls(self) -> None:
        run = self.run
        with run.step("Mutual TLS",
                      "tlsMode 2: the server also demands a client certificate signed by our CA. A "
                      "client without one is refused (each attempt in a fresh process: pymilvus reuses "
                      "the first secure channel of a process).",
                      "common.security.tlsMode=2; MilvusClient(..., client_pem_path, client_key_path, ca_pem_path)"):
            self.s2 = lab_engine.settings_for(run.settings, 2)
            lab_engine.switch_to(self.s2)
            with lab_engine.session(self.s2) as admin:  # a stop releases collections (a fast, clean stop)
                admin.load_collection(COLLECTION)
            self.mutual = m = tls_checks.mutual(self.s2)
            run.result(not m.no_cert.ok, f"client without a certificate refused ({m.certless_error})"[:140])
            run.result(not m.plaintext.ok, "plaintext client refused")
            run.result(m.with_cert.ok, "client with our certificate connected")
            verdict = tls_checks.judge(self.one_way, m)
            run.verify("milvus tls", verdict.held, observed=verdict.observed,
                       required="only clients with our CA (and, in mode 2, our client cert) connect",
                       hint="check tls.caPemPath and that the client passes ca/client pem paths")
            run.section["tls_mutual"] = m.section()

    def api_keys(self) -> None:
        run, log = self.run, self.log
        with run.step("API keys for the search API, served over HTTPS",
                      "Keys are 256 random bits, shown once, stored as HMAC-SHA256 with a server-side "
                      "pepper (not argon2id: a slow hash protects low-entropy passwords; for random keys it "
                      "only costs ~1 s per request here). Scoped, rotated with an overlap, revoked, rate "
                      "limited per key; the API reaches Milvus over mutual TLS as its least-privileged user.",
                      "curl -H 'Authorization: Bearer mlk_…' https://127.0.0.1:PORT/search"):
            store = key_drill.open_store(self.files.secrets)
            self.keys = k = key_drill.issue(store)
            for name, key in (("load-users", k.load), ("ops", k.admin)):
                path, shown = key_drill.save_once(self.files.keys, name, key)
                run.result(True, f"key {name}: {shown} (shown once: saved to {path}, 0600)")
            log.append("lab05", "key.create", "ok", owners=key_drill.OWNERS)
            self.api_tls = pki.service_pki(self.files.api_tls)
            self.cfg = secure_api.api_config(self.s2, self.files, store, self.api_tls)
            run.on_exit(lambda: secure_api.stop(run.settings))
            self.router = secure_api.serve(run.settings, self.cfg, ca=self.api_tls.ca.cert)
            with key_drill.KeyedSearch(self.url, search_body(self.ds.queries[0], 5)) as search:
                ok = search.response(k.load)
                run.result(ok.status_code == 200 and bool(ok.json().get("hits")),
                           f"search with a key through the router, API over HTTPS: HTTP {ok.status_code}")
                run.verify("api keys", ok.status_code == 200, observed=f"HTTP {ok.status_code}",
                           required="200 with a valid key", hint="read the replica log in .milvus-lab/logs")
                codes = key_drill.until_rate_limited(search, k.slow)
                run.verify("rate limit", 429 in codes and codes[0] == 200, observed=str(codes),
                           required="first 200, then 429 once the key's bucket is empty",
                           hint="rate_per_s/burst on the key record (buckets are per replica)")
                if self.weakness != "key-after-revocation":  # the weakness "forgets" to revoke
                    store.revoke(k.victim_id)
                log.append("ops", "key.revoke", "ok", key_id=k.victim_id)
                after = search.status(k.victim)
                run.verify("key revocation", after == 401, observed=f"HTTP {after}",
                           required="401 right after revocation (replicas reload the store)",
                           hint="revoke writes revoked_at; the verifier reloads the store on change")
                rotation = key_drill.rotate(store, k, search, overlap_s=OVERLAP_S)
                log.append("ops", "key.rotate", "ok", old=k.old_id, new=rotation.new_id)
                run.verify("key rotation", rotation.during_overlap == [200, 200] and rotation.replay_after == 401,
                           observed=f"during the overlap {rotation.during_overlap}, the old key after it "
                                    f"HTTP {rotation.replay_after}",
                           required="both keys work during the overlap; the old one is refused after",
                           hint="rotate sets expires_at on the old record")
            mine = key_drill.learner_verdicts(run.impl.verify_key, store, k)  # your exercise
            agrees = mine == key_drill.expected_verdicts(victim_revoked=self.weakness != "key-after-revocation")
            run.result(agrees, f"your verify_key agrees with the API: {mine}")
            run.section["api_keys"] = {"rate_limit_codes": codes, "verify_key_agrees": agrees}

    def cert_rotation(self) -> None:
        run, args = self.run, self.run.args
        with run.step("Certificate rotation without downtime",
                      "New replicas start with a new certificate from the same CA, the router switches "
                      "to them, the old ones stop. Locust (every user carrying its key) runs throughout.",
                      "locust -f loadtests/secure_search.py --host ROUTER; kubectl rollout restart"):
            run.result(True, "expiry: " + secure_api.expiry_line(self.api_tls))
            load = secure_api.keyed_load(run.settings, self.url, args.users, self.files.keys / "load-users.key")
            run.on_exit(load.stop)
            load.wait_for_traffic(seconds=args.rotation_load_s / 3)
            new_pair, green = secure_api.start_green(run.settings, self.cfg, self.api_tls)
            load.mark("switch to the new certificate")
            secure_api.route_all(self.router, "green", green)
            # drain: requests the router sent to blue just before the switch finish first
            load.wait_for_answers(time.time() + 1)
            replicas.stop_replicas(run.settings, "blue")
            self.log.append("lab05", "tls.rotate", "ok", serial=str(new_pair.certificate().serial_number))
            load.wait_for_traffic(seconds=args.rotation_load_s * 2 / 3)
            load.stop()
            result, new_served = load.result(), secure_api.serves(green[0].port, new_pair)
            run.result(new_served, "the replicas now serve the new certificate")
            run.verify("cert rotation without downtime",
                       result.failures == 0 and result.requests > 50 and new_served,
                       observed=f"{result.requests} requests, {result.failures} failures",
                       required="0 failures, > 50 requests, the new certificate served",
                       hint="start the new replicas and wait for /readyz before switching the router")
            run.section["cert_rotation"] = {"requests": result.requests, "failures": result.failures,
                                            "p95_ms": result.p95_ms}

    def attack_drill(self) -> None:
        run, k = self.run, self.keys
        with run.step("Attack drill",
                      "Play the attacker at every door; each attempt must be refused (and is logged). "
                      "The Milvus metrics port is a known finding: no auth in Milvus, fixed by network policy.",
                      "curl -H 'X-API-Key: wrong' …; python -m milvus_lab.security.tls_probe …"):
            results = attacks.api_attacks(attacks.ApiTarget(self.url, k.load, k.victim, k.old),
                                          search_body(self.ds.queries[0], 5))
            with lab_engine.session(self.s2, self.files.milvus_token.read_text().strip()) as api_user:
                results += attacks.as_the_api_user(api_user)
            results += [
                *attacks.tls_attacks(self.mutual),
                attacks.tampered_copy(self.log.path, self.log.key, run.settings.path("audit", "drill")),
                attacks.metrics_finding(f"http://127.0.0.1:{self.s2.standalone_metrics_port}/metrics"),
            ]
            attacks.record(self.log, results)
            for r in results:
                run.result(r.refused, f"{r.attack}: expected {r.expected}; got {r.got}"[:160])
            failed = attacks.failed_controls(results)
            run.verify("attacks refused", not failed,
                       observed=f"{sum(r.refused for r in results)}/{len(results)} held",
                       required="every attack refused; the metrics finding covered by NetworkPolicy",
                       hint=f"controls that did not hold: {', '.join(failed) or 'none'}")
            run.section["attacks"] = attacks.table(results)

    def audit_log(self) -> None:
        run, log = self.run, self.log
        with run.step("Audit log: who did what, and has anyone edited it?",
                      "Every auth failure, admin action, key change and attack is a JSON line whose HMAC "
                      "covers the previous line's: an edit, a deletion or a swap breaks the chain there.",
                      "python -c 'from milvus_lab.security import audit; print(audit.verify(...))'"):
            if self.weakness == "tampered-log":  # an insider rewrites who did something
                audit.tamper(log.path, line=2, actor="nobody")
            verdict = audit.verify(log.path, log.key)
            mine = run.impl.first_broken_line(log.path.read_text().splitlines(), log.key)  # your exercise
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
            objs = kube_rbac.lab05_objects()
            count, out = ensure_valid(objs), run.settings.path("kube", "05-security.yaml")
            out.write_text(to_yaml(objs))
            run.result(True, f"{count} objects valid against the Kubernetes schema -> {out}")
            run.artifact(out, "lab 05 Kubernetes manifests (RBAC, restricted namespace, Secret as files)")
            run.section["kube_expectations"] = kube_rbac.expectation_lines()

    def secret_scan(self) -> None:
        run = self.run
        with run.step("Secret scan of the repository",
                      "detect-secrets over every tracked file against the committed, audited "
                      ".secrets.baseline: only a NEW secret fails (CI runs the same as a test).",
                      "detect-secrets-hook --baseline .secrets.baseline $(git ls-files)"):
            if run.args.skip_secret_scan:
                run.verify("no unbaselined secrets", None, observed="skipped (--skip-secret-scan)",
                           hint="tests/test_secret_scan.py runs it in CI")
                return
            scan = secret_scan.scan(run.settings.repo_root)
            run.result(scan.ok, f"{scan.files} files scanned, {len(scan.new)} new findings")
            run.verify("no unbaselined secrets", scan.ok, observed=f"{len(scan.new)} new",
                       required="0 new findings", hint=secret_scan.UPDATE_COMMAND)

    def finish(self) -> None:
        self.run.section.update(compliance=compliance.CONTROLS, engine_cannot_show=compliance.CANNOT_SHOW,
                                wall_time_s=round(time.monotonic() - self.started, 1))


def lesson(run: LabRun) -> None:
    run_steps(run, SecurityLab(run).steps())


def plan(run: LabRun) -> None:
    """Say what would start and validate the Kubernetes objects; start nothing."""
    port = lab_engine.settings_for(run.settings, 1).standalone_port
    run.info(f"would start Milvus 2.3.5 standalone on 127.0.0.1:{port} with auth, TLS mode 1 then 2; "
             "create roles and users; 2+2 HTTPS API replicas with API keys behind the router; Locust "
             "through a certificate rotation; the attack drill; verify the audit chain; a secret scan")
    count = ensure_valid([kube_rbac.restricted_namespace(), *kube_rbac.rbac_objects()])
    run.result(True, f"{count} Kubernetes objects (namespace, ServiceAccounts, Roles) valid")


def cleanup(run: LabRun) -> None:
    """Stop what the lab started (replicas, router, the standalone engine); data and keys stay."""
    secure_api.stop(run.settings)
    lab_engine.stop(lab_engine.settings_for(run.settings, 2))


def main(argv: list[str] | None = None) -> int:
    return lab_main(SPEC, lesson, argv=argv, add_arguments=add_arguments,
                    check_arguments=check_arguments, plan=plan, cleanup=cleanup)


# %% [markdown]
# ## Run it
# From a shell: `python step05_production/05_security_auth.py [flags]`. In Jupyter the cells
# below run the lesson one step at a time with the default flags.

# %%
run = labkit.notebook_run(SPEC, add_arguments, argv=list(ENGINE))  # None outside Jupyter
lab = SecurityLab(run) if run else None


def cell(step: Callable[[SecurityLab], None]) -> None:
    """One lesson step in this notebook cell (nothing outside Jupyter, nothing once the run stopped)."""
    if lab and not run.stopped:
        step(lab)


# %%
cell(SecurityLab.milvus_one_way)

# %%
cell(SecurityLab.least_privilege)

# %%
cell(SecurityLab.mutual_tls)

# %%
cell(SecurityLab.api_keys)

# %%
cell(SecurityLab.cert_rotation)

# %%
cell(SecurityLab.attack_drill)

# %%
cell(SecurityLab.audit_log)

# %%
cell(SecurityLab.kubernetes)

# %%
cell(SecurityLab.secret_scan)

# %%
if run:
    lab.finish()
    labkit.notebook_finish(run)
elif __name__ == "__main__":
    sys.exit(main())
