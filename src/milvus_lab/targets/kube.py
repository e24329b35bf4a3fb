"""`kube`: API Deployments per slot behind Services; the switch patches the Service selector.

`search-api` (NodePort 30080, mapped to the host by kind-config.yaml) is live,
`search-api-preview` (30081) reaches the idle slot. Milvus runs in the cluster (lab 01)
and is reached from the host through kind's port mapping on 127.0.0.1:19530.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from milvus_lab.app.config import ApiConfig
from milvus_lab.errors import PrerequisiteError
from milvus_lab.kube import manifests as m
from milvus_lab.kube.apply import apply_objects, ref, validate_offline
from milvus_lab.kube.context import KubeConnection, connect
from milvus_lab.kube.selector import current_slot, switch_service_selector
from milvus_lab.kube.wait import wait_for_rollout
from milvus_lab.milvus import server
from milvus_lab.settings import Settings
from milvus_lab.targets.capabilities import Capability
from milvus_lab.verification import Verification

LIVE_SERVICE = m.API_NAME
PREVIEW_SERVICE = f"{m.API_NAME}-preview"


class KubeTarget:
    """A lab on Kubernetes: Deployments per slot and a Service selector switch."""

    name = "kube"

    def __init__(self, settings: Settings, lab: str, conn: KubeConnection | None = None) -> None:
        self.settings = settings
        self.lab = lab
        self._conn = conn

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.KUBE_API, Capability.MILVUS_METRICS, Capability.ALIAS_RULES}
        if self.conn.is_kind:
            caps.add(Capability.RUNNING_PODS)
        return frozenset(caps)

    def require(self, needs: frozenset[Capability]) -> None:
        """A cluster is what it is: nothing to start."""

    @property
    def conn(self) -> KubeConnection:
        if self._conn is None:
            self._conn = connect(self.settings.kube_context)
        return self._conn

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    # Milvus -------------------------------------------------------------------
    def ensure_milvus(self) -> str:
        uri = self.settings.milvus_uri
        if server.answers(uri):
            return uri
        where = "kind" if self.conn.is_kind else f"context {self.conn.context} (pods do not run there)"
        raise PrerequisiteError(
            f"no Milvus answers at {uri} from the cluster ({where})",
            fix="deploy it with lab 01: python step05_production/01_kubernetes_deployment.py --target kube "
                "(kind maps the Milvus NodePort to 127.0.0.1:19530)",
        )

    def api_milvus_uri(self) -> str:
        return f"http://{m.milvus_service_host(self.namespace)}:{m.MILVUS_GRPC_PORT}"

    # objects ------------------------------------------------------------------
    def deployment(self, cfg: ApiConfig, replicas: int) -> Any:
        env = {**cfg.to_env(), "MILVUS_LAB_MILVUS_URI": self.api_milvus_uri()}
        return m.search_api_deployment(cfg.slot, cfg.version, replicas, env=env, namespace=self.namespace,
                                       lab=self.lab, config_map=None, secret=None)

    def services(self, live_slot: str) -> list[Any]:
        return [
            m.search_api_service(LIVE_SERVICE, live_slot, namespace=self.namespace, lab=self.lab),
            m.search_api_service(PREVIEW_SERVICE, live_slot, namespace=self.namespace, lab=self.lab,
                                 node_port=m.NODE_PORTS.search_api_preview),
        ]

    def _service_exists(self, name: str) -> bool:
        from kubernetes.client.rest import ApiException

        try:
            self.conn.core.read_namespaced_service(name, self.namespace)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def deploy(self, cfg: ApiConfig, count: int) -> list[str]:
        """Apply the slot's Deployment (and, the first time, the Services) and wait for the rollout.

        Existing Services are never re-applied here: that would move their selectors,
        and only `route` / `set_preview` may switch traffic.
        """
        objs: list[Any] = [m.namespace(self.namespace, self.lab), self.deployment(cfg, count)]
        objs += [s for s in self.services(cfg.slot) if not self._service_exists(s.metadata.name)]
        apply_objects(self.conn, objs)
        wait_for_rollout(self.conn, "Deployment", f"{m.API_NAME}-{cfg.slot}", self.namespace,
                         timeout=300)
        return [f"deployment/{m.API_NAME}-{cfg.slot}"]

    # traffic ------------------------------------------------------------------
    def scale(self, slot: str, count: int) -> list[str]:
        """`kubectl scale`, then wait until exactly `count` pods are ready."""
        from milvus_lab.kube.scale import scale_and_wait

        scale_and_wait(self.conn, "Deployment", f"{m.API_NAME}-{slot}", self.namespace, count)
        return [f"deployment/{m.API_NAME}-{slot}"]

    def plan(self, deployments: Sequence[tuple[ApiConfig, int]]) -> list[Verification]:
        """Offline schema validation of every object; server dry-run too when a cluster answers."""
        objs = [m.namespace(self.namespace, self.lab),
                *(self.deployment(cfg, count) for cfg, count in deployments),
                *self.services(deployments[0][0].slot if deployments else "blue")]
        issues = validate_offline(objs)
        rows = []
        for o in objs:
            mine = [str(i) for i in issues if str(i.ref) == str(ref(o))]
            rows.append(Verification(f"{ref(o)} schema", not mine, "; ".join(mine) or "valid",
                                     "valid against the Kubernetes OpenAPI schema", "fix the builder's field"))
        try:
            results = apply_objects(self.conn, objs, dry_run=True)
            rows += [Verification(f"{r.ref} server dry-run", True, r.action, "accepted") for r in results]
        except PrerequisiteError as exc:
            rows.append(Verification("server dry-run", None, "no cluster", "",
                                     f"schema validation only: {exc.message}"))
        return rows

    def route(self, weights: Mapping[str, int]) -> None:
        live = [slot for slot, w in weights.items() if w > 0]
        if len(live) != 1:
            raise PrerequisiteError(
                f"a Service selector sends all traffic to one slot; cannot split {dict(weights)}",
                fix="weighted splits need an Ingress/Gateway with weights (lab 04 uses the local router)",
            )
        switch_service_selector(self.conn, self.namespace, LIVE_SERVICE, live[0])

    def set_preview(self, slot: str | None) -> None:
        if slot is not None:
            switch_service_selector(self.conn, self.namespace, PREVIEW_SERVICE, slot)

    def live_slots(self) -> list[str]:
        slot = current_slot(self.conn, self.namespace, LIVE_SERVICE)
        return [slot] if slot else []

    def live_url(self) -> str:
        return f"http://127.0.0.1:{m.HOST_PORTS[m.NODE_PORTS.search_api]}"

    def preview_url(self) -> str:
        return f"http://127.0.0.1:{m.HOST_PORTS[m.NODE_PORTS.search_api_preview]}"

    def retire(self, slot: str) -> None:
        """Scale the slot's Deployment to 0 (kept, like Argo Rollouts keeps the old ReplicaSet)."""
        from kubernetes.client.rest import ApiException

        try:
            self.conn.apps.patch_namespaced_deployment_scale(
                f"{m.API_NAME}-{slot}", self.namespace, {"spec": {"replicas": 0}})
        except ApiException as exc:
            if exc.status != 404:
                raise

    def teardown(self) -> None:
        """Objects stay in the cluster (that is the deployment); `cleanup` removes them by label."""

    def cleanup(self) -> None:
        from milvus_lab.kube.cleanup import cleanup

        cleanup(self.conn, self.lab, namespace=self.namespace)

    def describe(self) -> dict[str, str]:
        return {"target": f"kube (context {self.settings.kube_context or 'kind-milvus-lab'})",
                "namespace": self.namespace, "live": self.live_url(), "milvus": self.settings.milvus_uri}

