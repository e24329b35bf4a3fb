# Exercise generated from solutions/lab01_kubernetes.py by `python -m milvus_lab.exercises`.
"""Lab 01 exercise: the objects that keep the search API healthy and safe on Kubernetes.

You write four builders; the lab (`--impl labs`) applies them with the rest of the stack
and `pytest checks/test_lab01_kubernetes.py` checks them (schema, intent, and on a real
API server). Each returns a typed `kubernetes.client` model:

1. `search_api_probes`: readiness on /readyz, liveness on /healthz.
2. `horizontal_pod_autoscaler`: autoscaling/v2 on CPU utilization.
3. `pod_disruption_budget`: a drain never takes the slot below `min_available` pods.
4. `network_policies`: default deny, then only what the design needs.

Helpers from `milvus_lab.kube.manifests` (imported as `m`): `m.lab_labels(lab)` (the
labels every object carries), `m.api_pod_labels(slot)` (the API pods of a slot),
`m.milvus_pod_labels()`, and the ports `m.API_PORT` (8000), `m.MILVUS_GRPC_PORT` (19530),
`m.MILVUS_HTTP_PORT` (9091).
"""

from __future__ import annotations

from collections.abc import Sequence

from kubernetes import client

from milvus_lab.kube import manifests as m


def search_api_probes(port: str = "http") -> tuple[client.V1Probe, client.V1Probe]:
    """(readiness, liveness) for the search API container, whose port is named `port`.

    Readiness decides whether the pod receives traffic: GET /readyz answers 200 only when
    Milvus is reachable and the collection is loaded. Liveness decides whether the kubelet
    restarts the container: GET /healthz answers while the process is alive. Liveness
    must be more patient than readiness, or a slow Milvus makes Kubernetes restart
    healthy pods.
    """
    # TODO: return (readiness, liveness) V1Probe objects with http_get on /readyz and /healthz
    raise NotImplementedError('return (readiness, liveness) V1Probe objects with http_get on /readyz and /healthz')


def horizontal_pod_autoscaler(
    deployment: str,
    namespace: str = m.NAMESPACE,
    lab: str = "01",
    min_replicas: int = 2,
    max_replicas: int = 4,
    cpu_percent: int = 70,
) -> client.V2HorizontalPodAutoscaler:
    """An autoscaling/v2 HPA named like the Deployment, scaling it on average CPU
    utilization (a percentage of the pods' CPU *requests*) between min and max replicas.
    Slow the scale-down (stabilization window 120 s) so a short lull does not flap."""
    # TODO: build a V2HorizontalPodAutoscaler with scale_target_ref, min/max and a Resource cpu Utilization metric
    raise NotImplementedError('build a V2HorizontalPodAutoscaler with scale_target_ref, min/max and a Resource cpu Utilization metric')


def pod_disruption_budget(
    slot: str = "blue", namespace: str = m.NAMESPACE, lab: str = "01", min_available: int = 1
) -> client.V1PodDisruptionBudget:
    """A policy/v1 PDB named `search-api-<slot>` selecting exactly that slot's API pods
    (`m.api_pod_labels(slot)`), with `min_available` pods kept through voluntary
    disruptions such as `kubectl drain`."""
    # TODO: build a V1PodDisruptionBudget whose selector matches m.api_pod_labels(slot)
    raise NotImplementedError('build a V1PodDisruptionBudget whose selector matches m.api_pod_labels(slot)')


def network_policies(
    namespace: str = m.NAMESPACE, lab: str = "01", host_cidrs: Sequence[str] = ("172.16.0.0/12",)
) -> list[client.V1NetworkPolicy]:
    """Four networking.k8s.io/v1 NetworkPolicies (Ingress only), each with the lab labels:

    - `default-deny-ingress`: selects every pod, allows nothing;
    - `milvus-allow-search-api`: Milvus pods (`app.kubernetes.io/name=milvus`) accept TCP
      19530 from search-API pods (`app.kubernetes.io/name=search-api`) only;
    - `search-api-allow-http`: search-API pods accept TCP 8000 from anyone;
    - `milvus-allow-lab-host`: Milvus pods accept TCP 19530 and 9091 from `host_cidrs`
      (your laptop through kind's NodePort).
    """
    # TODO: return the four V1NetworkPolicy objects described above
    raise NotImplementedError('return the four V1NetworkPolicy objects described above')


def builders() -> m.Builders:
    """These four functions, in the shape the lab's stack builder takes."""
    return m.Builders(probes=search_api_probes, hpa=horizontal_pod_autoscaler,
                      pdb=pod_disruption_budget, network_policies=network_policies)
