"""Smoke tests: the control plane behaves like a real cluster for the kube path.

Why: labs rely on rollouts, EndpointSlices, RBAC, Pod Security Admission and
`rollout undo`; these prove the testenv (or kind) gives them for real. Pods never
run on KWOK nodes, so nothing here talks to a pod or Service IP: only the API.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from milvus_lab.testing.kube_fixtures import KubeAPI, wait_for

pytestmark = pytest.mark.kube

LABELS = {"app.kubernetes.io/part-of": "milvus-lab", "app.kubernetes.io/managed-by": "milvus-lab"}
PAUSE = "registry.k8s.io/pause:3.10"
ROLLOUT_TIMEOUT = 120.0

# kubectl's rollback copies these from the Deployment instead of from the ReplicaSet.
ANNOTATIONS_TO_SKIP = {
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}


def restricted_container(image: str = PAUSE) -> dict[str, Any]:
    """A container that passes the `restricted` Pod Security Standard."""
    return {
        "name": "main",
        "image": image,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def deployment(name: str, app: str, replicas: int = 2, image: str = PAUSE) -> dict[str, Any]:
    """A Deployment manifest whose pods carry ``app=<app>``."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {**LABELS, "app": app}},
        "spec": {
            "replicas": replicas,
            "progressDeadlineSeconds": 60,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {**LABELS, "app": app}},
                "spec": {"containers": [restricted_container(image)]},
            },
        },
    }


def service(name: str, app: str) -> dict[str, Any]:
    """A ClusterIP Service selecting ``app=<app>``."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": LABELS},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def rollout_complete(apps: client.AppsV1Api, ns: str, name: str) -> bool:
    """kubectl rollout status's test, failing fast on ProgressDeadlineExceeded."""
    d = apps.read_namespaced_deployment(name, ns)
    st = d.status
    if (st.observed_generation or 0) < d.metadata.generation:
        return False
    for cond in st.conditions or []:
        if cond.type == "Progressing" and cond.reason == "ProgressDeadlineExceeded":
            raise AssertionError(
                f"deployment/{name} in {ns} exceeded its progress deadline; "
                f"see kubectl describe deployment/{name} -n {ns}"
            )
    want = d.spec.replicas
    updated = st.updated_replicas or 0
    return (
        updated >= want
        and (st.replicas or 0) <= updated
        and (st.available_replicas or 0) >= updated
    )


def wait_rollout(apps: client.AppsV1Api, ns: str, name: str) -> None:
    """Wait for the rollout, with a timeout that names the describe command."""
    wait_for(
        lambda: rollout_complete(apps, ns, name),
        timeout=ROLLOUT_TIMEOUT,
        what=f"rollout of deployment/{name} (kubectl describe deployment/{name} -n {ns})",
    )


def ready_endpoint_ips(discovery: client.DiscoveryV1Api, ns: str, svc: str) -> set[str]:
    """Ready addresses across the Service's EndpointSlices."""
    slices = discovery.list_namespaced_endpoint_slice(
        ns, label_selector=f"kubernetes.io/service-name={svc}"
    ).items
    return {
        addr
        for es in slices
        for ep in es.endpoints or []
        if ep.conditions is None or ep.conditions.ready is not False
        for addr in ep.addresses
    }


def pod_ips(core: client.CoreV1Api, ns: str, app: str) -> set[str]:
    """IPs KWOK gave the running pods of ``app`` (data only: never contacted)."""
    pods = core.list_namespaced_pod(ns, label_selector=f"app={app}").items
    return {p.status.pod_ip for p in pods if p.status.pod_ip and not p.metadata.deletion_timestamp}


def test_deployment_rolls_out_and_endpointslice_follows(
    kube_api: KubeAPI, kube_namespace: str
) -> None:
    ns = kube_namespace
    apps = client.AppsV1Api(kube_api.api_client)
    core = client.CoreV1Api(kube_api.api_client)
    discovery = client.DiscoveryV1Api(kube_api.api_client)

    apps.create_namespaced_deployment(ns, deployment("web", "web"))
    core.create_namespaced_service(ns, service("web", "web"))
    wait_rollout(apps, ns, "web")

    d = apps.read_namespaced_deployment("web", ns)
    assert d.status.ready_replicas == 2

    def two_addresses() -> set[str] | None:
        got = ready_endpoint_ips(discovery, ns, "web")
        return got if len(got) == 2 else None

    ips = wait_for(
        two_addresses,
        timeout=60,
        what=f"EndpointSlice of service/web with 2 addresses (kubectl describe svc/web -n {ns})",
    )
    assert ips == pod_ips(core, ns, "web")
    nodes = {p.spec.node_name for p in core.list_namespaced_pod(ns, label_selector="app=web").items}
    assert nodes and all(nodes), "every pod was scheduled onto a node"


def test_service_selector_patch_moves_endpoints(kube_api: KubeAPI, kube_namespace: str) -> None:
    ns = kube_namespace
    apps = client.AppsV1Api(kube_api.api_client)
    core = client.CoreV1Api(kube_api.api_client)
    discovery = client.DiscoveryV1Api(kube_api.api_client)

    for app in ("blue", "green"):
        apps.create_namespaced_deployment(ns, deployment(app, app))
    core.create_namespaced_service(ns, service("front", "blue"))
    for app in ("blue", "green"):
        wait_rollout(apps, ns, app)
    blue, green = pod_ips(core, ns, "blue"), pod_ips(core, ns, "green")
    assert len(blue) == 2 and len(green) == 2 and not blue & green

    wait_for(
        lambda: ready_endpoint_ips(discovery, ns, "front") == blue,
        timeout=60,
        what=f"service/front endpoints = blue pods (kubectl describe svc/front -n {ns})",
    )
    core.patch_namespaced_service("front", ns, {"spec": {"selector": {"app": "green"}}})
    wait_for(
        lambda: ready_endpoint_ips(discovery, ns, "front") == green,
        timeout=60,
        what=f"service/front endpoints = green pods after the patch (kubectl describe svc/front -n {ns})",
    )


def _sar(kube_api: KubeAPI, user: str, ns: str, verb: str, resource: str) -> bool:
    authz = client.AuthorizationV1Api(kube_api.api_client)
    review = authz.create_subject_access_review(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "resourceAttributes": {"namespace": ns, "verb": verb, "resource": resource},
            },
        }
    )
    return bool(review.status.allowed)


def test_rbac_role_binding_permits_and_sar_denies(kube_api: KubeAPI, kube_namespace: str) -> None:
    ns = kube_namespace
    rbac = client.RbacAuthorizationV1Api(kube_api.api_client)
    user = f"reader-{ns}"
    rbac.create_namespaced_role(
        ns,
        {
            "metadata": {"name": "pod-reader", "labels": LABELS},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        ns,
        {
            "metadata": {"name": "pod-reader", "labels": LABELS},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "pod-reader",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        },
    )
    # RBAC reads from an informer: wait until the binding is in effect.
    wait_for(
        lambda: _sar(kube_api, user, ns, "list", "pods"),
        timeout=30,
        what=f"RoleBinding pod-reader to grant list pods to {user} in {ns}",
    )
    assert _sar(kube_api, user, ns, "get", "pods")
    assert not _sar(kube_api, user, ns, "delete", "pods")
    assert not _sar(kube_api, user, ns, "list", "secrets")
    assert not _sar(kube_api, user, "default", "list", "pods")
    assert not _sar(kube_api, f"stranger-{ns}", ns, "list", "pods")

    # Enforced on real requests too, not only in reviews: impersonate the user.
    impersonated = client.ApiClient(kube_api.api_client.configuration)
    impersonated.set_default_header("Impersonate-User", user)
    try:
        as_user = client.CoreV1Api(impersonated)
        as_user.list_namespaced_pod(ns)
        with pytest.raises(ApiException) as denied:
            as_user.list_namespaced_secret(ns)
        assert denied.value.status == 403
        with pytest.raises(ApiException) as denied:
            as_user.list_namespaced_pod("default")
        assert denied.value.status == 403
    finally:
        impersonated.close()


def test_restricted_namespace_rejects_privileged_pod(
    kube_api: KubeAPI, kube_namespace: str
) -> None:
    ns = kube_namespace
    core = client.CoreV1Api(kube_api.api_client)
    core.patch_namespace(
        ns,
        {
            "metadata": {
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                }
            }
        },
    )
    privileged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged", "labels": LABELS},
        "spec": {
            "containers": [
                {"name": "main", "image": PAUSE, "securityContext": {"privileged": True}}
            ]
        },
    }
    with pytest.raises(ApiException) as rejected:
        core.create_namespaced_pod(ns, privileged)
    assert rejected.value.status == 403
    message = json.loads(rejected.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    assert "securityContext.privileged=true" in message

    compliant = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "compliant", "labels": LABELS},
        "spec": {"containers": [restricted_container()]},
    }
    core.create_namespaced_pod(ns, compliant)  # the positive control is admitted


def _revision(obj: Any) -> int:
    return int((obj.metadata.annotations or {}).get("deployment.kubernetes.io/revision", "0"))


def _owned_replicasets(apps: client.AppsV1Api, ns: str, deploy: Any) -> list[Any]:
    return [
        rs
        for rs in apps.list_namespaced_replica_set(ns).items
        if any(ref.uid == deploy.metadata.uid for ref in rs.metadata.owner_references or [])
    ]


def rollout_undo(api_client: client.ApiClient, ns: str, name: str) -> int:
    """Roll back to the previous revision exactly as ``kubectl rollout undo`` does.

    Patch the Deployment's template back to the previous ReplicaSet's template (less
    the pod-template-hash label) and its annotations, with a JSON patch. Returns the
    revision rolled back to.
    """
    apps = client.AppsV1Api(api_client)
    deploy = apps.read_namespaced_deployment(name, ns)
    if deploy.spec.paused:
        raise AssertionError(f"deployment/{name} is paused; resume it before undo")
    current = _revision(deploy)
    older = [rs for rs in _owned_replicasets(apps, ns, deploy) if _revision(rs) < current]
    if not older:
        raise AssertionError(f"deployment/{name} has no previous revision to undo to")
    previous = max(older, key=_revision)
    # camelCase dicts as the API serves them, so the template patches back verbatim.
    template = api_client.sanitize_for_serialization(previous.spec.template)
    template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    annotations = {
        k: v for k, v in (deploy.metadata.annotations or {}).items() if k in ANNOTATIONS_TO_SKIP
    }
    annotations.update(
        {
            k: v
            for k, v in (previous.metadata.annotations or {}).items()
            if k not in ANNOTATIONS_TO_SKIP
        }
    )
    patch = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    # A list body is sent as application/json-patch+json, as kubectl does.
    apps.patch_namespaced_deployment(name, ns, patch)
    return _revision(previous)


def test_rollout_undo_returns_to_previous_replicaset(
    kube_api: KubeAPI, kube_namespace: str
) -> None:
    ns = kube_namespace
    apps = client.AppsV1Api(kube_api.api_client)
    old_image, new_image = "registry.k8s.io/pause:3.9", PAUSE

    apps.create_namespaced_deployment(ns, deployment("api", "api", image=old_image))
    wait_rollout(apps, ns, "api")
    deploy = apps.read_namespaced_deployment("api", ns)
    (first_rs,) = _owned_replicasets(apps, ns, deploy)

    apps.patch_namespaced_deployment(
        "api",
        ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": new_image}]}}}},
    )
    wait_rollout(apps, ns, "api")
    deploy = apps.read_namespaced_deployment("api", ns)
    assert _revision(deploy) == 2

    assert rollout_undo(kube_api.api_client, ns, "api") == 1
    wait_rollout(apps, ns, "api")

    deploy = apps.read_namespaced_deployment("api", ns)
    assert deploy.spec.template.spec.containers[0].image == old_image
    active = [rs for rs in _owned_replicasets(apps, ns, deploy) if (rs.spec.replicas or 0) > 0]
    assert [rs.metadata.uid for rs in active] == [first_rs.metadata.uid], (
        "undo must scale the previous ReplicaSet back up, not create a new one"
    )
    assert _revision(active[0]) == 3 and _revision(deploy) == 3
    assert active[0].status.ready_replicas == 2
