"""Health check of every component of the local environment, with one exit code per component.

What a runbook's first command and a DR drill's last step need: is each part serving? The
checks are real requests (Milvus answers `list_collections` and serves the alias; each
API replica's /readyz; the router's /healthz and a live slot; Prometheus and Alertmanager
/-/ready), not just "a pid exists".

Exit codes (`milvus-lab health`), a bit per component that is not healthy, so a script can
tell which ones from one number:

    0   every checked component is healthy
    2   bad input (the project's usual meaning)
    4   Milvus down or degraded (not answering, or the alias serves nothing loaded)
    8   API replicas down or degraded (none, or only some, ready)
    16  router down or degraded (not answering, or no live slot)
    32  Prometheus down (it was started: a process record exists)
    64  Alertmanager down (it was started: a process record exists)

e.g. 12 = Milvus and the API replicas. Prometheus and Alertmanager are optional: when they
were never started they are reported "not running" and do not count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

import httpx

from milvus_lab import processes
from milvus_lab.settings import Settings

Progress = Callable[[str, float], None]


class State(str, Enum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    DOWN = "down"
    NOT_RUNNING = "not running"  # an optional component that was never started


#: the exit-code bit of each component (see the module docstring)
CODES: dict[str, int] = {"milvus": 4, "api": 8, "router": 16, "prometheus": 32, "alertmanager": 64}
COMPONENTS: tuple[str, ...] = tuple(CODES)


@dataclass(frozen=True)
class ComponentHealth:
    """One component's state, what was seen, and its exit-code bit."""

    name: str
    state: State
    detail: str
    seconds: float = 0.0

    @property
    def code(self) -> int:
        return CODES[self.name]

    @property
    def counts(self) -> bool:
        """True when this component makes the exit code non-zero."""
        return self.state in (State.DOWN, State.DEGRADED)


@dataclass(frozen=True)
class HealthReport:
    components: list[ComponentHealth]

    @property
    def exit_code(self) -> int:
        return exit_code(self.components)

    @property
    def healthy(self) -> bool:
        return self.exit_code == 0

    def by_name(self, name: str) -> ComponentHealth:
        return next(c for c in self.components if c.name == name)

    def summary(self) -> dict[str, object]:
        return {"exit_code": self.exit_code,
                "components": {c.name: {"state": c.state.value, "detail": c.detail,
                                        "code": c.code, "seconds": round(c.seconds, 3)}
                               for c in self.components}}


def exit_code(components: Sequence[ComponentHealth]) -> int:
    """OR of the bits of the components that are down or degraded (0: all healthy)."""
    code = 0
    for c in components:
        if c.counts:
            code |= c.code
    return code


def _get(url: str, timeout: float) -> int | None:
    try:
        return httpx.get(url, timeout=timeout).status_code
    except httpx.HTTPError:
        return None


def check_milvus(settings: Settings, alias: str | None = None, timeout: float = 3.0) -> ComponentHealth:
    """Down: our Milvus Lite record is stale, or nothing answers at the URI. Degraded: it
    answers but `alias` is missing or its collection is not loaded."""
    import contextlib

    from milvus_lab.milvus.server import SERVER_NAME, answers

    rec = processes.read_record(settings, SERVER_NAME)
    if rec is not None and not rec.alive():
        return ComponentHealth("milvus", State.DOWN, f"Milvus Lite pid {rec.pid} is gone "
                               "(stale record; `milvus-lab down` clears it)")
    if not answers(settings.milvus_uri, timeout=timeout):
        where = f"pid {rec.pid} runs but " if rec else ""
        return ComponentHealth("milvus", State.DOWN, f"{where}nothing answers at {settings.milvus_uri}")
    from pymilvus import MilvusClient

    from milvus_lab.milvus.collections import alias_target, is_loaded

    client = MilvusClient(uri=settings.milvus_uri, timeout=timeout)
    try:
        names = client.list_collections()
        if alias is None:
            return ComponentHealth("milvus", State.HEALTHY, f"answers; {len(names)} collection(s)")
        target = alias_target(client, alias)
        if target is None:
            return ComponentHealth("milvus", State.DEGRADED,
                                   f"answers, but alias {alias!r} points at no collection")
        if not is_loaded(client, target):
            return ComponentHealth("milvus", State.DEGRADED,
                                   f"alias {alias!r} -> {target}, which is not loaded")
        rows = int(client.get_collection_stats(target).get("row_count", 0))
        return ComponentHealth("milvus", State.HEALTHY,
                               f"alias {alias!r} -> {target} (loaded, {rows:,} rows)")
    finally:
        with contextlib.suppress(Exception):
            client.close()


def check_api(settings: Settings, timeout: float = 2.0) -> ComponentHealth:
    """Every API replica we started answers /readyz 200: healthy; some: degraded; none: down."""
    from milvus_lab.app.replicas import PREFIX

    recs = processes.list_records(settings, PREFIX)
    if not recs:
        return ComponentHealth("api", State.DOWN, "no API replica was started (`milvus-lab up`)")
    ready, broken = [], []
    for rec in recs:
        ok = rec.alive() and _get(f"http://127.0.0.1:{rec.port}/readyz", timeout) == 200
        (ready if ok else broken).append(rec.name)
    if not broken:
        return ComponentHealth("api", State.HEALTHY, f"{len(ready)}/{len(recs)} replicas ready")
    state = State.DEGRADED if ready else State.DOWN
    return ComponentHealth("api", state, f"{len(ready)}/{len(recs)} ready; not ready: {', '.join(broken)}")


def check_router(settings: Settings, timeout: float = 2.0) -> ComponentHealth:
    """The router answers /healthz on its control port and routes to at least one slot."""
    from milvus_lab.router.client import ROUTER_NAME

    rec = processes.read_record(settings, ROUTER_NAME)
    if rec is not None and not rec.alive():
        return ComponentHealth("router", State.DOWN, f"router pid {rec.pid} is gone (stale record)")
    if _get(f"{settings.router_control_url}/healthz", timeout) != 200:
        return ComponentHealth("router", State.DOWN, f"no answer at {settings.router_control_url}/healthz")
    try:
        table = httpx.get(f"{settings.router_control_url}/routes", timeout=timeout).json()
    except (httpx.HTTPError, ValueError):
        return ComponentHealth("router", State.DEGRADED, "answers /healthz but not /routes")
    live = sorted(s for s, w in table.get("weights", {}).items() if w > 0 and table.get("pools", {}).get(s))
    if not live:
        return ComponentHealth("router", State.DEGRADED, "answers, but no slot has weight and backends")
    return ComponentHealth("router", State.HEALTHY, f"live slot(s): {', '.join(live)}")


def check_optional(settings: Settings, name: str, timeout: float = 2.0) -> ComponentHealth:
    """Prometheus / Alertmanager, checked only when we started them (a process record)."""
    label = {"prometheus": "Prometheus", "alertmanager": "Alertmanager"}[name]
    rec = processes.read_record(settings, name)
    if rec is None:
        return ComponentHealth(name, State.NOT_RUNNING, f"{label} was not started (optional)")
    if not rec.alive():
        return ComponentHealth(name, State.DOWN, f"{label} pid {rec.pid} is gone (stale record)")
    status = _get(f"http://127.0.0.1:{rec.port}/-/ready", timeout)
    if status != 200:
        return ComponentHealth(name, State.DOWN, f"{label} on port {rec.port}: /-/ready "
                               f"{'did not answer' if status is None else f'answered {status}'}")
    return ComponentHealth(name, State.HEALTHY, f"{label} ready on port {rec.port}")


def check_health(settings: Settings, *, components: Sequence[str] = COMPONENTS,
                 alias: str | None = "products", timeout: float = 3.0,
                 progress: Progress | None = None) -> HealthReport:
    """Check `components` (default all) of the environment that `settings` points at.

    Inputs: settings (home, ports); `alias` whose collection must be served (None: skip);
    a per-request timeout. Output: a `HealthReport`; `.exit_code` is the documented code.
    Never raises for a component that is down: that is what it reports.
    """
    unknown = [c for c in components if c not in CODES]
    if unknown:
        raise ValueError(f"unknown component(s) {unknown}; use {', '.join(COMPONENTS)}")
    checks: dict[str, Callable[[], ComponentHealth]] = {
        "milvus": lambda: check_milvus(settings, alias, timeout),
        "api": lambda: check_api(settings, timeout),
        "router": lambda: check_router(settings, timeout),
        "prometheus": lambda: check_optional(settings, "prometheus", timeout),
        "alertmanager": lambda: check_optional(settings, "alertmanager", timeout),
    }
    out = []
    for i, name in enumerate(components):
        if progress:
            progress(f"check {name}", i / len(components))
        t0 = time.monotonic()
        try:
            result = checks[name]()
        except Exception as exc:  # a check that crashes reports the component down, never the CLI
            result = ComponentHealth(name, State.DOWN, f"check failed: {type(exc).__name__}: {exc}")
        out.append(ComponentHealth(result.name, result.state, result.detail, time.monotonic() - t0))
    if progress:
        progress("health checked", 1.0)
    return HealthReport(out)
