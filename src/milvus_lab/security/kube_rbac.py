"""Kubernetes least privilege for lab 05: a ServiceAccount per workload, Roles that grant only
what each uses, a namespace that enforces Pod Security `restricted`, Secrets as files.

Why each piece:
- The search API reads its configuration and Milvus credentials from mounted files, so it
  needs NOTHING from the API server: its ServiceAccount gets no Role and no token is even
  mounted (`automountServiceAccountToken: false`). A stolen pod cannot list Secrets.
- The release switcher (lab 03's Service selector patch) may get/patch exactly one Service
  and read Deployments; the data pipeline may read exactly one ConfigMap.
- SubjectAccessReview asks the real authorizer "may X do Y?": the proof that the grants
  are what we meant, both the allowed and the denied side.
- Pod Security Admission `restricted` rejects a privileged pod at the door.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from milvus_lab.kube.manifests import (
    API_NAME,
    API_PORT,
    NAME_LABEL,
    _meta,
    api_pod_labels,
    lab_labels,
    restricted_security_context,
)

LAB = "05"
NAMESPACE = "milvus-lab-secure"
SECRET_NAME = "search-api-milvus-credentials"  # pragma: allowlist secret (a name)
SECRET_MOUNT = "/var/run/secrets/milvus-lab"
RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Rule:
    """One PolicyRule: verbs on a resource (optionally only named objects)."""

    api_group: str
    resource: str
    verbs: tuple[str, ...]
    names: tuple[str, ...] = ()

    def manifest(self) -> client.V1PolicyRule:
        return client.V1PolicyRule(api_groups=[self.api_group], resources=[self.resource],
                                   verbs=list(self.verbs), resource_names=list(self.names) or None)


@dataclass(frozen=True)
class Workload:
    """A workload and exactly what it uses from the API server (nothing is a valid answer)."""

    name: str
    rules: tuple[Rule, ...]
    uses_api: bool


WORKLOADS = (
    Workload(API_NAME, (), uses_api=False),
    Workload("release-switcher", (
        Rule("", "services", ("get", "patch"), (API_NAME,)),
        Rule("apps", "deployments", ("get", "list", "watch")),
    ), uses_api=True),
    Workload("data-pipeline", (Rule("", "configmaps", ("get",), ("pipeline-config",)),),
             uses_api=True),
)


def subject(workload: str, namespace: str) -> str:
    """The user name a ServiceAccount's token authenticates as."""
    return f"system:serviceaccount:{namespace}:{workload}"


def restricted_namespace(name: str = NAMESPACE, lab: str = LAB) -> client.V1Namespace:
    """Pod Security `restricted` enforced (and warned/audited) at a pinned version."""
    pss = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
    pss.update({f"pod-security.kubernetes.io/{mode}-version": "v1.33"
                for mode in ("enforce", "warn", "audit")})
    return client.V1Namespace(api_version="v1", kind="Namespace",
                              metadata=client.V1ObjectMeta(name=name, labels={**lab_labels(lab), **pss}))


def rbac_objects(namespace: str = NAMESPACE, lab: str = LAB,
                 workloads: Sequence[Workload] = WORKLOADS) -> list[Any]:
    """ServiceAccount per workload; Role + RoleBinding only where it uses the API."""
    objs: list[Any] = []
    for w in workloads:
        objs.append(client.V1ServiceAccount(
            api_version="v1", kind="ServiceAccount", metadata=_meta(w.name, lab, namespace),
            automount_service_account_token=w.uses_api,
        ))
        if not w.rules:
            continue
        objs.append(client.V1Role(
            api_version=f"{RBAC_GROUP}/v1", kind="Role", metadata=_meta(w.name, lab, namespace),
            rules=[r.manifest() for r in w.rules],
        ))
        objs.append(client.V1RoleBinding(
            api_version=f"{RBAC_GROUP}/v1", kind="RoleBinding", metadata=_meta(w.name, lab, namespace),
            role_ref=client.V1RoleRef(api_group=RBAC_GROUP, kind="Role", name=w.name),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name=w.name, namespace=namespace)],
        ))
    return objs


def credentials_secret(values: dict[str, str], namespace: str = NAMESPACE,
                       lab: str = LAB) -> client.V1Secret:
    """The search API's Milvus user, as files (`token`, `ca.crt`...), never env variables."""
    return client.V1Secret(api_version="v1", kind="Secret", type="Opaque",
                           metadata=_meta(SECRET_NAME, lab, namespace, **{NAME_LABEL: API_NAME}),
                           string_data=dict(values))


def secure_search_api(image: str, namespace: str = NAMESPACE, lab: str = LAB,
                      replicas: int = 1) -> client.V1Deployment:
    """The search API under its own ServiceAccount, no token, Secret mounted read-only as files."""
    container = client.V1Container(
        name=API_NAME, image=image, image_pull_policy="IfNotPresent",
        ports=[client.V1ContainerPort(name="http", container_port=API_PORT)],
        env=[client.V1EnvVar(name="MILVUS_LAB_API_MILVUS_TOKEN_FILE", value=f"{SECRET_MOUNT}/token")],
        security_context=restricted_security_context(),
        volume_mounts=[client.V1VolumeMount(name="milvus-credentials", mount_path=SECRET_MOUNT,
                                            read_only=True)],
    )
    labels = {**api_pod_labels("blue")}
    return client.V1Deployment(
        api_version="apps/v1", kind="Deployment",
        metadata=_meta(f"{API_NAME}-secure", lab, namespace, **labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={**lab_labels(lab), **labels}),
                spec=client.V1PodSpec(
                    service_account_name=API_NAME, automount_service_account_token=False,
                    containers=[container],
                    security_context=client.V1PodSecurityContext(
                        run_as_non_root=True,
                        seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault")),
                    volumes=[client.V1Volume(name="milvus-credentials", secret=client.V1SecretVolumeSource(
                        secret_name=SECRET_NAME, default_mode=0o400))],
                ),
            ),
        ),
    )


def privileged_pod(image: str, namespace: str = NAMESPACE, lab: str = LAB) -> client.V1Pod:
    """What an attacker (or a careless chart) would run: `restricted` must reject it."""
    return client.V1Pod(
        api_version="v1", kind="Pod", metadata=_meta("privileged-probe", lab, namespace),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="main", image=image,
            security_context=client.V1SecurityContext(privileged=True, run_as_user=0))]),
    )


# ---------------------------------------------------------------------------- proofs


@dataclass(frozen=True)
class AccessCheck:
    """One SubjectAccessReview: what we expect and what the authorizer answered."""

    workload: str
    verb: str
    resource: str
    name: str
    expected: bool
    allowed: bool

    @property
    def ok(self) -> bool:
        return self.expected == self.allowed

    def describe(self) -> str:
        target = f"{self.resource}/{self.name}" if self.name else self.resource
        return f"{self.workload} {self.verb} {target}"


#: (workload, verb, group, resource, name, expected)
EXPECTATIONS: tuple[tuple[str, str, str, str, str, bool], ...] = (
    ("release-switcher", "patch", "", "services", API_NAME, True),
    ("release-switcher", "patch", "", "services", "milvus", False),
    ("release-switcher", "list", "apps", "deployments", "", True),
    ("release-switcher", "delete", "apps", "deployments", "", False),
    ("release-switcher", "get", "", "secrets", "", False),
    ("data-pipeline", "get", "", "configmaps", "pipeline-config", True),
    ("data-pipeline", "get", "", "configmaps", "search-api-config", False),
    ("data-pipeline", "list", "", "secrets", "", False),
    (API_NAME, "get", "", "secrets", SECRET_NAME, False),
    (API_NAME, "list", "", "pods", "", False),
    (API_NAME, "get", "", "configmaps", "", False),
)


def can(api_client: Any, user: str, namespace: str, verb: str, resource: str,
        group: str = "", name: str = "") -> bool:
    """Ask the API server's authorizer (what `kubectl auth can-i --as` does)."""
    attrs: dict[str, str] = {"namespace": namespace, "verb": verb, "resource": resource,
                             "group": group}
    if name:
        attrs["name"] = name
    review = client.AuthorizationV1Api(api_client).create_subject_access_review({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "resourceAttributes": attrs},
    })
    return bool(review.status.allowed)


def prove_least_privilege(
    api_client: Any, namespace: str = NAMESPACE,
    expectations: Sequence[tuple[str, str, str, str, str, bool]] = EXPECTATIONS,
) -> list[AccessCheck]:
    """Every expectation checked by SubjectAccessReview (allowed AND denied)."""
    return [
        AccessCheck(w, verb, res, name, expected,
                    can(api_client, subject(w, namespace), namespace, verb, res, group, name))
        for w, verb, group, res, name, expected in expectations
    ]


def kubectl_can_i(check: AccessCheck, namespace: str = NAMESPACE) -> str:
    target = f"{check.resource}/{check.name}" if check.name else check.resource
    return f"kubectl auth can-i {check.verb} {target} -n {namespace} --as={subject(check.workload, namespace)}"


def lab01_network_policies(namespace: str = NAMESPACE, lab: str = LAB) -> list[client.V1NetworkPolicy]:
    """Lab 01's NetworkPolicies (default deny; only the search API reaches Milvus's gRPC port),
    from lab 01's reference solution: the one place they are defined."""
    from milvus_lab.labkit import load_impl

    return load_impl("lab01_kubernetes", "solutions").network_policies(namespace, lab)


def lab05_objects(image: str = "milvus-lab/search-api:0.1.0") -> list[object]:
    """Everything lab 05 would apply: the restricted namespace, ServiceAccounts and Roles, the
    Milvus credentials as a Secret (a placeholder value: real ones never go into a manifest
    file), the search API mounting it as files, lab 01's NetworkPolicies."""
    return [restricted_namespace(), *rbac_objects(), credentials_secret({"token": "<from secrets>"}),
            secure_search_api(image), *lab01_network_policies()]


def expectation_lines(expectations: Sequence[tuple[str, str, str, str, str, bool]] = EXPECTATIONS) -> list[str]:
    """The report's "who may do what" list, as the SubjectAccessReview test proves it."""
    return [f"{w} {v} {r}/{n or '*'}: {'allowed' if e else 'denied'}" for w, v, _g, r, n, e in expectations]
