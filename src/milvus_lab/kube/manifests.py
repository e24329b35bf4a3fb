"""Builders for every Kubernetes object the labs create: one source of truth for manifests.

Each builder returns a typed `kubernetes.client` model, so a typo in a field name fails in
Python before anything reaches a cluster. Every object carries the three labels of
DESIGN.md section 7, which is what cleanup and verification select on. Lab 01 applies the
whole `stack()`; lab 03 reuses the search-API builders for its blue and green slots and
the `search-api` / `search-api-preview` Services; lab 02 can render the same stack per
environment by changing `StackOptions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kubernetes import client

from milvus_lab import __version__
from milvus_lab.kube.labels import (  # noqa: F401  (re-exported: builders and labs name them via m.)
    COMPONENT_LABEL,
    FIELD_MANAGER,
    LAB_LABEL,
    MANAGED_BY,
    NAME_LABEL,
    NAMESPACE,
    PART_OF,
    PROJECT,
    SLOT_LABEL,
    VERSION_LABEL,
    lab_labels,
    lab_selector,
)

# ---- pinned images (never `latest`) ---------------------------------------------------
#: Milvus 2.6.15 is the appVersion of the official chart pinned in deploy/helm/.
MILVUS_IMAGE = "milvusdb/milvus:v2.6.15"
API_IMAGE_REPOSITORY = "milvus-lab/search-api"
API_IMAGE = f"{API_IMAGE_REPOSITORY}:{__version__}"

# ---- ports --------------------------------------------------------------------------
API_PORT = 8000
API_SERVICE_PORT = 80
MILVUS_GRPC_PORT = 19530
MILVUS_HTTP_PORT = 9091  # /healthz and /metrics
API_NAME = "search-api"
MILVUS_NAME = "milvus"


@dataclass(frozen=True)
class NodePorts:
    """NodePorts that kind-config.yaml maps to the host (127.0.0.1); a test keeps them in sync."""

    search_api: int = 30080
    search_api_preview: int = 30081
    milvus_grpc: int = 30530
    milvus_http: int = 30091
    prometheus: int = 30090


NODE_PORTS = NodePorts()
#: The host port kind maps to each NodePort (see kind-config.yaml).
HOST_PORTS = {
    NODE_PORTS.search_api: 30080,
    NODE_PORTS.search_api_preview: 30081,
    NODE_PORTS.milvus_grpc: 19530,
    NODE_PORTS.milvus_http: 9091,
    NODE_PORTS.prometheus: 9090,
}

def _meta(name: str, lab: str, namespace: str | None, **extra: str) -> client.V1ObjectMeta:
    return client.V1ObjectMeta(name=name, namespace=namespace, labels={**lab_labels(lab), **extra})


def milvus_service_host(namespace: str = NAMESPACE) -> str:
    """The DNS name the search API uses to find Milvus (cluster DNS, no IPs)."""
    return f"{MILVUS_NAME}.{namespace}.svc.cluster.local"


def api_pod_labels(slot: str) -> dict[str, str]:
    """Labels that identify a slot's API pods: the Service selector and the PDB use these."""
    return {NAME_LABEL: API_NAME, SLOT_LABEL: slot}


def milvus_pod_labels() -> dict[str, str]:
    return {NAME_LABEL: MILVUS_NAME, COMPONENT_LABEL: "standalone"}


# ---- namespace, quota, limits -----------------------------------------------------------
def namespace(name: str, lab: str) -> client.V1Namespace:
    """The lab's namespace with Pod Security Admission labels.

    Enforce `baseline` (the Milvus image runs as root, which `restricted` forbids) and warn
    and audit against `restricted`, which the search API meets.
    """
    labels = {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "latest",
    }
    return client.V1Namespace(api_version="v1", kind="Namespace", metadata=_meta(name, lab, None, **labels))


def resource_quota(namespace: str, lab: str) -> client.V1ResourceQuota:
    """A ceiling for the namespace, sized for a laptop: Milvus + two API slots at HPA max."""
    return client.V1ResourceQuota(
        api_version="v1", kind="ResourceQuota", metadata=_meta("milvus-lab-quota", lab, namespace),
        spec=client.V1ResourceQuotaSpec(hard={
            "requests.cpu": "4", "requests.memory": "8Gi",
            "limits.cpu": "8", "limits.memory": "16Gi",
            "pods": "30", "persistentvolumeclaims": "5", "requests.storage": "30Gi",
            "services.nodeports": "6",
        }),
    )


def limit_range(namespace: str, lab: str) -> client.V1LimitRange:
    """Defaults for containers that forget requests/limits, and a per-container maximum."""
    return client.V1LimitRange(
        api_version="v1", kind="LimitRange", metadata=_meta("milvus-lab-limits", lab, namespace),
        spec=client.V1LimitRangeSpec(limits=[
            client.V1LimitRangeItem(
                type="Container",
                default={"cpu": "500m", "memory": "512Mi"},
                default_request={"cpu": "100m", "memory": "128Mi"},
                max={"cpu": "2", "memory": "6Gi"},
            ),
            client.V1LimitRangeItem(type="PersistentVolumeClaim", max={"storage": "20Gi"}),
        ]),
    )


# ---- Milvus standalone ------------------------------------------------------------------
EMBED_ETCD_YAML = """\
listen-client-urls: http://0.0.0.0:2379
advertise-client-urls: http://0.0.0.0:2379
quota-backend-bytes: 4294967296
auto-compaction-mode: revision
auto-compaction-retention: '1000'
"""
MILVUS_USER_YAML = """\
# Overrides on top of milvus.yaml; kept small on purpose.
proxy:
  healthCheckTimeout: 1000 # ms
"""


def milvus_config_map(namespace: str, lab: str) -> client.V1ConfigMap:
    """Milvus's embedded-etcd config and user.yaml overrides, mounted as files."""
    return client.V1ConfigMap(
        api_version="v1", kind="ConfigMap",
        metadata=_meta("milvus-config", lab, namespace, **{NAME_LABEL: MILVUS_NAME}),
        data={"embedEtcd.yaml": EMBED_ETCD_YAML, "user.yaml": MILVUS_USER_YAML},
    )


def milvus_probe(kind: str) -> client.V1Probe:
    """Milvus answers GET :9091/healthz once every component is up (30-90 s on a laptop)."""
    get = client.V1HTTPGetAction(path="/healthz", port="metrics")
    if kind == "startup":  # up to 5 min to start, then liveness takes over
        return client.V1Probe(http_get=get, period_seconds=5, failure_threshold=60, timeout_seconds=3)
    if kind == "liveness":
        return client.V1Probe(http_get=get, period_seconds=15, failure_threshold=3, timeout_seconds=5)
    return client.V1Probe(http_get=get, period_seconds=5, failure_threshold=3, timeout_seconds=3)


def milvus_statefulset(
    namespace: str,
    lab: str,
    image: str = MILVUS_IMAGE,
    storage: str = "5Gi",
    storage_class: str | None = None,
) -> client.V1StatefulSet:
    """Milvus standalone: embedded etcd, local storage, one PVC (kind's default StorageClass).

    A StatefulSet, not a Deployment, because the pod owns a volume: the PVC outlives the
    pod and is re-attached to its replacement.
    """
    labels = milvus_pod_labels()
    env = {
        "ETCD_USE_EMBED": "true",
        "ETCD_DATA_DIR": "/var/lib/milvus/etcd",
        "ETCD_CONFIG_PATH": "/milvus/configs/embedEtcd.yaml",
        "COMMON_STORAGETYPE": "local",
        "DEPLOY_MODE": "STANDALONE",
    }
    container = client.V1Container(
        name="milvus",
        image=image,
        image_pull_policy="IfNotPresent",
        args=["milvus", "run", "standalone"],
        env=[client.V1EnvVar(name=k, value=v) for k, v in env.items()],
        ports=[
            client.V1ContainerPort(name="grpc", container_port=MILVUS_GRPC_PORT),
            client.V1ContainerPort(name="metrics", container_port=MILVUS_HTTP_PORT),
        ],
        resources=client.V1ResourceRequirements(
            requests={"cpu": "500m", "memory": "1536Mi"},
            limits={"cpu": "2", "memory": "4Gi"},
        ),
        startup_probe=milvus_probe("startup"),
        readiness_probe=milvus_probe("readiness"),
        liveness_probe=milvus_probe("liveness"),
        volume_mounts=[
            client.V1VolumeMount(name="milvus-data", mount_path="/var/lib/milvus"),
            client.V1VolumeMount(name="config", mount_path="/milvus/configs/embedEtcd.yaml",
                                 sub_path="embedEtcd.yaml", read_only=True),
            client.V1VolumeMount(name="config", mount_path="/milvus/configs/user.yaml",
                                 sub_path="user.yaml", read_only=True),
        ],
    )
    pvc = client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name="milvus-data", labels={**lab_labels(lab), **labels}),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            storage_class_name=storage_class,
            resources=client.V1VolumeResourceRequirements(requests={"storage": storage}),
        ),
    )
    return client.V1StatefulSet(
        api_version="apps/v1", kind="StatefulSet",
        metadata=_meta(MILVUS_NAME, lab, namespace, **labels),
        spec=client.V1StatefulSetSpec(
            replicas=1,
            service_name=MILVUS_NAME,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={**lab_labels(lab), **labels}),
                spec=client.V1PodSpec(
                    containers=[container],
                    termination_grace_period_seconds=60,  # let Milvus flush on shutdown
                    automount_service_account_token=False,
                    volumes=[client.V1Volume(
                        name="config",
                        config_map=client.V1ConfigMapVolumeSource(name="milvus-config"),
                    )],
                ),
            ),
            volume_claim_templates=[pvc],
        ),
    )


def milvus_services(
    namespace: str, lab: str, node_ports: NodePorts = NODE_PORTS,
    selector: Mapping[str, str] | None = None, internal: bool = True,
) -> list[client.V1Service]:
    """`milvus` (ClusterIP: how pods find Milvus by DNS) and `milvus-external` (NodePort:
    how the host reaches it through kind's port mappings).

    With the Helm chart, the chart owns `milvus`; pass its pod labels as `selector` and
    `internal=False` to add only the NodePort Service.
    """
    labels = dict(selector or milvus_pod_labels())
    out = []
    if internal:
        out.append(client.V1Service(
            api_version="v1", kind="Service", metadata=_meta(MILVUS_NAME, lab, namespace, **milvus_pod_labels()),
            spec=client.V1ServiceSpec(
                type="ClusterIP", selector=labels,
                ports=[
                    client.V1ServicePort(name="grpc", port=MILVUS_GRPC_PORT, target_port="grpc"),
                    client.V1ServicePort(name="metrics", port=MILVUS_HTTP_PORT, target_port="metrics"),
                ],
            ),
        ))
    grpc_target: int | str = "grpc" if selector is None else MILVUS_GRPC_PORT
    metrics_target: int | str = "metrics" if selector is None else MILVUS_HTTP_PORT
    out.append(client.V1Service(
        api_version="v1", kind="Service",
        metadata=_meta(f"{MILVUS_NAME}-external", lab, namespace, **milvus_pod_labels()),
        spec=client.V1ServiceSpec(
            type="NodePort", selector=labels,
            ports=[
                client.V1ServicePort(name="grpc", port=MILVUS_GRPC_PORT, target_port=grpc_target,
                                     node_port=node_ports.milvus_grpc),
                client.V1ServicePort(name="metrics", port=MILVUS_HTTP_PORT, target_port=metrics_target,
                                     node_port=node_ports.milvus_http),
            ],
        ),
    ))
    return out


# ---- the search API ---------------------------------------------------------------------
def search_api_probes(port: str = "http") -> tuple[client.V1Probe, client.V1Probe]:
    """Readiness on /readyz (Milvus reachable and collection loaded: take traffic) and
    liveness on /healthz (the process answers: restart only when it is stuck)."""
    readiness = client.V1Probe(
        http_get=client.V1HTTPGetAction(path="/readyz", port=port),
        period_seconds=5, timeout_seconds=3, failure_threshold=2, success_threshold=1,
    )
    liveness = client.V1Probe(
        http_get=client.V1HTTPGetAction(path="/healthz", port=port),
        initial_delay_seconds=5, period_seconds=10, timeout_seconds=3, failure_threshold=3,
    )
    return readiness, liveness


def restricted_security_context() -> client.V1SecurityContext:
    """What Pod Security `restricted` requires of a container, plus a read-only root."""
    return client.V1SecurityContext(
        run_as_non_root=True,
        run_as_user=10001,
        run_as_group=10001,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=client.V1Capabilities(drop=["ALL"]),
        seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
    )


def search_api_deployment(
    slot: str = "blue",
    version: str = __version__,
    replicas: int = 2,
    image: str = API_IMAGE,
    env: Mapping[str, str] | None = None,
    *,
    namespace: str,
    lab: str,
    probes: tuple[client.V1Probe, client.V1Probe] | None = None,
    config_map: str | None = "search-api-config",
    secret: str | None = "search-api-secret",
) -> client.V1Deployment:
    """`search-api-<slot>`: the API's pods for one slot, labelled with slot and version.

    The selector holds name + slot only: a new version rolls within the slot's Deployment,
    and a Service picks a slot by selector (lab 03's switch).
    """
    readiness, liveness = probes or search_api_probes()
    pod_labels = {**api_pod_labels(slot), VERSION_LABEL: version, COMPONENT_LABEL: "api"}
    env_vars = [client.V1EnvVar(name=k, value=v) for k, v in (env or {}).items()]
    env_vars.append(client.V1EnvVar(  # the pod name: who served a request, on kind
        name="MILVUS_LAB_API_REPLICA",
        value_from=client.V1EnvVarSource(field_ref=client.V1ObjectFieldSelector(field_path="metadata.name")),
    ))
    env_from = []
    if config_map:
        env_from.append(client.V1EnvFromSource(config_map_ref=client.V1ConfigMapEnvSource(name=config_map)))
    if secret:
        env_from.append(client.V1EnvFromSource(secret_ref=client.V1SecretEnvSource(name=secret)))
    container = client.V1Container(
        name=API_NAME,
        image=image,
        image_pull_policy="IfNotPresent",  # kind: the image is loaded, never pulled
        ports=[client.V1ContainerPort(name="http", container_port=API_PORT)],
        env=env_vars,
        env_from=env_from or None,
        resources=client.V1ResourceRequirements(
            requests={"cpu": "100m", "memory": "192Mi"},
            limits={"cpu": "500m", "memory": "512Mi"},
        ),
        readiness_probe=readiness,
        liveness_probe=liveness,
        security_context=restricted_security_context(),
        volume_mounts=[client.V1VolumeMount(name="tmp", mount_path="/tmp")],
        # keep serving while the endpoint is removed from the Service, then stop gracefully
        lifecycle=client.V1Lifecycle(pre_stop=client.V1LifecycleHandler(sleep=client.V1SleepAction(seconds=5))),
    )
    return client.V1Deployment(
        api_version="apps/v1", kind="Deployment",
        metadata=_meta(f"{API_NAME}-{slot}", lab, namespace, **pod_labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=api_pod_labels(slot)),
            strategy=client.V1DeploymentStrategy(
                type="RollingUpdate",
                rolling_update=client.V1RollingUpdateDeployment(max_unavailable=0, max_surge=1),
            ),
            progress_deadline_seconds=300,
            revision_history_limit=3,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={**lab_labels(lab), **pod_labels}),
                spec=client.V1PodSpec(
                    containers=[container],
                    automount_service_account_token=False,
                    termination_grace_period_seconds=20,
                    security_context=client.V1PodSecurityContext(
                        run_as_non_root=True,
                        seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
                    ),
                    volumes=[client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource(size_limit="64Mi"))],
                ),
            ),
        ),
    )


def search_api_service(
    name: str = API_NAME,
    slot: str = "blue",
    *,
    namespace: str,
    lab: str,
    node_port: int | None = NODE_PORTS.search_api,
) -> client.V1Service:
    """A Service whose selector picks one slot: `search-api` is live, `search-api-preview`
    the idle slot. Switching slots is a selector patch (see `kube.selector`)."""
    port = client.V1ServicePort(name="http", port=API_SERVICE_PORT, target_port="http", node_port=node_port)
    return client.V1Service(
        api_version="v1", kind="Service",
        metadata=_meta(name, lab, namespace, **{NAME_LABEL: API_NAME}),
        spec=client.V1ServiceSpec(
            type="NodePort" if node_port else "ClusterIP",
            selector=api_pod_labels(slot),
            ports=[port],
        ),
    )


def search_api_config_map(
    namespace: str, lab: str, collection: str = "products", dim: int = 128
) -> client.V1ConfigMap:
    """Settings shared by every slot: where Milvus is (a DNS name) and what to search."""
    data = {
        "MILVUS_LAB_MILVUS_URI": f"http://{milvus_service_host(namespace)}:{MILVUS_GRPC_PORT}",
        "MILVUS_LAB_API_COLLECTION": collection,
        "MILVUS_LAB_DIM": str(dim),
        "MILVUS_LAB_API_TIMEOUT_S": "2.0",
    }
    return client.V1ConfigMap(
        api_version="v1", kind="ConfigMap",
        metadata=_meta("search-api-config", lab, namespace, **{NAME_LABEL: API_NAME}),
        data=data,
    )


def search_api_secret(
    values: Mapping[str, str], namespace: str, lab: str
) -> client.V1Secret:
    """Credentials as a Secret (stringData): never in a ConfigMap, never in git."""
    return client.V1Secret(
        api_version="v1", kind="Secret", type="Opaque",
        metadata=_meta("search-api-secret", lab, namespace, **{NAME_LABEL: API_NAME}),
        string_data=dict(values),
    )


HELM_MILVUS_SELECTOR = {NAME_LABEL: MILVUS_NAME, "app.kubernetes.io/instance": "milvus", "component": "standalone"}


def helm_release_policies(release: str, namespace: str, lab: str) -> list[client.V1NetworkPolicy]:
    """With `--installer helm`, Milvus talks to the release's own etcd and MinIO pods, which
    default-deny would block: allow exactly that (etcd 2379, MinIO 9000) from Milvus."""
    from_milvus = [client.V1NetworkPolicyPeer(pod_selector=client.V1LabelSelector(
        match_labels={NAME_LABEL: MILVUS_NAME, "app.kubernetes.io/instance": release}))]
    targets = {
        f"{release}-allow-etcd": ({NAME_LABEL: "etcd", "app.kubernetes.io/instance": release}, 2379),
        f"{release}-allow-minio": ({"app": "minio", "release": release}, 9000),
    }
    return [
        client.V1NetworkPolicy(
            api_version="networking.k8s.io/v1", kind="NetworkPolicy",
            metadata=_meta(name, lab, namespace),
            spec=client.V1NetworkPolicySpec(
                pod_selector=client.V1LabelSelector(match_labels=labels), policy_types=["Ingress"],
                ingress=[client.V1NetworkPolicyIngressRule(
                    _from=from_milvus, ports=[client.V1NetworkPolicyPort(protocol="TCP", port=port)])],
            ),
        )
        for name, (labels, port) in targets.items()
    ]


def static_persistent_volume(
    claim: str, namespace: str, lab: str, size: str = "5Gi"
) -> client.V1PersistentVolume:
    """A hostPath PV pre-bound to one claim: static provisioning, for clusters without a
    default StorageClass (kind has one; the KWOK testenv does not)."""
    return client.V1PersistentVolume(
        api_version="v1", kind="PersistentVolume",
        metadata=_meta(f"{namespace}-{claim}", lab, None),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": size},
            access_modes=["ReadWriteOnce"],
            persistent_volume_reclaim_policy="Delete",
            storage_class_name="",
            claim_ref=client.V1ObjectReference(namespace=namespace, name=claim, kind="PersistentVolumeClaim"),
            host_path=client.V1HostPathVolumeSource(path=f"/var/lib/milvus-lab/{namespace}/{claim}",
                                                    type="DirectoryOrCreate"),
        ),
    )


# ---- the lab 01 stack -------------------------------------------------------------------
@dataclass(frozen=True)
class Builders:
    """The builders the learner may replace (`--impl labs`): probes, HPA, PDB, NetworkPolicies."""

    probes: Callable[..., tuple[client.V1Probe, client.V1Probe]]
    hpa: Callable[..., client.V2HorizontalPodAutoscaler]
    pdb: Callable[..., client.V1PodDisruptionBudget]
    network_policies: Callable[..., list[client.V1NetworkPolicy]]


@dataclass(frozen=True)
class StackOptions:
    """What varies between labs and environments (lab 02's dev/staging/prod)."""

    lab: str
    namespace: str = NAMESPACE
    slot: str = "blue"
    version: str = __version__
    api_image: str = API_IMAGE
    api_replicas: int = 2
    milvus_image: str = MILVUS_IMAGE
    milvus: bool = True  # False when Milvus comes from the Helm chart
    storage: str = "5Gi"
    collection: str = "products"
    dim: int = 128
    hpa_max: int = 4
    node_ports: NodePorts = field(default_factory=NodePorts)

    def with_(self, **changes: Any) -> StackOptions:
        return replace(self, **changes)

    @property
    def deployment(self) -> str:
        return f"{API_NAME}-{self.slot}"


def stack(opts: StackOptions, secret_values: Mapping[str, str], builders: Builders) -> list[Any]:
    """Every object of lab 01 in apply order (namespace first, consumers after providers).

    The probes, HPA, PDB and NetworkPolicies come from lab 01's exercise (`builders()` of
    `solutions/` or `labs/lab01_kubernetes.py`): the library does not keep a second copy."""
    o, b = opts, builders
    ns, lab = o.namespace, o.lab
    objs: list[Any] = [namespace(ns, lab), resource_quota(ns, lab), limit_range(ns, lab)]
    if o.milvus:
        objs += [milvus_config_map(ns, lab),
                 *milvus_services(ns, lab, o.node_ports),
                 milvus_statefulset(ns, lab, o.milvus_image, o.storage)]
    else:  # the Helm chart installs Milvus; we add the host's way in and its traffic rules
        objs += [*milvus_services(ns, lab, o.node_ports, selector=HELM_MILVUS_SELECTOR, internal=False),
                 *helm_release_policies("milvus", ns, lab)]
    objs += [
        search_api_config_map(ns, lab, o.collection, o.dim),
        search_api_secret(secret_values, ns, lab),
        search_api_deployment(
            o.slot, o.version, o.api_replicas, o.api_image,
            {"MILVUS_LAB_API_SLOT": o.slot, "MILVUS_LAB_API_VERSION": o.version},
            namespace=ns, lab=lab, probes=b.probes(),
        ),
        search_api_service(API_NAME, o.slot, namespace=ns, lab=lab, node_port=o.node_ports.search_api),
        b.hpa(o.deployment, ns, lab, min_replicas=o.api_replicas, max_replicas=o.hpa_max),
        b.pdb(o.slot, ns, lab),
        *b.network_policies(ns, lab),
    ]
    return objs
