"""The application-layer traffic switch: a Service selector names a slot (lab 03).

`switch_service_selector` patches `spec.selector` only after the target slot has ready
pods, then waits until the Service's EndpointSlices list only that slot's pods. The
Service therefore never points at a slot that cannot answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from milvus_lab.errors import PrerequisiteError, VerificationFailed
from milvus_lab.kube.labels import FIELD_MANAGER, NAME_LABEL, SLOT_LABEL
from milvus_lab.kube.manifests import api_pod_labels
from milvus_lab.kube.wait import WaitFailed, selector_string
from milvus_lab.polling import poll_until


@dataclass(frozen=True)
class Endpoint:
    """One address behind a Service, as its EndpointSlice lists it."""

    ip: str
    pod: str
    ready: bool
    slot: str = ""


@dataclass(frozen=True)
class SwitchResult:
    service: str
    previous_slot: str
    slot: str
    endpoints: tuple[Endpoint, ...]


def service_selector(conn: Any, namespace: str, service: str) -> dict[str, str]:
    svc = conn.core.read_namespaced_service(service, namespace)
    return dict(svc.spec.selector or {})


def current_slot(conn: Any, namespace: str, service: str) -> str:
    return service_selector(conn, namespace, service).get(SLOT_LABEL, "")


def endpoints(conn: Any, namespace: str, service: str) -> list[Endpoint]:
    """The Service's endpoints from its EndpointSlices, each with its pod's slot label."""
    from kubernetes import client

    slices = client.DiscoveryV1Api(conn.api_client).list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}"
    ).items
    slots = {
        p.metadata.name: (p.metadata.labels or {}).get(SLOT_LABEL, "")
        for p in conn.core.list_namespaced_pod(namespace, label_selector=SLOT_LABEL).items
    }
    out: list[Endpoint] = []
    for sl in slices:
        for ep in sl.endpoints or []:
            pod = ep.target_ref.name if ep.target_ref else ""
            ready = bool(ep.conditions.ready) if ep.conditions and ep.conditions.ready is not None else True
            for ip in ep.addresses or []:
                out.append(Endpoint(ip, pod, ready, slots.get(pod, "")))
    return sorted(out, key=lambda e: (e.slot, e.pod))


def ready_pods(conn: Any, namespace: str, slot: str) -> list[str]:
    """Names of a slot's pods whose Ready condition is True."""
    pods = conn.core.list_namespaced_pod(namespace, label_selector=selector_string(api_pod_labels(slot))).items
    return sorted(
        p.metadata.name for p in pods
        if not p.metadata.deletion_timestamp
        and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
    )


def wait_for_endpoints(
    conn: Any, namespace: str, service: str, slot: str, *, minimum: int = 1, timeout: float = 60.0
) -> list[Endpoint]:
    """Wait until the Service's ready endpoints are all (and at least `minimum`) from `slot`."""

    def check() -> list[Endpoint] | None:
        ready = [e for e in endpoints(conn, namespace, service) if e.ready]
        if len(ready) >= minimum and all(e.slot == slot for e in ready):
            return ready
        return None

    return poll_until(
        check, timeout=timeout, error=WaitFailed, what=f"Service {namespace}/{service} endpoints to be slot {slot}",
        fix=f"kubectl get endpointslices -n {namespace} -l kubernetes.io/service-name={service} -o wide",
    )


def switch_service_selector(
    conn: Any, namespace: str, service: str, slot: str,
    *, require_ready: bool = True, wait: bool = True, timeout: float = 60.0,
) -> SwitchResult:
    """Point `service` at `slot` (merge-patch of spec.selector), verified before and after."""
    from kubernetes.client.rest import ApiException

    try:
        previous = current_slot(conn, namespace, service)
    except ApiException as exc:
        if exc.status == 404:
            raise PrerequisiteError(f"Service {namespace}/{service} does not exist",
                                    fix="apply the lab's manifests first") from None
        raise
    if require_ready and not ready_pods(conn, namespace, slot):
        raise VerificationFailed(
            f"slot {slot!r} has no ready pods: Service {namespace}/{service} stays on {previous!r}",
            fix=f"kubectl get pods -n {namespace} -l {SLOT_LABEL}={slot}",
        )
    resource = conn.dynamic.resources.get(api_version="v1", kind="Service")
    conn.dynamic.patch(
        resource, body={"spec": {"selector": {NAME_LABEL: api_pod_labels(slot)[NAME_LABEL], SLOT_LABEL: slot}}},
        name=service, namespace=namespace,
        content_type="application/merge-patch+json", field_manager=FIELD_MANAGER,
    )
    eps = wait_for_endpoints(conn, namespace, service, slot, timeout=timeout) if wait else []
    return SwitchResult(service, previous, slot, tuple(eps))
