"""Rollout waits and the scale demo (2 -> 3 -> 2) against a real API server.

Why: lab 01 scales while watching, and every wait must end when the controllers say
the rollout is complete (KWOK marks pods ready; kind runs them).
"""

from __future__ import annotations

from typing import Any

import pytest

from milvus_lab.kube import apply, cleanup, context, storage
from milvus_lab.kube import manifests as m
from milvus_lab.kube.scale import scale_and_wait
from milvus_lab.kube.selector import endpoints
from milvus_lab.kube.wait import wait_for_rollout
from milvus_lab.labkit import load_impl

pytestmark = pytest.mark.kube


def test_rollout_then_scale_2_3_2(kube_api: Any, kube_namespace: str) -> None:
    conn = context.from_api_client(kube_api.api_client, kube_api.context, kube_api.is_kind)
    if conn.is_kind:
        pytest.skip("on kind the API pods need Milvus and data; lab 01 itself covers kind")
    ns = kube_namespace
    opts = m.StackOptions("01", namespace=ns)
    try:
        apply.apply_objects(conn, [*storage.static_volumes(conn, opts), *m.stack(opts, {"K": "v"}, load_impl("lab01_kubernetes", "solutions").builders())])
        sts = wait_for_rollout(conn, "StatefulSet", "milvus", ns, timeout=120)
        assert sts.done and sts.ready == 1
        dep = wait_for_rollout(conn, "Deployment", "search-api-blue", ns, timeout=120)
        assert (dep.ready, dep.pods) == (2, 2)
        for n in (3, 2):
            previous, state = scale_and_wait(conn, "Deployment", "search-api-blue", ns, n,
                                             timeout=120)
            assert previous == (2 if n == 3 else 3)
            assert state.done and state.ready == n and state.pods == n, state
            ready = [e for e in endpoints(conn, ns, "search-api") if e.ready]
            assert len(ready) == n and {e.slot for e in ready} == {"blue"}
    finally:
        result = cleanup.cleanup(conn, "01", namespace=ns)
    assert result.counts()["PersistentVolume"] == 1 and "Namespace" in result.counts()
