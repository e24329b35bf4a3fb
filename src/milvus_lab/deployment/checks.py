"""What lab 01 verifies beyond reading objects back: intent offline, balance and scaling under load."""

from __future__ import annotations

import time

from milvus_lab.app import replicas
from milvus_lab.app.client import count_failures, search_body
from milvus_lab.deployment.objects import by_kind
from milvus_lab.kube import apply, verify
from milvus_lab.kube import local as local_kube
from milvus_lab.kube import manifests as m
from milvus_lab.kube.apply import KubeObject
from milvus_lab.kube.context import KubeConnection
from milvus_lab.kube.netpol import selector_matches
from milvus_lab.kube.selector import endpoints
from milvus_lab.load.runner import LocustRun
from milvus_lab.milvus import datasets
from milvus_lab.releases import V1
from milvus_lab.settings import Settings
from milvus_lab.targets.base import Target
from milvus_lab.targets.local import LocalTarget
from milvus_lab.verification import Verification


def intent_checks(objs: list[KubeObject]) -> list[Verification]:
    """Offline checks of the HPA, PDB and NetworkPolicies (the learner's, with --impl labs)."""
    d = [apply.to_dict(o) for o in objs]
    dep = next(o for o in d if o["kind"] == "Deployment")
    hpa = next(o for o in d if o["kind"] == "HorizontalPodAutoscaler")
    pdb = next(o for o in d if o["kind"] == "PodDisruptionBudget")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    spec = hpa["spec"]
    return [
        verify.fact("HPA scales the Deployment", spec["scaleTargetRef"]["name"] == dep["metadata"]["name"],
                    f"{spec['minReplicas']}-{spec['maxReplicas']} replicas on "
                    f"{[mt['resource']['name'] for mt in spec['metrics']]}"),
        verify.fact("PDB selects the Deployment's pods", selector_matches(pdb["spec"]["selector"], pod_labels),
                    f"minAvailable={pdb['spec'].get('minAvailable')}"),
        *verify.netpol_intent_checks(by_kind(objs, "NetworkPolicy")),
    ]


def kube_load_balancing(conn: KubeConnection, ns: str) -> Verification:
    """On kind: searches through the NodePort reach every pod (each on a new connection)."""
    if not conn.is_kind:
        return verify.fact("requests through the NodePort reach every API pod", None,
                           "needs kind (pods must really run); run with a kind cluster")
    pods = [e.pod for e in endpoints(conn, ns, m.API_NAME) if e.ready]
    body = search_body(datasets.generate(V1.dataset).queries[0], 5)
    url = f"http://127.0.0.1:{m.HOST_PORTS[m.NODE_PORTS.search_api]}"
    before = {p: verify.pod_served_searches(conn, ns, p) for p in pods}
    failures = count_failures(url, body, 20 * len(pods), new_connection=True)
    counts = {p: verify.pod_served_searches(conn, ns, p) - before[p] for p in pods}
    return verify.load_balancing_check(counts, failures, pods)


def local_pool_checks(settings: Settings, target: LocalTarget, slot: str) -> list[Verification]:
    """Each replica ready and in the router's pool: the EndpointSlice of the local target."""
    listed = set(target.router.table().pools.get(slot, ()))
    return [verify.fact(f"{r.name} ({r.url}) ready and in the pool", replicas.ready(r.url) and r.url in listed,
                        f"pid {r.pid}") for r in replicas.list_replicas(settings, slot)]


def local_balance(settings: Settings, target: Target, slot: str, query: list[float]) -> Verification:
    pool = replicas.list_replicas(settings, slot)
    bal = local_kube.balance_through_router(target.live_url(), pool, search_body(query, 5))
    return verify.fact("requests reach every replica", bal.failures == 0 and all(v > 0 for v in bal.counts.values()),
                       ", ".join(f"{k}: {v}" for k, v in bal.counts.items()) + f"; failed {bal.failures}")


def scale_under_load(settings: Settings, target: Target, slot: str, n: int, load: LocustRun,
                     hold_s: float = 3.0) -> Verification:
    """Scale the slot to n, then hold under load: every replica of the new pool must take a share."""
    t0 = time.monotonic()
    before = len(replicas.list_replicas(settings, slot))
    target.scale(slot, n)
    seconds = time.monotonic() - t0
    load.mark(f"scaled to {n}")
    now = replicas.list_replicas(settings, slot)
    start = {r.name: local_kube.served_searches(r) for r in now}
    time.sleep(hold_s)  # traffic on the new pool
    served = {r.name: local_kube.served_searches(r) - start[r.name] for r in now}
    return verify.fact(f"scaled {before} -> {n} in {seconds:.1f}s", len(served) == n and all(v > 0 for v in served.values()),
                       "served while held: " + ", ".join(f"{k}: {v}" for k, v in served.items()))
