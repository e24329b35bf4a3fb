# %% [markdown]
# # Lab 01: Milvus and a search API on Kubernetes
#
# What it takes to run Milvus in production on Kubernetes, object by object: a namespace
# with Pod Security labels, a quota and default limits, Milvus standalone as a
# StatefulSet with a PersistentVolumeClaim, the search API as a Deployment behind a
# Service, probes, an HPA, a PodDisruptionBudget and NetworkPolicies. Every object is
# validated against the Kubernetes schema before anything is changed.
#
# - Targets: `local` (default: the same concepts with Milvus Lite, API replicas and the
#   local router, Python only) and `kube` (kind: `kind create cluster --config kind-config.yaml`).
# - Time: ~2 minutes on `local`; ~5-10 minutes on kind (image pulls).
# - Exercise: `labs/lab01_kubernetes.py` (probes, HPA, PDB, NetworkPolicies), run it with
#   `--impl labs` and check it with `pytest checks/test_lab01_kubernetes.py`.
#
# ```
# python step05_production/01_kubernetes_deployment.py                  # local
# python step05_production/01_kubernetes_deployment.py --dry-run        # no cluster needed
# python step05_production/01_kubernetes_deployment.py --target kube    # kind-milvus-lab
# python step05_production/01_kubernetes_deployment.py --target kube --cleanup
# ```

# %%
from __future__ import annotations

import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from milvus_lab.errors import PrerequisiteError, VerificationFailed
from milvus_lab.kube import apply, cleanup, context, helm, images, storage, verify
from milvus_lab.kube import local as local_kube
from milvus_lab.kube import manifests as m
from milvus_lab.kube.scale import kubectl_scale_command, scale_and_wait
from milvus_lab.kube.selector import endpoints
from milvus_lab.kube.wait import wait_for_rollout
from milvus_lab.labkit import (
    default_report_path,
    lab_parser,
    load_impl,
    run_lab,
    settings_from_args,
)
from milvus_lab.report import Narrator, console, settings_table, summary_table, write_json_report
from milvus_lab.settings import Settings, find_repo_root

LAB = "01"
REPO = find_repo_root()  # the checkout: Dockerfile, deploy/, labs/, solutions/
SCRIPT = "01_kubernetes_deployment.py"  # (no __file__ in a notebook)
CLEANUP = "python step05_production/01_kubernetes_deployment.py --cleanup [--target kube]"
SCALE_STEPS = (3, 2)


def parse_args(argv: list[str] | None = None) -> Any:
    parser = lab_parser("Lab 01: Milvus and a search API on Kubernetes")
    parser.add_argument("--installer", choices=("manifests", "helm"), default="manifests",
                        help="kube: install Milvus from our manifests (default) or the official Helm chart")
    parser.add_argument("--inject-invalid", action="store_true",
                        help="add two deliberately broken objects to see what validation catches")
    parser.add_argument("--rebuild-image", action="store_true", help="kube on kind: docker build even if present")
    parser.add_argument("--keep-running", action="store_true",
                        help="local: leave Milvus, the replicas and the router running at the end")
    return parser.parse_args(argv)


@dataclass
class Outcome:
    """What the summary, the JSON report and the checks read."""

    target: str = ""
    manifests: list[str] = field(default_factory=list)
    applied: dict[str, str] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    scale: list[dict[str, Any]] = field(default_factory=list)
    balance: dict[str, int] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)

    def record(self, story: Narrator, checks: list[verify.Check]) -> None:
        """Print checks under the current step and keep them (skipped ones say why)."""
        for c in checks:
            self.checks.append(c.__dict__)
            if c.ok is None:
                story.warn(f"skipped: {c.name}: {c.detail}")
            else:
                story.result(c.ok, f"{c.name}: {c.detail}" + (f"   [dim]$ {c.kubectl}[/]" if c.kubectl and not c.ok else ""))


# %% [markdown]
# ## Step 1: every object, rendered and validated before anything changes
# The manifests come from Python builders over the `kubernetes` client models
# (`milvus_lab.kube.manifests`), one source of truth. They are written to
# `.milvus-lab/manifests/01/` for reading (Secrets redacted) and checked against the
# Kubernetes OpenAPI schema in strict mode: a misspelt field is an error, not silently dropped.


# %%
def api_secret(settings: Settings) -> dict[str, str]:
    """A generated API key, kept in `.milvus-lab/secrets/` (0600) so re-runs reuse it."""
    path = settings.path("secrets", "01-search-api.env")
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"MILVUS_LAB_API_KEY={secrets.token_urlsafe(24)}\n")
    key, _, value = path.read_text().strip().partition("=")
    return {key: value}


def broken_objects(namespace: str) -> list[dict[str, Any]]:
    """Two mistakes people make: a misspelt field and an API version Kubernetes removed."""
    dep = apply.to_dict(m.search_api_deployment("broken", namespace=namespace))
    dep["metadata"]["name"] = "search-api-broken"
    dep["spec"]["replica"] = dep["spec"].pop("replicas")
    hpa = apply.to_dict(m.horizontal_pod_autoscaler("search-api-broken", namespace))
    hpa["apiVersion"] = "autoscaling/v2beta2"
    return [dep, hpa]


def render(args: Any, settings: Settings, impl: Any, story: Narrator, out: Outcome) -> list[Any]:
    opts = m.StackOptions(namespace=settings.namespace, milvus=args.installer == "manifests")
    with story.step("Render the manifests",
                    "Python builders produce typed objects; each carries the labels "
                    "app.kubernetes.io/part-of, app.kubernetes.io/managed-by and milvus-lab/lab=01, "
                    "which is how cleanup finds them.",
                    "ls .milvus-lab/manifests/01/"):
        objs = m.stack(opts, api_secret(settings), impl.builders())
        if args.inject_invalid:
            objs += broken_objects(opts.namespace)
            story.warn("--inject-invalid: added 2 broken objects")
        folder = settings.path("manifests", LAB, "all.yaml").parent
        for old in folder.glob("*.yaml"):
            old.unlink()
        for i, obj in enumerate(objs, 1):
            r = apply.ref(obj)
            path = folder / f"{i:02d}-{r.kind.lower()}-{r.name}.yaml"
            path.write_text(apply.to_yaml([obj]))
            out.manifests.append(str(path))
        story.result(True, f"{len(objs)} objects written to {folder}")
    return objs


def validate(objs: list[Any], story: Narrator, kube_version: str) -> None:
    with story.step("Validate against the Kubernetes schema (offline)",
                    f"Every object is checked against the OpenAPI schema of Kubernetes {kube_version} "
                    "(kubernetes-validate, strict). No cluster is needed, so this runs in CI and on "
                    "a plane.",
                    f"kubernetes-validate --strict -k {kube_version} .milvus-lab/manifests/01/*.yaml"):
        count = apply.ensure_valid(objs, kube_version)
        story.result(True, f"{count} objects valid")


# %% [markdown]
# ## Target `kube`: apply, wait, verify, scale
# Server-side apply (field manager `milvus-lab`) makes re-runs idempotent; each wait
# stops early on CrashLoopBackOff or ImagePullBackOff with the pod's reason.


# %%
def connect(settings: Settings, story: Narrator) -> Any:
    with story.step("Connect to the cluster",
                    "The lab changes a kind-* context freely; any other context only when you name it "
                    "with --context.",
                    "kubectl config current-context && kubectl cluster-info"):
        conn = context.connect(settings.kube_context)
        sc = storage.default_storage_class(conn)
        story.result(True, f"context {conn.context} ({conn.server}), Kubernetes {conn.server_version()}, "
                           f"{'kind: pods really run' if conn.is_kind else 'not kind: pods do not run here'}")
        story.info(f"default StorageClass: {sc or 'none (the lab will pre-create a static PersistentVolume)'}")
    return conn


def by_kind(objs: list[Any], *kinds: str, exclude: bool = False) -> list[Any]:
    return [o for o in objs if (apply.ref(o).kind in kinds) != exclude]


def apply_step(conn: Any, objs: list[Any], story: Narrator, out: Outcome) -> None:
    for r in apply.apply_objects(conn, objs):
        out.applied[str(r.ref)] = r.action
        story.result(True, f"{r.ref}: {r.action}")
        for w in r.warnings:
            story.warn(f"API server warning: {w}")


def run_kube(args: Any, settings: Settings, objs: list[Any], story: Narrator, out: Outcome) -> None:
    if args.installer == "helm":
        helm.require_helm()  # before anything changes
    conn = connect(settings, story)
    ns = settings.namespace
    foundation = objs[:3]  # Namespace, ResourceQuota, LimitRange
    milvus = [o for o in objs[3:]
              if (apply.to_dict(o)["metadata"].get("labels") or {}).get(m.NAME_LABEL) == m.MILVUS_NAME]
    api = [o for o in objs[3:] if o not in milvus]

    with story.step("Search API image into kind",
                    "kind nodes have their own image store: a locally built image must be loaded. "
                    "The Deployment uses imagePullPolicy IfNotPresent, so it is never pulled.",
                    f"docker build -t {m.API_IMAGE} . && kind load docker-image {m.API_IMAGE} --name {context.KIND_CLUSTER}"):
        if conn.is_kind:
            for cmd in images.ensure_image_in_kind(m.API_IMAGE, REPO, rebuild=args.rebuild_image):
                story.result(True, cmd)
        else:
            story.warn("not kind: these nodes never pull or run images (KWOK); skipped")

    with story.step("Namespace, quota and default limits",
                    "Pod Security: enforce baseline, warn and audit restricted. The ResourceQuota caps "
                    "what the namespace may request; the LimitRange fills in limits a container forgot.",
                    apply.kubectl_apply_command(".milvus-lab/manifests/01/0[1-3]-*.yaml")):
        apply_step(conn, foundation, story, out)

    with story.step("Milvus standalone",
                    "A StatefulSet (embedded etcd, local storage) with a PVC, probes on :9091/healthz, "
                    "a ClusterIP Service for pods and a NodePort Service for your laptop."
                    if args.installer == "manifests" else
                    f"The official chart {helm.CHART} {helm.CHART_VERSION} with deploy/helm/milvus-values.yaml.",
                    apply.kubectl_apply_command(".milvus-lab/manifests/01/*milvus*.yaml")
                    if args.installer == "manifests" else
                    " ".join(helm.install_commands(ns, helm.VALUES, conn.context)[-1])):
        if args.installer == "helm":
            helm.install(ns, REPO / helm.VALUES, conn.context)
            story.result(True, f"helm release {helm.RELEASE} deployed")
            apply_step(conn, milvus, story, out)
        else:
            pvs = storage.static_volumes(conn, m.StackOptions(namespace=ns))
            if pvs:
                story.info("no default StorageClass: static hostPath PersistentVolume, pre-bound to the claim")
            apply_step(conn, [*pvs, *milvus], story, out)
            state = wait_for_rollout(conn, "StatefulSet", m.MILVUS_NAME, ns, timeout=900)
            story.result(True, state.line)

    load_vectors(conn, settings, story)

    with story.step("Search API: Deployment, Service, HPA, PDB, NetworkPolicies",
                    "2 replicas with readiness (/readyz) and liveness (/healthz) probes, a restricted "
                    "securityContext and requests/limits; the Service selects slot=blue.",
                    apply.kubectl_apply_command(".milvus-lab/manifests/01/") + f"\nkubectl rollout status deployment/search-api-blue -n {ns}"):
        apply_step(conn, api, story, out)
        state = wait_for_rollout(conn, "Deployment", "search-api-blue", ns, timeout=300)
        story.result(True, state.line)

    with story.step("Verify",
                    "Read everything back from the API server: service discovery by DNS, the Service's "
                    "endpoints, HPA, PDB, NetworkPolicies (present, and what they allow).",
                    f"kubectl get svc,endpointslices,hpa,pdb,networkpolicy -n {ns}"):
        checks = [*verify.service_discovery_checks(conn, ns),
                  verify.api_endpoint_check(conn, ns, m.API_NAME, "blue", 2),
                  verify.hpa_check(conn, ns, "search-api-blue"),
                  verify.pdb_check(conn, ns, "search-api-blue", 2),
                  *verify.network_policy_checks(conn, ns, [apply.ref(o).name for o in by_kind(objs, "NetworkPolicy")])]
        checks.append(load_balancing(conn, ns))
        out.record(story, checks)

    with story.step("Scale 2 -> 3 -> 2, watched",
                    "kubectl scale writes the scale subresource, as the HPA does. Each step waits until "
                    "exactly N pods are ready and the Service lists exactly those N.",
                    "\n".join(kubectl_scale_command("Deployment", "search-api-blue", ns, n) for n in SCALE_STEPS)):
        for n in SCALE_STEPS:
            t0 = time.monotonic()
            previous, state = scale_and_wait(conn, "Deployment", "search-api-blue", ns, n)
            check = verify.api_endpoint_check(conn, ns, m.API_NAME, "blue", n)
            out.scale.append({"from": previous, "to": n, "seconds": round(time.monotonic() - t0, 2),
                              "endpoints": check.detail})
            out.record(story, [verify.Check(f"scaled {previous} -> {n}", state.done,
                                            f"{state.line} in {time.monotonic() - t0:.1f}s"), check])


def load_vectors(conn: Any, settings: Settings, story: Narrator) -> None:
    """The API is ready only when its collection is loaded: put the v1 catalogue in Milvus."""
    from milvus_lab.bluegreen.catalog import ALIAS, V1

    with story.step("Load vectors into Milvus",
                    "From your laptop through the NodePort (127.0.0.1:19530, kind's port mapping): the "
                    f"{V1.dataset.n:,}-row catalogue, an index, and the alias '{ALIAS}' the API searches.",
                    f"MilvusClient('http://127.0.0.1:{m.HOST_PORTS[m.NODE_PORTS.milvus_grpc]}')"
                    f".create_collection('{V1.collection}', ...)"):
        if not conn.is_kind:
            story.warn("needs kind: Milvus does not run on KWOK nodes; skipped")
            return
        from milvus_lab.environment import milvus_client
        from milvus_lab.milvus import collections, datasets

        client = milvus_client(f"http://127.0.0.1:{m.HOST_PORTS[m.NODE_PORTS.milvus_grpc]}")
        try:
            ds = datasets.ensure_dataset(settings, V1.dataset)
            status = collections.ensure_collection(client, V1.collection, ds, V1.index)
            collections.point_alias(client, ALIAS, V1.collection)
        finally:
            client.close()
        story.result(True, f"{V1.collection}: {status.rows:,} rows, alias {ALIAS}")


def load_balancing(conn: Any, ns: str) -> verify.Check:
    """On kind: searches through the NodePort reach every pod (each on a new connection)."""
    if not conn.is_kind:
        return verify.Check("requests through the NodePort reach every API pod", None,
                            "needs kind (pods must really run); run with a kind cluster")
    from milvus_lab.bluegreen.catalog import V1
    from milvus_lab.milvus import datasets

    pods = [e.pod for e in endpoints(conn, ns, m.API_NAME) if e.ready]
    query = datasets.generate(V1.dataset).queries[0].tolist()
    url = f"http://127.0.0.1:{m.HOST_PORTS[m.NODE_PORTS.search_api]}"
    before = {p: verify.pod_served_searches(conn, ns, p) for p in pods}
    failures = verify.send_searches(url, 20 * len(pods), {"vector": query, "k": 5})
    counts = {p: verify.pod_served_searches(conn, ns, p) - before[p] for p in pods}
    return verify.load_balancing_check(counts, failures, pods)


def cleanup_kube(settings: Settings, story: Narrator) -> int:
    with story.step("Clean up by label",
                    "Everything labelled milvus-lab/lab=01 is deleted, never anything by name; the "
                    "namespace goes when no other lab still uses it.",
                    cleanup.kubectl_cleanup_command(LAB)):
        conn = context.connect(settings.kube_context)
        if helm.release_exists(settings.namespace, conn.context):
            pvcs = helm.uninstall(conn, settings.namespace)
            story.result(True, f"helm release {helm.RELEASE} uninstalled, {pvcs} PVCs deleted")
        result = cleanup.cleanup(conn, LAB)
        for kind, n in sorted(result.counts().items()):
            story.result(True, f"{kind}: {n} deleted")
        for ns, why in result.kept_namespaces.items():
            story.info(f"namespace {ns} kept: {why}")
        story.result(True, f"done in {result.seconds:.1f}s")
    return 0


# %% [markdown]
# ## Target `local`: the same concepts, Python only
# Replicas are uvicorn processes, the router plays the Service, `/readyz` gates a replica
# into the pool like a readiness probe, and scaling removes a replica from the pool
# before stopping it: zero failed requests under load.


# %%
def run_local(args: Any, settings: Settings, impl: Any, objs: list[Any], story: Narrator, out: Outcome) -> None:
    from milvus_lab.bluegreen.catalog import V1
    from milvus_lab.environment import ensure_baseline
    from milvus_lab.load import live_panel, locustfile, start_locust
    from milvus_lab.milvus import datasets
    from milvus_lab.targets.local import LocalTarget

    target = LocalTarget(settings)
    story.info("Milvus Lite has no auth/RBAC/TLS; lab 05 covers those on compose/kube.")
    try:
        with story.step("Milvus and 2 API replicas behind the router",
                        "Milvus Lite plays the StatefulSet, two uvicorn processes the Deployment's pods, the "
                        "router the Service. A replica joins the pool only after /readyz answers 200.",
                        apply.kubectl_apply_command(".milvus-lab/manifests/01/")):
            base = ensure_baseline(target, V1)
            story.result(True, f"Milvus {base.milvus_uri}; collection {base.collection.name}: "
                               f"{base.collection.rows:,} rows")
            story.result(True, f"slot {V1.slot} x{len(base.backends)} behind {target.live_url()}")
        cfg = V1.api_config(target.api_milvus_uri())
        router = target.router
        query = base.dataset.queries[0].tolist()

        with story.step("Service discovery",
                        "Clients use one stable address (the router, like a Service's DNS name); the "
                        "router's pool for the slot is the EndpointSlice: only ready replicas.",
                        f"kubectl get endpointslices -n {settings.namespace} -l kubernetes.io/service-name=search-api"):
            pool = local_kube.replica_procs.list_replicas(settings, V1.slot)
            table = router.table()
            listed = set(table.pools.get(V1.slot, ()))
            checks = [verify.Check(f"{r.name} ({r.url}) ready and in the pool",
                                   local_kube.replica_procs.ready(r.url) and r.url in listed, f"pid {r.pid}")
                      for r in pool]
            out.record(story, checks)

        with story.step("Load balancing",
                        "60 searches through the router; each replica's own /metrics counter says how many "
                        "it served (a per-pod scrape).",
                        f"for i in $(seq 60); do curl -s -XPOST {target.live_url()}/search -d @query.json; done"):
            bal = local_kube.balance_through_router(target.live_url(), pool, {"vector": query, "k": 5})
            out.balance = bal.counts
            out.record(story, [verify.Check(
                "requests reach every replica", bal.failures == 0 and all(v > 0 for v in bal.counts.values()),
                ", ".join(f"{k}: {v}" for k, v in bal.counts.items()) + f"; failed {bal.failures}")])

        with story.step("Scale 2 -> 3 -> 2 under light load",
                        "Locust keeps searching the whole time. Up: start, wait for /readyz, add to the pool. "
                        "Down: remove from the pool, then stop gracefully. Any failed request fails the lab.",
                        "\n".join(kubectl_scale_command("Deployment", "search-api-blue", settings.namespace, n)
                                  for n in SCALE_STEPS)):
            run_dir = settings.path("load", LAB, "locust.log").parent
            load = start_locust(
                locustfile("search_api"), target.live_url(), users=4, spawn_rate=4, run_time_s=None,
                out_dir=run_dir,
                env={"MILVUS_LAB_DATASET_DIR": str(datasets.dataset_dir(settings, V1.dataset.name)),
                     "MILVUS_LAB_EXPECT_VERSIONS": V1.version, "MILVUS_LAB_USER_RPS": "3"},
            )
            try:
                with live_panel(load, title="light load"):
                    time.sleep(2)  # a little steady traffic before the first change
                    for n in SCALE_STEPS:
                        out.scale.append(scale_local_step(settings, router, cfg, n, load))
            finally:
                load.stop()
            console.print()
            result = load.result()
            out.load = {k: v for k, v in result.summary().items() if k != "history"}
            checks = [verify.Check(f"scaled {s['from']} -> {s['to']} in {s['seconds']}s",
                                   len(s["served"]) == s["to"] and all(v > 0 for v in s["served"].values()),
                                   "served while held: " + ", ".join(f"{k}: {v}" for k, v in s["served"].items()))
                      for s in out.scale]
            checks.append(verify.Check("0 failed requests while scaling", result.failures == 0 and result.requests > 0,
                                       f"{result.requests} requests, {result.failures} failed, p95 {result.p95_ms} ms"))
            out.record(story, checks)

        with story.step("What the HPA, PDB and NetworkPolicies promise",
                        "No local equivalent enforces them, so the lab proves their intent: who may reach "
                        "whom, which pods the PDB protects, what the HPA scales.",
                        "kubectl get hpa,pdb,networkpolicy -n milvus-lab -o yaml"):
            out.record(story, intent_checks(objs))
    finally:
        if not args.keep_running:
            target.teardown()


def scale_local_step(settings: Settings, router: Any, cfg: Any, n: int, load: Any, hold_s: float = 3.0) -> dict[str, Any]:
    """Scale the slot to n, then hold under load and count what each replica served."""
    t0 = time.monotonic()
    before = len(local_kube.replica_procs.list_replicas(settings, cfg.slot))
    now = local_kube.scale_slot(settings, router, cfg, n)
    seconds = round(time.monotonic() - t0, 2)
    load.mark(f"scaled to {n}")
    start = {r.name: local_kube.served_searches(r) for r in now}
    time.sleep(hold_s)  # traffic on the new pool: every replica must take a share
    served = {r.name: local_kube.served_searches(r) - start[r.name] for r in now}
    return {"from": before, "to": n, "seconds": seconds, "served": served}


def intent_checks(objs: list[Any]) -> list[verify.Check]:
    """Offline checks of the HPA, PDB and NetworkPolicies (the learner's, with --impl labs)."""
    from milvus_lab.kube.netpol import selector_matches

    d = [apply.to_dict(o) for o in objs]
    dep = next(o for o in d if o["kind"] == "Deployment")
    hpa = next(o for o in d if o["kind"] == "HorizontalPodAutoscaler")
    pdb = next(o for o in d if o["kind"] == "PodDisruptionBudget")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    spec = hpa["spec"]
    return [
        verify.Check("HPA scales the Deployment", spec["scaleTargetRef"]["name"] == dep["metadata"]["name"],
                     f"{spec['minReplicas']}-{spec['maxReplicas']} replicas on "
                     f"{[mt['resource']['name'] for mt in spec['metrics']]}"),
        verify.Check("PDB selects the Deployment's pods", selector_matches(pdb["spec"]["selector"], pod_labels),
                     f"minAvailable={pdb['spec'].get('minAvailable')}"),
        *verify.netpol_intent_checks(by_kind(objs, "NetworkPolicy")),
    ]


# %% [markdown]
# ## Putting it together: dry run, run, summary


# %%
def run(args: Any) -> int:
    settings = settings_from_args(args)
    impl = load_impl("lab01_kubernetes", args.impl)
    story = Narrator(LAB, "Milvus and a search API on Kubernetes")
    story.header(
        ["the objects a production deployment needs, and why each exists",
         "validation before change: schema offline, server dry-run, server-side apply",
         "Services, load balancing and scaling without failed requests",
         "HPA, PDB and NetworkPolicies, and how to verify what they do"],
        targets="local (default), kube (kind)", minutes=2 if settings.target == "local" else 10,
    )
    console.print(settings_table({"target": settings.target, "namespace": settings.namespace,
                                  "context": settings.kube_context or f"{context.DEFAULT_CONTEXT} (default)",
                                  "installer": args.installer, "impl": args.impl,
                                  "api image": m.API_IMAGE, "milvus image": m.MILVUS_IMAGE}))
    if settings.target == "compose":
        raise PrerequisiteError("lab 01 teaches Kubernetes: use --target local or --target kube",
                                fix="python step05_production/01_kubernetes_deployment.py --target kube")
    if args.cleanup:
        return cleanup_kube(settings, story) if settings.target == "kube" else cleanup_local(settings, story)
    out = Outcome(target=settings.target)
    objs = render(args, settings, impl, story, out)
    conn = None
    if args.dry_run and settings.target == "kube":
        conn = try_connect(settings, story)
    validate(objs, story, conn.server_version() if conn else apply.SCHEMA_VERSION)
    if args.dry_run:
        if conn is not None:
            with story.step("Server dry-run", "The API server validates, defaults and admits each object "
                            "and stores nothing.", apply.kubectl_apply_command(".milvus-lab/manifests/01/", dry_run=True)):
                results = apply.apply_objects(conn, objs, dry_run=True)
                for note in sorted({r.note for r in results if r.note}):
                    story.info(note)
                for r in results:
                    story.result(True, f"{r.ref}: {r.action}")
        story.info("dry run: nothing was changed")
        return 0
    if settings.target == "kube":
        run_kube(args, settings, objs, story, out)
    else:
        run_local(args, settings, impl, objs, story, out)
    return finish(args, settings, story, out)


def try_connect(settings: Settings, story: Narrator) -> Any:
    """For --dry-run: a cluster is optional; say why there is none and go on offline."""
    try:
        conn = context.connect(settings.kube_context)
    except PrerequisiteError as exc:
        story.warn(f"no cluster for a server dry-run ({exc.message}); schema validation only")
        return None
    story.info(f"cluster: {conn.context} (Kubernetes {conn.server_version()})")
    return conn


def finish(args: Any, settings: Settings, story: Narrator, out: Outcome) -> int:
    rows = [(c["name"], "skipped" if c["ok"] is None else c["ok"], c["detail"]) for c in out.checks]
    console.print(summary_table("Verification", ["check", "passed", "detail"], rows))
    report = args.report or default_report_path(settings, SCRIPT)
    write_json_report(report, {"lab": LAB, "steps": story.steps, "outcome": out,
                               "elapsed_s": round(time.monotonic() - story.started, 2)})
    console.print(f"Report: {report}\nManifests: {Path(out.manifests[0]).parent if out.manifests else '-'}")
    failed = [c for c in out.checks if c["ok"] is False]
    if failed:
        raise VerificationFailed(f"{len(failed)} checks failed, first: {failed[0]['name']}: {failed[0]['detail']}",
                                 fix=failed[0].get("kubectl") or f"read {report}")
    console.print(f"[green]✔ lab {LAB} complete.[/] Clean up with: {CLEANUP}")
    return 0


def cleanup_local(settings: Settings, story: Narrator) -> int:
    from milvus_lab.targets.local import LocalTarget

    with story.step("Clean up", "Stop the API replicas, the router and Milvus Lite if running; "
                    "remove the rendered manifests. Data stays for the next lab.", "milvus-lab down"):
        LocalTarget(settings).teardown()
        for path in settings.path("manifests", LAB, "x").parent.glob("*.yaml"):
            path.unlink()
        story.result(True, "processes stopped, .milvus-lab/manifests/01/ emptied")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_lab(lambda: run(args), CLEANUP)


# %%
if "ipykernel" in sys.modules:  # in Jupyter: the lesson on MILVUS_LAB_TARGET (default local)
    exit_code = main([])
    assert exit_code == 0, f"the lesson exited with {exit_code}: read the output above"
elif __name__ == "__main__":
    sys.exit(main())
