"""`local`: a Milvus engine (Lite or standalone) + uvicorn replicas behind the local router."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from milvus_lab import processes
from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus.engines import STANDALONE_CAPABILITIES, get_engine
from milvus_lab.milvus.server import MilvusEndpoint
from milvus_lab.report import console
from milvus_lab.router.client import RouterClient, ensure_router, stop_router
from milvus_lab.router.table import RoutingTable
from milvus_lab.settings import Settings
from milvus_lab.targets.capabilities import Capability
from milvus_lab.verification import Verification

# the router splits traffic by weight; the Milvus capabilities come from the engine (Milvus
# Lite: none; standalone: auth, TLS, metrics, alias rules)
ROUTER_CAPABILITIES = frozenset({Capability.WEIGHTED_SPLIT})


class LocalTarget:
    """Everything on 127.0.0.1; the router plays the Kubernetes Service."""

    name = "local"

    def __init__(self, settings: Settings, lab: str) -> None:
        self.settings = settings
        self.lab = lab
        self._router: RouterClient | None = None
        self._configs: dict[str, ApiConfig] = {}
        self.started_milvus = False
        self.engine = get_engine(settings)
        self.endpoint: MilvusEndpoint | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        return ROUTER_CAPABILITIES | self.engine.capabilities

    def require(self, needs: frozenset[Capability]) -> None:
        """Switch to (and configure) the standalone engine when a lab needs what only it has.

        Authentication and TLS are switched on in the engine's settings when asked for (TLS
        mutual unless MILVUS_LAB_STANDALONE_TLS chose one-way); it starts at `ensure_milvus`.
        """
        wanted = set(needs) & STANDALONE_CAPABILITIES
        if not wanted:
            return
        changes: dict[str, object] = {}
        if self.settings.milvus != "standalone":
            changes["milvus"] = "standalone"
        if Capability.MILVUS_AUTH in wanted and not self.settings.standalone_auth:
            changes["standalone_auth"] = True
        if Capability.MILVUS_TLS in wanted and not self.settings.standalone_tls:
            changes["standalone_tls"] = 2
        if not changes:
            return
        if "milvus" in changes:
            names = ", ".join(sorted(c.value for c in wanted))
            console.print(f"[bold]→[/] this lab needs {names}: Milvus Lite has none of that, so it "
                          "runs on the standalone engine (real Milvus 2.3.5; --milvus standalone)")
        self.settings = self.settings.with_(**changes)
        self.engine = get_engine(self.settings)
        self.endpoint = None

    # Milvus -------------------------------------------------------------------
    def ensure_milvus(self) -> str:
        # decided once, before the first start: a Ctrl-C while the engine starts must still stop
        # it at teardown (later calls reuse it; a loss is DependencyLost)
        if self.endpoint is None and self.engine.status().state != "running":
            self.started_milvus = True
        self.endpoint = self.engine.ensure()
        return self.endpoint.uri

    def api_milvus_uri(self) -> str:
        return (self.endpoint or self.engine.endpoint()).uri

    def _with_credentials(self, cfg: ApiConfig) -> ApiConfig:
        """The replicas reach Milvus with the engine's token and TLS client files."""
        ep = self.endpoint or self.engine.endpoint()
        return replace(cfg, milvus_uri=ep.uri, milvus_token=cfg.milvus_token or ep.token,
                       milvus_tls=cfg.milvus_tls or (ep.tls.to_json() if ep.tls else ""))

    # traffic ------------------------------------------------------------------
    @property
    def router(self) -> RouterClient:
        if self._router is None:
            self._router = ensure_router(self.settings)
        return self._router

    def deploy(self, cfg: ApiConfig, count: int) -> list[str]:
        cfg = self._with_credentials(cfg)
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
        engine_running = self.engine.status().state == "running"
        for what, port in (("router", self.settings.router_port),
                           ("router control", self.settings.router_control_port),
                           *self.engine.ports().items()):
            free = not processes.port_in_use(port)
            ours = not free and (any(r.port == port and r.alive() for r in processes.list_records(self.settings))
                                 or (what.startswith("Milvus") and engine_running))
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
            self.engine.stop()

    def cleanup(self) -> None:
        """Everything teardown stops; data stays on disk (the lab drops its collections)."""
        self.teardown()

    def describe(self) -> dict[str, str]:
        label = {"lite": "Milvus Lite", "standalone": "Milvus 2.3.5 standalone"}[self.engine.name]
        return {"target": f"local ({label} + local router)", "milvus": self.api_milvus_uri(),
                "router": self.settings.router_url}
