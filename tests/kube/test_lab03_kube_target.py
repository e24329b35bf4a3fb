"""Lab 03's control-plane steps on a real API server (kind or the kube-testenv):
apply, rollout, preview, selector switch, endpoints follow, rollback, scale-down, cleanup.

Only the API server is contacted; the data plane (traffic through NodePorts) needs kind.
"""

from __future__ import annotations

import pytest

from milvus_lab.errors import PrerequisiteError
from milvus_lab.kube import manifests as m
from milvus_lab.kube.context import from_api_client
from milvus_lab.kube.selector import endpoints, wait_for_endpoints
from milvus_lab.releases import V1, V2
from milvus_lab.settings import Settings
from milvus_lab.targets.kube import LIVE_SERVICE, PREVIEW_SERVICE, KubeTarget

pytestmark = pytest.mark.kube


@pytest.fixture
def target(kube_api, kube_namespace):
    conn = from_api_client(kube_api.api_client, kube_api.context, kube_api.is_kind, str(kube_api.kubeconfig))
    t = KubeTarget(Settings(target="kube", namespace=kube_namespace), lab="03", conn=conn)
    yield t
    t.cleanup()


def slots_behind(target: KubeTarget, service: str) -> set[str]:
    return {e.slot for e in endpoints(target.conn, target.namespace, service) if e.ready}


def test_blue_green_switch_and_rollback(target):
    blue = V1.api_config(target.api_milvus_uri())
    green = V2.api_config(target.api_milvus_uri())
    target.deploy(blue, 2)
    target.route({"blue": 100})
    assert target.live_slots() == ["blue"]
    wait_for_endpoints(target.conn, target.namespace, LIVE_SERVICE, "blue", minimum=2)

    target.deploy(green, 2)  # a second deploy must not move live traffic
    assert target.live_slots() == ["blue"]
    target.set_preview("green")
    wait_for_endpoints(target.conn, target.namespace, PREVIEW_SERVICE, "green", minimum=2)
    assert slots_behind(target, LIVE_SERVICE) == {"blue"}

    target.route({"green": 100})  # the switch: endpoints follow the selector
    assert target.live_slots() == ["green"]
    assert slots_behind(target, LIVE_SERVICE) == {"green"}

    target.route({"blue": 100})  # rollback
    assert slots_behind(target, LIVE_SERVICE) == {"blue"}

    target.retire("green")
    dep = target.conn.apps.read_namespaced_deployment(f"{m.API_NAME}-green", target.namespace)
    assert dep.spec.replicas == 0

    pod_env = {e.name: e.value for e in dep.spec.template.spec.containers[0].env if e.value}
    assert pod_env["MILVUS_LAB_MILVUS_URI"].startswith(f"http://milvus.{target.namespace}.svc")
    assert pod_env["MILVUS_LAB_API_VERSION"] == "v2"


def test_weighted_split_is_refused_with_a_fix(target):
    target.deploy(V1.api_config(target.api_milvus_uri()), 1)
    with pytest.raises(PrerequisiteError, match="one slot"):
        target.route({"blue": 50, "green": 50})


def test_switch_to_a_slot_without_ready_pods_is_refused(target):
    from milvus_lab.errors import VerificationFailed

    target.deploy(V1.api_config(target.api_milvus_uri()), 1)
    with pytest.raises(VerificationFailed, match="no ready pods"):
        target.route({"green": 100})
    assert target.live_slots() == ["blue"]


def test_cleanup_removes_by_label(target):
    target.deploy(V1.api_config(target.api_milvus_uri()), 1)
    target.cleanup()
    left = target.conn.apps.list_namespaced_deployment(target.namespace,
                                                       label_selector="milvus-lab/lab=03").items
    assert not left


def test_dry_run_plan_validates(target):
    rows = target.plan([(V1.api_config(target.api_milvus_uri()), 2), (V2.api_config(target.api_milvus_uri()), 2)])
    assert any("server dry-run" in r.name for r in rows), rows
    assert rows and all(r.passed for r in rows), [r for r in rows if not r.passed]
