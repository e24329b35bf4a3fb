"""Lab 01's installs on a cluster: objects applied and reported, Milvus (manifests or Helm), its data.

Mechanics of the kube steps: the lesson says what each step does and why; these functions
do it and report each object's outcome through the run.
"""

from __future__ import annotations

from milvus_lab.kube import apply, helm, storage
from milvus_lab.kube import manifests as m
from milvus_lab.kube.apply import KubeObject
from milvus_lab.kube.context import KubeConnection
from milvus_lab.kube.wait import wait_for_rollout
from milvus_lab.labkit import LabRun
from milvus_lab.milvus import collections, datasets
from milvus_lab.milvus.client import connect
from milvus_lab.milvus.collections import CollectionStatus
from milvus_lab.progress import OnProgress
from milvus_lab.releases import ALIAS, V1
from milvus_lab.settings import Settings, find_repo_root


def apply_and_report(run: LabRun, conn: KubeConnection, objs: list[KubeObject]) -> None:
    """Server-side apply; each object's action (created, configured, unchanged) goes to the report."""
    applied = run.section.setdefault("applied", {})
    for r in apply.apply_objects(conn, objs):
        applied[str(r.ref)] = r.action
        run.result(True, f"{r.ref}: {r.action}")
        for w in r.warnings:
            run.warn(f"API server warning: {w}")


def install_milvus(run: LabRun, conn: KubeConnection, milvus: list[KubeObject]) -> None:
    """`--installer helm`: the official chart, then our Services; else our StatefulSet on static
    volumes, waited for until ready (stops early on CrashLoopBackOff with the pod's reason)."""
    ns = run.settings.namespace
    if run.args.installer == "helm":
        helm.install(ns, find_repo_root() / helm.VALUES, conn.context)
        run.result(True, f"helm release {helm.RELEASE} ({helm.CHART} {helm.CHART_VERSION}) deployed")
        apply_and_report(run, conn, milvus)
        return
    apply_and_report(run, conn, [*storage.static_volumes(conn, m.StackOptions("01", namespace=ns)), *milvus])
    with run.progress() as bars:
        run.result(True, wait_for_rollout(conn, "StatefulSet", m.MILVUS_NAME, ns, timeout=900, on_progress=bars).line)


def load_catalogue(settings: Settings, milvus_uri: str, on_progress: OnProgress) -> CollectionStatus:
    """The v1 catalogue into the cluster's Milvus (reused when complete) and the alias onto it."""
    client = connect(milvus_uri)
    try:
        status = collections.ensure_collection(client, V1.collection, datasets.ensure_dataset(settings, V1.dataset),
                                               V1.index, on_progress=on_progress)
        collections.point_alias(client, ALIAS, V1.collection)
    finally:
        client.close()
    return status
