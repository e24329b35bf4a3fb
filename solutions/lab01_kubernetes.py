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
    # BEGIN SOLUTION: return (readiness, liveness) V1Probe objects with http_get on /readyz and /healthz
    readiness = client.V1Probe(
        http_get=client.V1HTTPGetAction(path="/readyz", port=port),
        period_seconds=5, timeout_seconds=3, failure_threshold=2, success_threshold=1,
    )
    liveness = client.V1Probe(
        http_get=client.V1HTTPGetAction(path="/healthz", port=port),
        initial_delay_seconds=5, period_seconds=10, timeout_seconds=3, failure_threshold=3,
    )
    return readiness, liveness
    # END SOLUTION


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
    # BEGIN SOLUTION: build a V2HorizontalPodAutoscaler with scale_target_ref, min/max and a Resource cpu Utilization metric
    return client.V2HorizontalPodAutoscaler(
        api_version="autoscaling/v2", kind="HorizontalPodAutoscaler",
        metadata=client.V1ObjectMeta(name=deployment, namespace=namespace,
                                     labels={**m.lab_labels(lab), m.NAME_LABEL: m.API_NAME}),
        spec=client.V2HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V2CrossVersionObjectReference(
                api_version="apps/v1", kind="Deployment", name=deployment),
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            metrics=[client.V2MetricSpec(
                type="Resource",
                resource=client.V2ResourceMetricSource(
                    name="cpu",
                    target=client.V2MetricTarget(type="Utilization", average_utilization=cpu_percent),
                ),
            )],
            behavior=client.V2HorizontalPodAutoscalerBehavior(
                scale_down=client.V2HPAScalingRules(stabilization_window_seconds=120),
            ),
        ),
    )
    # END SOLUTION


def pod_disruption_budget(
    slot: str = "blue", namespace: str = m.NAMESPACE, lab: str = "01", min_available: int = 1
) -> client.V1PodDisruptionBudget:
    """A policy/v1 PDB named `search-api-<slot>` selecting exactly that slot's API pods
    (`m.api_pod_labels(slot)`), with `min_available` pods kept through voluntary
    disruptions such as `kubectl drain`."""
    # BEGIN SOLUTION: build a V1PodDisruptionBudget whose selector matches m.api_pod_labels(slot)
    return client.V1PodDisruptionBudget(
        api_version="policy/v1", kind="PodDisruptionBudget",
        metadata=client.V1ObjectMeta(name=f"{m.API_NAME}-{slot}", namespace=namespace,
                                     labels={**m.lab_labels(lab), m.NAME_LABEL: m.API_NAME}),
        spec=client.V1PodDisruptionBudgetSpec(
            min_available=min_available,
            selector=client.V1LabelSelector(match_labels=m.api_pod_labels(slot)),
        ),
    )
    # END SOLUTION


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
    # BEGIN SOLUTION: return the four V1NetworkPolicy objects described above
    milvus = client.V1LabelSelector(match_labels={m.NAME_LABEL: m.MILVUS_NAME})
    api = client.V1LabelSelector(match_labels={m.NAME_LABEL: m.API_NAME})

    def policy(name: str, selector: client.V1LabelSelector, ingress: list | None) -> client.V1NetworkPolicy:
        return client.V1NetworkPolicy(
            api_version="networking.k8s.io/v1", kind="NetworkPolicy",
            metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=m.lab_labels(lab)),
            spec=client.V1NetworkPolicySpec(pod_selector=selector, policy_types=["Ingress"], ingress=ingress),
        )

    return [
        policy("default-deny-ingress", client.V1LabelSelector(), None),
        policy("milvus-allow-search-api", milvus, [client.V1NetworkPolicyIngressRule(
            _from=[client.V1NetworkPolicyPeer(pod_selector=api)],
            ports=[client.V1NetworkPolicyPort(protocol="TCP", port=m.MILVUS_GRPC_PORT)],
        )]),
        policy("search-api-allow-http", api, [client.V1NetworkPolicyIngressRule(
            ports=[client.V1NetworkPolicyPort(protocol="TCP", port=m.API_PORT)],
        )]),
        policy("milvus-allow-lab-host", milvus, [client.V1NetworkPolicyIngressRule(
            _from=[client.V1NetworkPolicyPeer(ip_block=client.V1IPBlock(cidr=c)) for c in host_cidrs],
            ports=[client.V1NetworkPolicyPort(protocol="TCP", port=p)
                   for p in (m.MILVUS_GRPC_PORT, m.MILVUS_HTTP_PORT)],
        )]),
    ]
    # END SOLUTION


def builders() -> m.Builders:
    """These four functions, in the shape the lab's stack builder takes."""
    return m.Builders(probes=search_api_probes, hpa=horizontal_pod_autoscaler,
                      pdb=pod_disruption_budget, network_policies=network_policies)
