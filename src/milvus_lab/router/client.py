"""Start the router process and drive it through its control port."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from milvus_lab import processes
from milvus_lab.errors import PrerequisiteError
from milvus_lab.router.table import RoutingTable
from milvus_lab.settings import Settings

ROUTER_NAME = "router"


class RouterClient:
    """The control API: read the table, replace it atomically, shift weights."""

    def __init__(self, control_url: str) -> None:
        self.control_url = control_url
        self.http = httpx.Client(timeout=5.0)

    def table(self) -> RoutingTable:
        return RoutingTable.from_json(self.http.get(f"{self.control_url}/routes").raise_for_status().json())

    def put(self, table: RoutingTable) -> RoutingTable:
        resp = self.http.put(f"{self.control_url}/routes", json=table.to_json())
        if resp.status_code == 400:
            raise PrerequisiteError(f"router refused the table: {resp.json().get('error')}",
                                    fix="give every slot with weight > 0 at least one backend")
        return RoutingTable.from_json(resp.raise_for_status().json())

    def set_pool(self, slot: str, backends: Sequence[str]) -> RoutingTable:
        t = self.table()
        pools = {**t.pools, slot: tuple(backends)}
        return self.put(RoutingTable(pools, t.weights, t.preview, t.sticky_salt))

    def set_weights(self, weights: Mapping[str, int]) -> RoutingTable:
        """Replace all weights in one switch (slots not named get 0)."""
        t = self.table()
        full = {slot: int(weights.get(slot, 0)) for slot in {*t.pools, *weights}}
        return self.put(RoutingTable(t.pools, full, t.preview, t.sticky_salt))

    def switch_to(self, slot: str) -> RoutingTable:
        return self.set_weights({slot: 100})

    def set_preview(self, slot: str | None) -> RoutingTable:
        t = self.table()
        return self.put(RoutingTable(t.pools, t.weights, slot, t.sticky_salt))

    def live_slots(self) -> list[str]:
        return sorted(s for s, w in self.table().weights.items() if w > 0)

    def close(self) -> None:
        self.http.close()


def router_healthy(settings: Settings) -> bool:
    try:
        return httpx.get(f"{settings.router_control_url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_router(settings: Settings, timeout: float = 30.0, ca_file: Path | None = None) -> RouterClient:
    """Reuse our running router (if it runs with the same options) or start one.

    `ca_file`: the CA of HTTPS backends (lab 05); a router started without it is replaced.
    """
    argv = processes.python_argv(
        "-m", "milvus_lab.router.server", "--port", str(settings.router_port),
        "--control-port", str(settings.router_control_port),
        "--state", str(settings.path("router", "routes.json")),
        *(["--ca-file", str(ca_file)] if ca_file else []),
    )
    rec = processes.read_record(settings, ROUTER_NAME)
    if rec is not None and rec.alive() and rec.argv == argv:
        processes.wait_until(rec, lambda: router_healthy(settings), timeout, "router")
        return RouterClient(settings.router_control_url)
    if rec is not None:
        processes.stop_process(settings, ROUTER_NAME)  # dead, or started with other options
    for port in (settings.router_port, settings.router_control_port):
        if processes.port_in_use(port):
            raise PrerequisiteError(
                f"port {port} is in use by a process that is not our router",
                fix=f"stop it (`ss -ltnp 'sport = :{port}'` shows who) or set "
                    "MILVUS_LAB_ROUTER_PORT / MILVUS_LAB_ROUTER_CONTROL_PORT",
            )
    rec = processes.start_process(settings, ROUTER_NAME, argv, settings.router_port)
    processes.wait_until(rec, lambda: router_healthy(settings), timeout, "router")
    return RouterClient(settings.router_control_url)


def stop_router(settings: Settings) -> bool:
    return processes.stop_process(settings, ROUTER_NAME)
