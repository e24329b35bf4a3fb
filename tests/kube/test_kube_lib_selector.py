"""The blue-green switch lab 03 uses: patch a Service selector, verified by EndpointSlices.

Why: the Service must never point at a slot without ready pods, and after the switch
its endpoints must be exactly the new slot's pods.
"""

from __future__ import annotations

from typing import Any

import pytest

from milvus_lab.errors import VerificationFailed
from milvus_lab.kube import apply, cleanup, context
from milvus_lab.kube import manifests as m
from milvus_lab.kube.selector import current_slot, endpoints, switch_service_selector
from milvus_lab.kube.wait import wait_for_rollout

pytestmark = pytest.mark.kube


def test_switch_live_service_between_slots(kube_api: Any, kube_namespace: str) -> None:
    conn = context.from_api_client(kube_api.api_client, kube_api.context, kube_api.is_kind)
    if conn.is_kind:
        pytest.skip("on kind the API pods need Milvus and data; lab 03 covers kind")
    ns = kube_namespace
    objs = [
        m.search_api_deployment("blue", "v1", 2, namespace=ns, lab="03"),
        m.search_api_deployment("green", "v2", 2, namespace=ns, lab="03"),
        m.search_api_service("search-api", "blue", namespace=ns, lab="03", node_port=None),
        m.search_api_service("search-api-preview", "green", namespace=ns, lab="03", node_port=None),
    ]
    try:
        apply.apply_objects(conn, objs)
        for slot in ("blue", "green"):
            wait_for_rollout(conn, "Deployment", f"search-api-{slot}", ns, timeout=120)
        with pytest.raises(VerificationFailed, match="no ready pods"):
            switch_service_selector(conn, ns, "search-api", "purple")
        assert current_slot(conn, ns, "search-api") == "blue"

        result = switch_service_selector(conn, ns, "search-api", "green")
        assert (result.previous_slot, result.slot) == ("blue", "green")
        assert len(result.endpoints) == 2 and {e.slot for e in result.endpoints} == {"green"}
        assert {e.slot for e in endpoints(conn, ns, "search-api-preview")} == {"green"}

        back = switch_service_selector(conn, ns, "search-api", "blue")
        assert back.previous_slot == "green" and {e.slot for e in back.endpoints} == {"blue"}
    finally:
        cleanup.cleanup(conn, "03", namespace=ns)
