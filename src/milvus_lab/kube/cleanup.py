"""Remove what a lab made, found by label only (never by name), and wait until it is gone.

Deleting by label means cleanup can never touch an object the labs did not create, and
it finds everything a lab made even after a crash half-way. A namespace is deleted only
when no other lab still has objects in it (lab 03 shares lab 01's namespace).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from milvus_lab.kube.apply import ObjectRef
from milvus_lab.kube.manifests import LAB_LABEL, lab_selector
from milvus_lab.kube.wait import WaitFailed
from milvus_lab.polling import poll_until
from milvus_lab.progress import OnProgress, ProgressUpdate, ignore

#: Every kind a lab creates, deleted in this order: consumers first, namespace last.
KINDS: tuple[tuple[str, str], ...] = (
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
    ("v1", "Service"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("v1", "ServiceAccount"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("v1", "PersistentVolume"),
    ("v1", "Namespace"),
)
#: Deleted by the garbage collector with their owners; waited for, never deleted directly.
OWNED_KINDS: tuple[tuple[str, str], ...] = (("apps/v1", "ReplicaSet"), ("v1", "Pod"))


@dataclass
class CleanupResult:
    deleted: list[ObjectRef] = field(default_factory=list)
    kept_namespaces: dict[str, str] = field(default_factory=dict)  # name -> why it was kept
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.deleted:
            out[r.kind] = out.get(r.kind, 0) + 1
        return out


def _resource(conn: Any, api_version: str, kind: str) -> Any | None:
    try:
        return conn.dynamic.resources.get(api_version=api_version, kind=kind)
    except Exception:  # noqa: BLE001 - a kind this cluster does not serve: nothing of it to find
        return None


def find_labelled(
    conn: Any, selector: str, namespace: str | None = None,
    kinds: tuple[tuple[str, str], ...] = KINDS,
) -> list[tuple[ObjectRef, dict[str, str]]]:
    """Objects matching `selector` across `kinds` (all namespaces unless one is given)."""
    found: list[tuple[ObjectRef, dict[str, str]]] = []
    for api_version, kind in kinds:
        resource = _resource(conn, api_version, kind)
        if resource is None:
            continue
        ns = namespace if resource.namespaced else None
        listing = conn.dynamic.get(resource, namespace=ns, label_selector=selector)
        for item in listing.items:
            meta = item.metadata
            if kind == "Namespace" and namespace and meta.name != namespace:
                continue
            labels = dict(meta.labels or {})
            found.append((ObjectRef(api_version, kind, meta.name, meta.namespace), labels))
    return found


def _other_labs_in(conn: Any, namespace: str, lab: str) -> set[str]:
    others = set()
    for _ref, labels in find_labelled(conn, lab_selector(None), namespace, KINDS[:-2]):
        if labels.get(LAB_LABEL) not in (None, lab):
            others.add(labels[LAB_LABEL])
    return others


def cleanup(
    conn: Any, lab: str, *, namespace: str | None = None, wait: bool = True,
    timeout: float = 180.0, on_progress: OnProgress = ignore,
) -> CleanupResult:
    """Delete everything labelled `milvus-lab/lab=<lab>` (background propagation), then wait.

    A namespace goes too when a lab created it (it has a `milvus-lab/lab` label) and no
    other lab's objects remain in it, whichever lab created it.
    """
    t0 = time.monotonic()
    result = CleanupResult()
    selector = lab_selector(lab)
    touched: set[str] = set()
    for r, _labels in find_labelled(conn, selector, namespace, KINDS[:-1]):
        _delete(conn, r, result)
        if r.namespace:
            touched.add(r.namespace)
    gone_namespaces: set[str] = set()
    for r, labels in find_labelled(conn, lab_selector(None), namespace, KINDS[-1:]):
        if LAB_LABEL not in labels or (labels[LAB_LABEL] != lab and r.name not in touched):
            continue
        others = _other_labs_in(conn, r.name, lab)
        if others:
            result.kept_namespaces[r.name] = f"objects of lab {', '.join(sorted(others))} remain"
            continue
        _delete(conn, r, result)
        gone_namespaces.add(r.name)
    if wait and result.deleted:
        wait_until_gone(conn, selector, namespace, timeout=timeout, on_progress=on_progress,
                        kept=set(result.kept_namespaces), namespaces=gone_namespaces)
    result.seconds = round(time.monotonic() - t0, 2)
    return result


def _delete(conn: Any, r: ObjectRef, result: CleanupResult) -> None:
    from kubernetes.client.rest import ApiException

    resource = _resource(conn, r.api_version, r.kind)
    try:
        conn.dynamic.delete(resource, name=r.name, namespace=r.namespace if resource.namespaced else None,
                            propagation_policy="Background")
        result.deleted.append(r)
    except ApiException as exc:
        if exc.status != 404:
            raise


def wait_until_gone(
    conn: Any, selector: str, namespace: str | None = None, *, timeout: float = 180.0,
    on_progress: OnProgress = ignore, kept: set[str] | None = None, namespaces: set[str] | None = None,
) -> None:
    """Poll until nothing matching `selector` is left (owned pods included), nor any of
    `namespaces` (a namespace another lab labelled)."""
    kept = kept or set()

    def remaining() -> list[ObjectRef]:
        left = [r for r, _ in find_labelled(conn, selector, namespace, KINDS + OWNED_KINDS)
                if not (r.kind == "Namespace" and r.name in kept)]
        existing = {r.name for r, _ in find_labelled(conn, lab_selector(None), None, KINDS[-1:])}
        left += [ObjectRef("v1", "Namespace", n) for n in sorted((namespaces or set()) & existing)
                 if all(r.name != n or r.kind != "Namespace" for r in left)]
        return left

    left = remaining()
    total = max(len(left), 1)

    def gone() -> bool:
        nonlocal left
        left = remaining()
        if left:
            on_progress(ProgressUpdate("delete", total - min(len(left), total), total,
                                       f"deleting: {len(left)} left ({left[0]})"))
        return not left

    try:
        poll_until(gone, timeout=timeout, what="the lab's objects to be deleted", error=WaitFailed,
                   fix=f"kubectl get all,pvc,ns -A -l {selector}")
    except WaitFailed as exc:
        exc.message += f": {len(left)} still present, e.g. {left[0]}"
        exc.fix = f"{exc.fix}; kubectl describe {left[0].kubectl}"
        exc.ref = left[0]
        raise
    on_progress(ProgressUpdate("delete", total, total, "deleted"))


def kubectl_cleanup_command(lab: str) -> str:
    kinds = ",".join(sorted({k.lower() for _, k in KINDS}))
    return f"kubectl delete {kinds} -A -l {lab_selector(lab)}"
