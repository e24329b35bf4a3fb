"""Server-side apply against a real API server: create, idempotent re-apply, server
dry-run, and the API server's own rejections turned into one clear message.

Why: `--dry-run` and re-running a lab must change nothing; a broken object must name
itself and the field. Runs on kind or the KWOK testenv (only the API server is used).
"""

from __future__ import annotations

from typing import Any

import pytest

from milvus_lab.errors import PrerequisiteError
from milvus_lab.kube import apply, cleanup, context, storage
from milvus_lab.kube import manifests as m
from milvus_lab.labkit import load_impl

pytestmark = pytest.mark.kube

BUILDERS = load_impl("lab01_kubernetes", "solutions").builders()


@pytest.fixture
def conn(kube_api: Any) -> context.KubeConnection:
    return context.from_api_client(kube_api.api_client, kube_api.context, kube_api.is_kind)


def test_apply_creates_then_reapply_changes_nothing(conn: Any, kube_namespace: str) -> None:
    opts = m.StackOptions("01", namespace=kube_namespace)
    objs = [*storage.static_volumes(conn, opts), *m.stack(opts, {"MILVUS_LAB_API_KEY": "t"}, BUILDERS)]
    try:
        first = apply.apply_objects(conn, objs)
        assert {r.action for r in first if r.ref.kind != "Namespace"} == {"created"}
        second = apply.apply_objects(conn, objs)
        assert {r.action for r in second} == {"unchanged"}, [(str(r.ref), r.action) for r in second]
        dep = conn.apps.read_namespaced_deployment("search-api-blue", kube_namespace)
        managers = {f.manager for f in dep.metadata.managed_fields}
        assert m.FIELD_MANAGER in managers
        sts = next(r for r in first if r.ref.kind == "StatefulSet")
        assert any("restricted" in w for w in sts.warnings), "Pod Security warns about the Milvus pod"
    finally:
        cleanup.cleanup(conn, "01", namespace=kube_namespace)


def test_server_dry_run_stores_nothing(conn: Any, kube_namespace: str) -> None:
    ns = f"{kube_namespace}-dry"  # does not exist: namespaced objects are dry-run in default
    objs = m.stack(m.StackOptions("01", namespace=ns), {"MILVUS_LAB_API_KEY": "t"}, BUILDERS)
    results = apply.apply_objects(conn, objs, dry_run=True)
    assert {r.action for r in results} == {"would create"}
    assert any("does not exist yet" in r.note for r in results)
    assert not conn.core.list_namespace(field_selector=f"metadata.name={ns}").items
    existing = apply.apply_objects(conn, m.stack(m.StackOptions("01", namespace=kube_namespace), {"K": "v"}, BUILDERS)[:3],
                                   dry_run=True)
    assert [r.action for r in existing][:1] == ["would update"]  # the fixture made the namespace


def test_api_server_rejection_names_object_and_field(conn: Any, kube_namespace: str) -> None:
    dep = apply.to_dict(m.search_api_deployment(namespace=kube_namespace, lab="01"))
    dep["spec"]["template"]["metadata"]["labels"] = {"app": "something-else"}  # schema-valid, semantically wrong
    assert apply.validate_offline([dep]) == []
    with pytest.raises(PrerequisiteError) as err:
        apply.apply_objects(conn, [dep], dry_run=True)
    text = str(err.value)
    assert f"Deployment {kube_namespace}/search-api-blue" in text
    assert "spec.template.metadata.labels" in text and "selector" in text


def test_unknown_api_is_a_clear_error(conn: Any, kube_namespace: str) -> None:
    hpa = {**apply.to_dict(BUILDERS.hpa("x", kube_namespace, "01")), "apiVersion": "autoscaling/v2beta2"}
    with pytest.raises(PrerequisiteError, match="does not serve HorizontalPodAutoscaler in autoscaling/v2beta2"):
        apply.apply_objects(conn, [hpa], dry_run=True)
