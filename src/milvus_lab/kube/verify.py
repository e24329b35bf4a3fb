"""Verification of a deployed stack: each check reads the cluster back, never our own intent.

Every function returns `Verification`s (passed, skipped, or failed, with the kubectl
command to look for yourself as the hint). The lab prints them; the checks in `checks/` call the
same functions on the learner's objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from milvus_lab.kube import manifests as m
from milvus_lab.kube.apply import to_dict
from milvus_lab.kube.netpol import Source, ingress_allowed
from milvus_lab.kube.selector import endpoints
from milvus_lab.verification import Verification


def fact(name: str, ok: bool | None, detail: str = "", kubectl: str = "") -> Verification:
    """A verified fact read from the cluster; the kubectl command is the hint to look yourself."""
    return Verification(name, ok, detail, "", f"$ {kubectl}" if kubectl else "")


# ---- NetworkPolicy intent (offline) ------------------------------------------------------------
def netpol_intent_checks(policies: Sequence[Any]) -> list[Verification]:
    """Prove what the policies allow: only the API reaches Milvus gRPC; anyone reaches the API."""
    api = Source.pod(**{m.NAME_LABEL: m.API_NAME, m.SLOT_LABEL: "blue"})
    other = Source.pod(**{m.NAME_LABEL: "debug-shell"})
    milvus = m.milvus_pod_labels()
    api_pod = m.api_pod_labels("blue")
    cases: list[tuple[str, bool, bool]] = [
        ("search-api pod -> Milvus :19530 allowed", True,
         ingress_allowed(policies, milvus, api, m.MILVUS_GRPC_PORT)),
        ("other pod -> Milvus :19530 denied", False,
         ingress_allowed(policies, milvus, other, m.MILVUS_GRPC_PORT)),
        ("search-api pod -> Milvus :9091 denied", False,
         ingress_allowed(policies, milvus, api, m.MILVUS_HTTP_PORT)),
        ("any client -> search-api :8000 allowed", True,
         ingress_allowed(policies, api_pod, Source.external("203.0.113.7"), m.API_PORT)),
        ("other pod -> search-api :9999 denied", False,
         ingress_allowed(policies, api_pod, other, 9999)),
        ("other pod -> an unlisted pod denied (default deny)", False,
         ingress_allowed(policies, {m.NAME_LABEL: "something-else"}, other, 80)),
    ]
    return [
        fact(f"NetworkPolicy: {name}", got == want,
              "as intended" if got == want else f"policies {'allow' if got else 'deny'} it")
        for name, want, got in cases
    ]


# ---- objects read back from the API server -------------------------------------------------------
def _poll(fn: Callable[[], Verification], timeout: float) -> Verification:
    """Re-run a check until it passes (controllers fill in status a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        check = fn()
        if check.passed is not False or time.monotonic() >= deadline:
            return check
        time.sleep(0.5)


def hpa_check(conn: Any, namespace: str, name: str) -> Verification:
    from kubernetes import client

    kubectl = f"kubectl get hpa {name} -n {namespace}"
    try:
        hpa = client.AutoscalingV2Api(conn.api_client).read_namespaced_horizontal_pod_autoscaler(name, namespace)
    except client.ApiException as exc:
        return fact("HPA present", False, f"HTTP {exc.status}", kubectl)
    ref = hpa.spec.scale_target_ref
    metrics = [mt.resource.name for mt in hpa.spec.metrics or [] if mt.resource]
    detail = f"{ref.kind}/{ref.name}, {hpa.spec.min_replicas}-{hpa.spec.max_replicas} replicas on {metrics}"
    active = next((c for c in (hpa.status.conditions or []) if c.type == "ScalingActive"), None)
    if active is not None and active.status == "False":
        detail += f"; ScalingActive=False ({active.reason}: no metrics-server? the HPA cannot act yet)"
    ok = ref.kind == "Deployment" and "cpu" in metrics
    return fact("HPA present (autoscaling/v2, CPU)", ok, detail, kubectl)


def pdb_check(conn: Any, namespace: str, name: str, expected_pods: int, timeout: float = 30.0) -> Verification:
    from kubernetes import client

    kubectl = f"kubectl get pdb {name} -n {namespace}"
    policy = client.PolicyV1Api(conn.api_client)

    def once() -> Verification:
        try:
            pdb = policy.read_namespaced_pod_disruption_budget(name, namespace)
        except client.ApiException as exc:
            return fact("PDB present and matching pods", False, f"HTTP {exc.status}", kubectl)
        st = pdb.status
        if st is None or st.expected_pods is None:
            return fact("PDB present and matching pods", False, "status not computed yet", kubectl)
        ok = st.expected_pods == expected_pods and (st.disruptions_allowed or 0) >= 1
        return fact("PDB present and matching pods", ok,
                     f"minAvailable={pdb.spec.min_available}, selects {st.expected_pods} pods "
                     f"(expected {expected_pods}), disruptions allowed {st.disruptions_allowed}", kubectl)

    return _poll(once, timeout)


def network_policy_checks(conn: Any, namespace: str, expected: Sequence[str]) -> list[Verification]:
    """The policies exist on the server, and the ones stored there do what we intend."""
    from kubernetes import client

    stored = client.NetworkingV1Api(conn.api_client).list_namespaced_network_policy(namespace).items
    names = {p.metadata.name for p in stored}
    missing = sorted(set(expected) - names)
    present = fact("NetworkPolicies present", not missing,
                    f"missing {missing}" if missing else ", ".join(sorted(names)),
                    f"kubectl get networkpolicy -n {namespace}")
    return [present, *netpol_intent_checks([to_dict(p) for p in stored])]


def service_discovery_checks(conn: Any, namespace: str, milvus_deployed: bool = True) -> list[Verification]:
    """The API finds Milvus by a DNS name that a Service with ready endpoints backs."""
    from kubernetes import client

    out: list[Verification] = []
    host = m.milvus_service_host(namespace)
    cm = conn.core.read_namespaced_config_map("search-api-config", namespace)
    uri = (cm.data or {}).get("MILVUS_LAB_MILVUS_URI", "")
    out.append(fact("search API finds Milvus by DNS name", host in uri, uri,
                     f"kubectl get configmap search-api-config -n {namespace} -o yaml"))
    try:
        svc = conn.core.read_namespaced_service(m.MILVUS_NAME, namespace)
    except client.ApiException as exc:
        out.append(fact(f"Service {m.MILVUS_NAME} exists", False, f"HTTP {exc.status}"))
        return out
    eps = [e for e in endpoints(conn, namespace, m.MILVUS_NAME) if e.ready]
    out.append(fact(
        f"{host} -> ClusterIP {svc.spec.cluster_ip} -> ready Milvus endpoints",
        bool(eps) or not milvus_deployed,
        ", ".join(f"{e.pod} {e.ip}" for e in eps) or "no ready endpoints",
        f"kubectl get endpointslices -n {namespace} -l kubernetes.io/service-name={m.MILVUS_NAME}",
    ))
    return out


def api_endpoint_check(conn: Any, namespace: str, service: str, slot: str, replicas: int,
                       timeout: float = 30.0) -> Verification:
    """The API Service lists exactly the slot's ready pods: the load balancer's backend set."""

    def once() -> Verification:
        ready = [e for e in endpoints(conn, namespace, service) if e.ready]
        ok = len(ready) == replicas and all(e.slot == slot for e in ready)
        return fact(f"Service {service} -> {replicas} ready pods of slot {slot}", ok,
                     ", ".join(e.pod for e in ready) or "none",
                     f"kubectl get endpointslices -n {namespace} -l kubernetes.io/service-name={service}")

    return _poll(once, timeout)


# ---- data plane (kind only) ---------------------------------------------------------------
def served_searches(metrics_text: str) -> int:
    """Successful searches counted in one replica's /metrics text."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "search_api_requests_total" and sample.labels.get("endpoint") == "/search" \
                    and sample.labels.get("status") == "200":
                total += sample.value
    return int(total)


def pod_served_searches(conn: Any, namespace: str, pod: str, port: int = m.API_PORT) -> int:
    """A pod's own count, read through the API server's pod proxy (a per-pod scrape)."""
    text = conn.core.connect_get_namespaced_pod_proxy_with_path(f"{pod}:{port}", namespace, "metrics")
    return served_searches(text if isinstance(text, str) else str(text))


def load_balancing_check(counts: dict[str, int], failures: int, expected: Sequence[str]) -> Verification:
    missing = sorted(p for p in expected if counts.get(p, 0) <= 0)
    ok = failures == 0 and not missing
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + f"; failed {failures}"
    if missing:
        detail += f"; never answered: {missing}"
    return fact("requests reach every replica", ok, detail)
