"""`local`: Milvus Lite server + uvicorn replicas behind the local router (Python only)."""

from __future__ import annotations

from collections.abc import Mapping

from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.milvus import server
from milvus_lab.router.client import RouterClient, ensure_router, stop_router
from milvus_lab.router.table import RoutingTable
from milvus_lab.settings import Settings


class LocalTarget:
    """Everything on 127.0.0.1; the router plays the Kubernetes Service."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._router: RouterClient | None = None
        self.started_milvus = False

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
        self.router.set_pool(cfg.slot, urls)
        return urls

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
        return {"target": "local (Milvus Lite + local router)", "milvus": self.settings.milvus_uri,
                "router": self.settings.router_url}
