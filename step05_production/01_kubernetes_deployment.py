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
# ```

# %%
from __future__ import annotations

import sys
import time

from milvus_lab.baseline import ensure_baseline
from milvus_lab.deployment import checks, objects
from milvus_lab.deployment.cleanup import clean_up
from milvus_lab.deployment.cluster import dry_run_connection
from milvus_lab.deployment.flags import add_arguments
from milvus_lab.deployment.install import apply_and_report, install_milvus, load_catalogue
from milvus_lab.kube import apply, context, helm, images, verify
from milvus_lab.kube import manifests as m
from milvus_lab.kube.apply import KubeObject
from milvus_lab.kube.scale import kubectl_scale_command
from milvus_lab.kube.wait import wait_for_rollout
from milvus_lab.labkit import Drill, LabRun, LabSpec, lab_main, notebook_finish, notebook_run
from milvus_lab.load import live_panel, start_search_load
from milvus_lab.releases import ALIAS, V1
from milvus_lab.settings import find_repo_root
from milvus_lab.targets import Capability
from milvus_lab.targets.kube import KubeTarget

SCALE_STEPS = (3, 2)
SPEC = LabSpec(
    number="01", slug="kubernetes_deployment", title="Milvus and a search API on Kubernetes",
    learn=("the objects a production deployment needs, and why each exists",
           "validation before change: schema offline, server dry-run, server-side apply",
           "Services, load balancing and scaling without failed requests",
           "HPA, PDB and NetworkPolicies, and how to verify what they do"),
    targets=("local", "kube"), minutes=2, exercise="lab01_kubernetes",
    drills=(
        Drill("plain", (), 0, passes=("requests reach every replica", "0 failed requests while scaling",
                                      "HPA scales the Deployment", "PDB selects the Deployment's pods")),
        Drill("dry-run", ("--dry-run",), 0, passes=("schema validation",)),
        Drill("invalid", ("--dry-run", "--inject-invalid"), 2),
    ),
)


# The lab's flags (--installer, --inject-invalid, --rebuild-image): milvus_lab/deployment/flags.py;
# its --cleanup (by label): milvus_lab/deployment/cleanup.py.


# %% [markdown]
# ## Step 1: every object, rendered and validated before anything changes
# The manifests come from Python builders over the `kubernetes` client models
# (`milvus_lab.kube.manifests`), one source of truth, written to `.milvus-lab/manifests/01/`
# (Secrets redacted) and checked against the Kubernetes OpenAPI schema in strict mode.


# %%
def render_and_validate(run: LabRun) -> list[KubeObject]:
    with run.step("Render the manifests",
                  "Python builders produce typed objects; each carries the labels app.kubernetes.io/part-of, "
                  "app.kubernetes.io/managed-by and milvus-lab/lab=01, which is how cleanup finds them.",
                  "ls .milvus-lab/manifests/01/"):
        opts = m.StackOptions("01", namespace=run.settings.namespace, milvus=run.args.installer == "manifests")
        builders = run.impl.builders()
        objs = m.stack(opts, objects.api_secret(run.settings), builders)
        if run.args.inject_invalid:
            objs += objects.broken_objects(opts.namespace, builders)
            run.warn("--inject-invalid: added 2 broken objects")
        paths = objects.write_manifests(objs, run.settings.path("manifests", "01", "x").parent)
        run.section["manifests"] = [str(p) for p in paths]
        run.result(True, f"{len(objs)} objects written to {paths[0].parent}")
    with run.step("Validate against the Kubernetes schema (offline)",
                  f"Every object is checked against the OpenAPI schema of Kubernetes {apply.SCHEMA_VERSION} "
                  "(kubernetes-validate, strict). No cluster is needed, so this runs in CI and on a plane.",
                  f"kubernetes-validate --strict -k {apply.SCHEMA_VERSION} .milvus-lab/manifests/01/*.yaml"):
        count = apply.ensure_valid(objs, apply.SCHEMA_VERSION)
        run.verify("schema validation", True, f"{count} objects valid", "every object valid")
    return objs


# %% [markdown]
# ## Target `kube`: apply, wait, verify, scale
# Server-side apply (field manager `milvus-lab`) makes re-runs idempotent; each wait
# stops early on CrashLoopBackOff or ImagePullBackOff with the pod's reason.


# %%
def on_kube(run: LabRun, objs: list[KubeObject], target: KubeTarget) -> None:
    if run.args.installer == "helm":
        helm.require_helm()  # before anything changes
    conn, ns = target.conn, run.settings.namespace
    foundation, milvus, api = objects.split_stack(objs)
    with run.step("Search API image into kind", "kind nodes have their own image store: a local image must be "
                  "loaded. imagePullPolicy IfNotPresent: it is never pulled.",
                  f"docker build -t {m.API_IMAGE} . && kind load docker-image {m.API_IMAGE} --name {context.KIND_CLUSTER}"):
        if Capability.RUNNING_PODS in target.capabilities:
            for cmd in images.ensure_image_in_kind(m.API_IMAGE, find_repo_root(), rebuild=run.args.rebuild_image):
                run.result(True, cmd)
        else:
            run.warn("not kind: these nodes never pull or run images (KWOK); skipped")
    with run.step("Namespace, quota and default limits", "Pod Security: enforce baseline, warn and audit "
                  "restricted. The ResourceQuota caps requests; the LimitRange fills in forgotten limits.",
                  apply.kubectl_apply_command(".milvus-lab/manifests/01/0[1-3]-*.yaml")):
        apply_and_report(run, conn, foundation)
    with run.step("Milvus standalone", "A StatefulSet (embedded etcd, local storage) with a PVC, probes on "
                  ":9091/healthz, a ClusterIP Service for pods and a NodePort Service for your laptop.",
                  apply.kubectl_apply_command(".milvus-lab/manifests/01/*milvus*.yaml")):
        install_milvus(run, conn, milvus)
    with run.step("Load vectors into Milvus", f"Through the NodePort (kind maps it to 127.0.0.1): the "
                  f"{V1.dataset.n:,}-row catalogue, an index, and the alias '{ALIAS}' the API searches.",
                  f"MilvusClient('{run.settings.milvus_uri}').create_collection('{V1.collection}', ...)"):
        if Capability.RUNNING_PODS not in target.capabilities:
            run.warn("needs kind: Milvus does not run on KWOK nodes; skipped")
        else:
            with run.progress() as bars:
                status = load_catalogue(run.settings, target.ensure_milvus(), on_progress=bars)
            run.result(True, f"{V1.collection}: {status.rows:,} rows, alias {ALIAS}")
    with run.step("Search API: Deployment, Service, HPA, PDB, NetworkPolicies", "2 replicas with readiness and "
                  "liveness probes, a restricted securityContext and requests/limits; the Service selects slot=blue.",
                  f"kubectl rollout status deployment/search-api-blue -n {ns}"):
        apply_and_report(run, conn, api)
        with run.progress() as bars:
            run.result(True, wait_for_rollout(conn, "Deployment", "search-api-blue", ns, timeout=300,
                                              on_progress=bars).line)
    with run.step("Verify", "Read everything back from the API server: DNS names, the Service's endpoints, "
                  "HPA, PDB, NetworkPolicies (present, and what they allow).",
                  f"kubectl get svc,endpointslices,hpa,pdb,networkpolicy -n {ns}"):
        run.record(*verify.service_discovery_checks(conn, ns), verify.api_endpoint_check(conn, ns, m.API_NAME, "blue", 2),
                   verify.hpa_check(conn, ns, "search-api-blue"), verify.pdb_check(conn, ns, "search-api-blue", 2),
                   *verify.network_policy_checks(conn, ns, [apply.ref(o).name for o in objects.by_kind(objs, "NetworkPolicy")]),
                   checks.kube_load_balancing(conn, ns))
    with run.step("Scale 2 -> 3 -> 2, watched", "kubectl scale writes the scale subresource, as the HPA does; each "
                  "step waits until exactly N pods are ready and the Service lists exactly those N.",
                  "\n".join(kubectl_scale_command("Deployment", "search-api-blue", ns, n) for n in SCALE_STEPS)):
        for n in SCALE_STEPS:
            t0 = time.monotonic()
            target.scale(V1.slot, n)
            run.section.setdefault("scale", []).append({"to": n, "seconds": round(time.monotonic() - t0, 2)})
            run.record(verify.api_endpoint_check(conn, ns, m.API_NAME, "blue", n))


# %% [markdown]
# ## Target `local`: the same concepts, Python only
# Replicas are uvicorn processes, the router plays the Service, `/readyz` gates a replica
# into the pool like a readiness probe, and scaling removes a replica from the pool
# before stopping it: zero failed requests under load.


# %%
def on_local(run: LabRun, objs: list[KubeObject]) -> None:
    target, settings = run.target, run.settings
    with run.step("Milvus and 2 API replicas behind the router", "Milvus plays the StatefulSet, two uvicorn "
                  "processes the Deployment's pods, the router the Service. A replica joins the pool only after "
                  "/readyz answers 200.", apply.kubectl_apply_command(".milvus-lab/manifests/01/")):
        with run.progress() as bars:
            base = ensure_baseline(target, V1, on_progress=bars)
        run.result(True, f"Milvus {base.milvus_uri}; {base.collection.name}: {base.collection.rows:,} rows; "
                         f"slot {V1.slot} x{len(base.backends)} behind {target.live_url()}")
    with run.step("Service discovery", "Clients use one stable address (the router, like a Service's DNS name); "
                  "the router's pool is the EndpointSlice: only ready replicas.",
                  f"kubectl get endpointslices -n {settings.namespace} -l kubernetes.io/service-name=search-api"):
        run.record(*checks.local_pool_checks(settings, target, V1.slot))
    with run.step("Load balancing", "60 searches through the router; each replica's own /metrics counter says "
                  "how many it served (a per-pod scrape).",
                  f"for i in $(seq 60); do curl -s -XPOST {target.live_url()}/search -d @query.json; done"):
        run.record(checks.local_balance(settings, target, V1.slot, base.dataset.queries[0].tolist()))
    with run.step("Scale 2 -> 3 -> 2 under light load", "Locust keeps searching. Up: start, wait for /readyz, add "
                  "to the pool. Down: out of the pool first, then a graceful stop. Any failed request fails the lab.",
                  "\n".join(kubectl_scale_command("Deployment", "search-api-blue", settings.namespace, n)
                            for n in SCALE_STEPS)):
        load = start_search_load(settings, "01", "search_api", target.live_url(), users=4, user_rps=3,
                                 dataset=V1.dataset, versions=[V1.version])
        run.on_exit(load.stop)
        with live_panel(load, title="light load"):
            load.wait_for_traffic(seconds=2)
            scaled = [checks.scale_under_load(settings, target, V1.slot, n, load) for n in SCALE_STEPS]
        load.stop()
        result = load.result()
        run.section["load"] = result.report_summary()
        run.record(*scaled)
        run.verify("0 failed requests while scaling", result.failures == 0 and result.requests > 0,
                   f"{result.requests} requests, {result.failures} failed, p95 {result.p95_ms} ms", "0 failed")
    with run.step("What the HPA, PDB and NetworkPolicies promise", "No local equivalent enforces them, so the lab "
                  "proves their intent: who may reach whom, which pods the PDB protects, what the HPA scales.",
                  f"kubectl get hpa,pdb,networkpolicy -n {settings.namespace} -o yaml"):
        run.record(*checks.intent_checks(objs))


def lesson(run: LabRun) -> None:
    objs = render_and_validate(run)
    if Capability.KUBE_API in run.target.capabilities:
        on_kube(run, objs, run.target)
    else:
        on_local(run, objs)


# %% [markdown]
# ## Dry run: validation before change


# %%
def plan(run: LabRun) -> None:
    objs = render_and_validate(run)
    conn = dry_run_connection(run)
    if conn is None:
        return
    with run.step("Server dry-run", "The API server validates, defaults and admits each object and stores nothing.",
                  apply.kubectl_apply_command(".milvus-lab/manifests/01/", dry_run=True)):
        for r in apply.apply_objects(conn, objs, dry_run=True):
            run.verify(f"{r.ref} server dry-run", True, r.action, "accepted")


def main(argv: list[str] | None = None) -> int:
    return lab_main(SPEC, lesson, argv=argv, add_arguments=add_arguments, plan=plan, cleanup=clean_up)


# %% [markdown]
# ## Run it
# In Jupyter the cells below run the lesson on `MILVUS_LAB_TARGET` (default local), one step each.

# %%
run = notebook_run(SPEC, add_arguments)  # None outside Jupyter

# %%
objs = render_and_validate(run) if run else []

# %%
if run and Capability.KUBE_API in run.target.capabilities:
    on_kube(run, objs, run.target)
elif run:
    on_local(run, objs)

# %%
if run:
    notebook_finish(run)
elif __name__ == "__main__":
    sys.exit(main())
