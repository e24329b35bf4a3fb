"""Cleanup deletes by label only, and a shared namespace stays while another lab uses it.

Why: cleanup must never touch what the labs did not make, and lab 01's cleanup must not
pull the namespace from under lab 03.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from milvus_lab.kube import apply, cleanup, context
from milvus_lab.kube import manifests as m
from milvus_lab.labkit import load_impl

pytestmark = pytest.mark.kube


def test_cleanup_by_label_keeps_shared_namespace_and_foreign_objects(kube_api: Any, kube_namespace: str) -> None:
    conn = context.from_api_client(kube_api.api_client, kube_api.context, kube_api.is_kind)
    ns = kube_namespace
    apply.apply_objects(conn, m.stack(m.StackOptions("01", namespace=ns, milvus=False), {"K": "v"},
                                         load_impl("lab01_kubernetes", "solutions").builders()))
    apply.apply_objects(conn, [m.search_api_service("search-api-preview", "green", namespace=ns, lab="03",
                                                    node_port=None)])
    conn.core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="not-ours")))

    first = cleanup.cleanup(conn, "01", namespace=ns)
    assert first.kept_namespaces == {ns: "objects of lab 03 remain"}
    left = {str(r) for r, _ in cleanup.find_labelled(conn, m.lab_selector(None), ns)}
    assert left == {f"Service {ns}/search-api-preview", f"Namespace {ns}"}
    assert conn.core.read_namespaced_config_map("not-ours", ns).metadata.name == "not-ours"
    assert not conn.core.list_namespaced_pod(ns, label_selector=m.lab_selector("01")).items

    second = cleanup.cleanup(conn, "03", namespace=ns)
    assert second.counts() == {"Service": 1, "Namespace": 1}
    assert not conn.core.list_namespace(field_selector=f"metadata.name={ns}").items


def test_cleanup_of_nothing_is_quick_and_empty(kube_api: Any, kube_namespace: str) -> None:
    conn = context.from_api_client(kube_api.api_client, kube_api.context, kube_api.is_kind)
    result = cleanup.cleanup(conn, "01", namespace=kube_namespace)
    assert result.deleted == [] and result.kept_namespaces == {}
