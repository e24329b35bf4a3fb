"""Lab 05 on a real API server: least-privilege ServiceAccounts proven by SubjectAccessReview,
Pod Security `restricted` rejecting a privileged pod, the Milvus credentials as files."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from milvus_lab.kube import context
from milvus_lab.kube.apply import apply_objects, to_dict
from milvus_lab.security import kube_rbac
from milvus_lab.testing.kube_fixtures import KubeAPI, wait_for

pytestmark = pytest.mark.kube
IMAGE = "registry.k8s.io/pause:3.10"


@pytest.fixture
def secured(kube_api: KubeAPI, kube_namespace: str) -> str:
    conn = context.from_api_client(kube_api.api_client, kube_api.context, kube_api.is_kind)
    objs: list[Any] = [kube_rbac.restricted_namespace(kube_namespace),
                       *kube_rbac.rbac_objects(kube_namespace)]
    results = apply_objects(conn, objs)
    assert [r.action for r in results] == ["configured"] + ["created"] * (len(objs) - 1)
    again = apply_objects(conn, objs)  # server-side apply is idempotent
    assert {r.action for r in again} == {"unchanged"}
    return kube_namespace


def test_every_grant_and_every_denial_is_what_we_meant(kube_api: KubeAPI, secured: str) -> None:
    def all_as_meant() -> list[kube_rbac.AccessCheck] | None:
        checks = kube_rbac.prove_least_privilege(kube_api.api_client, secured)
        return checks if all(c.ok for c in checks) else None

    # RBAC reads from an informer: wait until the bindings are in effect (or time out)
    checks = wait_for(all_as_meant, timeout=30, what=f"RoleBindings in {secured} to take effect")
    assert {c.expected for c in checks} == {True, False}  # both sides are proven
    wrong = [c.describe() for c in checks if not c.ok]
    assert not wrong, wrong
    # the search API uses nothing from the API server: not even its own token is mounted
    sa = client.CoreV1Api(kube_api.api_client).read_namespaced_service_account("search-api", secured)
    assert sa.automount_service_account_token is False
    roles = client.RbacAuthorizationV1Api(kube_api.api_client).list_namespaced_role(secured).items
    assert sorted(r.metadata.name for r in roles) == ["data-pipeline", "release-switcher"]
    for role in roles:
        assert role.metadata.labels["milvus-lab/lab"] == "05"
        assert all("*" not in rule.verbs and "*" not in rule.resources for rule in role.rules)


def test_a_too_broad_role_is_caught(kube_api: KubeAPI, secured: str) -> None:
    conn = context.from_api_client(kube_api.api_client, kube_api.context, kube_api.is_kind)
    broad = kube_rbac.Workload("data-pipeline", (kube_rbac.Rule("", "*", ("*",)),), uses_api=True)
    apply_objects(conn, kube_rbac.rbac_objects(secured, workloads=[broad]))
    wait_for(lambda: kube_rbac.can(kube_api.api_client, kube_rbac.subject("data-pipeline", secured),
                                   secured, "list", "secrets"),
             timeout=30, what="the broad role to take effect")
    bad = [c.describe() for c in kube_rbac.prove_least_privilege(kube_api.api_client, secured)
           if not c.ok]
    assert "data-pipeline list secrets" in bad


def test_restricted_rejects_privileged_and_admits_the_secure_api(
    kube_api: KubeAPI, secured: str
) -> None:
    core = client.CoreV1Api(kube_api.api_client)
    with pytest.raises(ApiException) as rejected:
        core.create_namespaced_pod(secured, to_dict(kube_rbac.privileged_pod(IMAGE, secured)))
    assert rejected.value.status == 403
    message = json.loads(rejected.value.body)["message"]
    assert 'violates PodSecurity "restricted:v1.33"' in message and "privileged" in message

    conn = context.from_api_client(kube_api.api_client, kube_api.context, kube_api.is_kind)
    secret = kube_rbac.credentials_secret({"token": "search-api:placeholder"}, secured)
    deploy = kube_rbac.secure_search_api(IMAGE, secured)
    apply_objects(conn, [secret, deploy])
    spec = to_dict(deploy)["spec"]["template"]["spec"]
    (volume,) = spec["volumes"]
    assert volume["secret"] == {"secretName": kube_rbac.SECRET_NAME, "defaultMode": 0o400}
    env_names = {e["name"] for e in spec["containers"][0].get("env", [])}
    assert env_names == {"MILVUS_LAB_API_MILVUS_TOKEN_FILE"}  # a path, never the secret
    assert "envFrom" not in spec["containers"][0]
    # admitted by `restricted`: the ReplicaSet creates its pod (no FailedCreate)
    apps = client.AppsV1Api(kube_api.api_client)
    wait_for(lambda: (apps.read_namespaced_deployment(deploy.metadata.name, secured).status
                      .replicas or 0) >= 1,
             timeout=60, what=f"deployment/{deploy.metadata.name} -n {secured} to create its pod")
    pods = core.list_namespaced_pod(secured, label_selector="milvus-lab/slot=blue").items
    assert pods and pods[0].spec.service_account_name == "search-api"
