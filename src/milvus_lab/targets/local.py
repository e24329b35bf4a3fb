"""`local`: Milvus Lite server + uvicorn replicas behind the local router (Python only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from milvus_lab import processes
from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus import server
from milvus_lab.router.client import RouterClient, ensure_router, stop_router
from milvus_lab.router.table import RoutingTable
from milvus_lab.settings import Settings
from milvus_lab.targets.capabilities import Capability
from milvus_lab.verification import Verification

# Milvus Lite: no auth, TLS, metrics or alias rules; the router splits traffic by weight.
LITE_CAPABILITIES = frozenset({Capability.WEIGHTED_SPLIT})


class LocalTarget:
    """Everything on 127.0.0.1; the router plays the Kubernetes Service."""

    name = "local"

    def __init__(self, settings: Settings, lab: str) -> None:
        self.settings = settings
        self.lab = lab
        self._router: RouterClient | None = None
        self._configs: dict[str, ApiConfig] = {}
        self.started_milvus = False

    @property
    def capabilities(self) -> frozenset[Capability]:
        return LITE_CAPABILITIES

    def require(self, needs: frozenset[Capability]) -> None:
        """Milvus Lite cannot provide more; the standalone engine (issue 10) will."""

    # Milvus -------------------------------------------------------------------
    def ensure_milvus(self) -> str:
        endpoint = server.ensure_server(self.settings)
        self.started_milvus = self.started_milvus or endpoint.started_now
        return endpoint.uri

    def api_milvus_uri(self) -> str:
        return self.settings.milvus_uri

    # traffic ------------------------------------------------------------------
    @property
    def router(self) -> RouterClient:
        if self._router is None:
            self._router = ensure_router(self.settings)
        return self._router

    def deploy(self, cfg: ApiConfig, count: int) -> list[str]:
        urls = [r.url for r in replicas.start_replicas(self.settings, cfg, count)]
        self._configs[cfg.slot] = cfg
        self.router.set_pool(cfg.slot, urls)
        return urls

    def scale(self, slot: str, count: int) -> list[str]:
        """Up: start, wait for /readyz, then add to the pool. Down: out of the pool first, then stop.

        That order (what Kubernetes does with endpoint removal and a preStop delay) is why
        scaling under load fails no request.
        """
        cfg = self._configs.get(slot)
        if cfg is None:
            raise PrerequisiteError(f"slot {slot} was not deployed by this run", fix="deploy it first")
        current = replicas.list_replicas(self.settings, slot)
        if count > len(current):
            ready = replicas.start_replicas(self.settings, cfg, count)  # keeps the running ones
            self.router.set_pool(slot, [r.url for r in ready])
            return [r.url for r in ready]
        keep, victims = current[:count], current[count:]
        if victims:
            self.router.set_pool(slot, [r.url for r in keep])
            for victim in victims:
                replicas.stop_replica(self.settings, victim)
        return [r.url for r in keep]

    def route(self, weights: Mapping[str, int]) -> None:
        self.router.set_weights(weights)

    def set_preview(self, slot: str | None) -> None:
        self.router.set_preview(slot)

    def live_slots(self) -> list[str]:
        return self.router.live_slots()

    def live_url(self) -> str:
        return self.settings.router_url

    def preview_url(self) -> str:
        return f"{self.settings.router_url}/preview"

    def plan(self, deployments: Sequence[tuple[ApiConfig, int]]) -> list[Verification]:
        """What would start, and whether the ports it needs are free (or already ours)."""
        checks = []
        for what, port in (("router", self.settings.router_port),
                           ("router control", self.settings.router_control_port),
                           ("Milvus", self.settings.milvus_port)):
            free = not processes.port_in_use(port)
            ours = not free and any(r.port == port and r.alive() for r in processes.list_records(self.settings))
            checks.append(Verification(f"{what} port {port} available", free or ours,
                                       "free" if free else "ours" if ours else "in use by another process",
                                       "free or held by this lab", f"free port {port} or move it with MILVUS_LAB_*_PORT"))
        for cfg, count in deployments:
            checks.append(Verification(f"{cfg.slot}/{cfg.version} x{count}", True,
                                       f"{count} uvicorn replica(s) of API {cfg.version}", "", ""))
        return checks

    def retire(self, slot: str) -> None:
        """Take the slot out of the router first, then stop it: no request is sent to a dying replica."""
        table = self.router.table()
        if slot in table.pools and table.weights.get(slot, 0) == 0:
            pools = {k: v for k, v in table.pools.items() if k != slot}
            weights = {k: w for k, w in table.weights.items() if k != slot}
            preview = table.preview if table.preview != slot else None
            self.router.put(RoutingTable(pools, weights, preview, table.sticky_salt))
        replicas.stop_replicas(self.settings, slot)

    def teardown(self) -> None:
        replicas.stop_replicas(self.settings)
        stop_router(self.settings)
        self.settings.path("router", "routes.json").unlink(missing_ok=True)
        self._router = None
        if self.started_milvus:
            server.stop_server(self.settings)

    def cleanup(self) -> None:
        """Everything teardown stops; data stays on disk (the lab drops its collections)."""
        self.teardown()

    def describe(self) -> dict[str, str]:
        return {"target": f"local (Milvus {self.settings.milvus} + local router)",
                "milvus": self.settings.milvus_uri, "router": self.settings.router_url}
