"""Waits that stop early on real failures, and time out naming the object and the fix.

Why: a pod in CrashLoopBackOff or ImagePullBackOff will not recover within the timeout;
the lab must stop at once with the pod's reason and the `kubectl describe` command.
The KWOK testenv runs no containers, so container failures are written into a pod's
status by the test (the API server accepts that from any client) on a pod that no
node owns.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from kubernetes import client

from milvus_lab.kube import apply, context
from milvus_lab.kube import manifests as m
from milvus_lab.kube.wait import WaitFailed, pod_problems, wait_for_rollout


def _pod(reason: str, message: str = "", restarts: int = 0, last_exit: int | None = None) -> client.V1Pod:
    last = client.V1ContainerState(terminated=client.V1ContainerStateTerminated(
        exit_code=last_exit, reason="Error")) if last_exit is not None else None
    status = client.V1ContainerStatus(
        name="search-api", image="i", image_id="", ready=False, restart_count=restarts,
        state=client.V1ContainerState(waiting=client.V1ContainerStateWaiting(reason=reason, message=message)),
        last_state=last)
    return client.V1Pod(metadata=client.V1ObjectMeta(name="p-1", namespace="ns"),
                        status=client.V1PodStatus(phase="Pending", container_statuses=[status]))


def test_pod_problems_reads_container_reasons() -> None:
    problems, _ = pod_problems([_pod("CrashLoopBackOff", "back-off 40s", restarts=4, last_exit=1),
                                _pod("ImagePullBackOff", "pull access denied"), _pod("ContainerCreating")])
    assert [p.reason for p in problems] == ["CrashLoopBackOff", "ImagePullBackOff"]
    assert "last exit: Error (code 1) after 4 restarts" in problems[0].message
    assert problems[0].describe == "kubectl describe pod p-1 -n ns"


def _unschedulable(ns: str, name: str, **spec: Any) -> Any:
    dep = apply.to_dict(m.search_api_deployment(namespace=ns, lab="01"))
    dep["metadata"]["name"] = name
    dep["spec"]["selector"]["matchLabels"]["milvus-lab/test-case"] = name
    dep["spec"]["template"]["metadata"]["labels"]["milvus-lab/test-case"] = name
    dep["spec"]["template"]["spec"]["nodeSelector"] = {"milvus-lab/no-such-node": "true"}
    dep["spec"].update(spec)
    return dep


@pytest.fixture
def conn(kube_api: Any) -> context.KubeConnection:
    return context.from_api_client(kube_api.api_client, kube_api.context, kube_api.is_kind)


@pytest.mark.kube
def test_timeout_names_object_pending_reason_and_describe(conn: Any, kube_namespace: str) -> None:
    apply.apply_objects(conn, [_unschedulable(kube_namespace, "never-scheduled")])
    t0 = time.monotonic()
    with pytest.raises(WaitFailed) as err:
        wait_for_rollout(conn, "Deployment", "never-scheduled", kube_namespace, timeout=4)
    assert time.monotonic() - t0 < 15
    text = str(err.value)
    assert f"Deployment {kube_namespace}/never-scheduled not ready after 4s" in text
    assert "Unschedulable" in text
    assert f"kubectl describe deployment/never-scheduled -n {kube_namespace}" in text


@pytest.mark.kube
def test_quota_exceeded_fails_at_once(conn: Any, kube_namespace: str) -> None:
    quota = client.V1ResourceQuota(api_version="v1", kind="ResourceQuota",
                                   metadata=client.V1ObjectMeta(name="one-pod", namespace=kube_namespace),
                                   spec=client.V1ResourceQuotaSpec(hard={"pods": "1"}))
    apply.apply_objects(conn, [quota])
    apply.apply_objects(conn, [_unschedulable(kube_namespace, "too-many")])
    with pytest.raises(WaitFailed) as err:
        wait_for_rollout(conn, "Deployment", "too-many", kube_namespace, timeout=90)
    assert "ReplicaFailure" in str(err.value) and "exceeded quota" in str(err.value)


@pytest.mark.kube
def test_progress_deadline_exceeded_fails_before_the_timeout(conn: Any, kube_namespace: str) -> None:
    apply.apply_objects(conn, [_unschedulable(kube_namespace, "stuck", progressDeadlineSeconds=2)])
    t0 = time.monotonic()
    with pytest.raises(WaitFailed, match="ProgressDeadlineExceeded"):
        wait_for_rollout(conn, "Deployment", "stuck", kube_namespace, timeout=120)
    assert time.monotonic() - t0 < 60


@pytest.mark.kube
@pytest.mark.parametrize("reason", ["CrashLoopBackOff", "ImagePullBackOff"])
def test_container_failure_stops_the_wait_with_the_pod_reason(conn: Any, kube_namespace: str, reason: str) -> None:
    name = f"fails-{reason.lower()}"
    apply.apply_objects(conn, [_unschedulable(kube_namespace, name)])
    core = conn.core
    pod = _wait_for_pod(core, kube_namespace, name)
    status_path = f"/api/v1/namespaces/{kube_namespace}/pods/{pod}/status"
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn.dynamic.request("patch", status_path, content_type="application/merge-patch+json", body={"status": {
        "containerStatuses": [{
            "name": "search-api", "image": m.API_IMAGE, "imageID": "", "ready": False, "restartCount": 3,
            "state": {"waiting": {"reason": reason, "message": f"simulated {reason}"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}},
        }]}})
    with pytest.raises(WaitFailed) as err:
        wait_for_rollout(conn, "Deployment", name, kube_namespace, timeout=60)
    text = str(err.value)
    assert reason in text and f"pod {kube_namespace}/{pod}" in text
    assert f"kubectl describe pod {pod} -n {kube_namespace}" in text


def _wait_for_pod(core: Any, ns: str, name: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pods = core.list_namespaced_pod(ns, label_selector=f"milvus-lab/test-case={name}").items
        if pods:
            return pods[0].metadata.name
        time.sleep(0.2)
    raise AssertionError(f"no pod for {name}")
