"""Scale a workload through its `scale` subresource, as `kubectl scale` does, and watch it.

The scale subresource is what the HPA writes too; a manual scale is therefore temporary
when an HPA targets the Deployment and the new count is outside its min/max.
"""

from __future__ import annotations

from typing import Any

from milvus_lab.kube.labels import FIELD_MANAGER
from milvus_lab.kube.wait import RolloutState, wait_for_rollout
from milvus_lab.progress import OnProgress, ignore

PLURALS = {"Deployment": "deployments", "StatefulSet": "statefulsets"}


def scale(conn: Any, kind: str, name: str, namespace: str, replicas: int) -> int:
    """Set `replicas` on the scale subresource; return the previous count."""
    if replicas < 0:
        raise ValueError(f"replicas must be >= 0, got {replicas}")
    path = f"/apis/apps/v1/namespaces/{namespace}/{PLURALS[kind]}/{name}/scale"
    before = conn.dynamic.request("get", path)
    conn.dynamic.request(
        "patch", path, body={"spec": {"replicas": replicas}},
        content_type="application/merge-patch+json", field_manager=FIELD_MANAGER,
    )
    return int(before.spec.replicas or 0)


def scale_and_wait(
    conn: Any, kind: str, name: str, namespace: str, replicas: int,
    *, timeout: float = 180.0, on_progress: OnProgress = ignore,
) -> tuple[int, RolloutState]:
    """Scale, then wait until exactly `replicas` pods are ready and no extra pod is left."""
    previous = scale(conn, kind, name, namespace, replicas)
    state = wait_for_rollout(conn, kind, name, namespace, timeout=timeout, on_progress=on_progress)
    return previous, state


def kubectl_scale_command(kind: str, name: str, namespace: str, replicas: int) -> str:
    return f"kubectl scale {kind.lower()}/{name} -n {namespace} --replicas={replicas}"
