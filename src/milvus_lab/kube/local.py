"""Lab 01's Kubernetes concepts played on the embedded environment (`--target local`).

| Kubernetes                        | here                                             |
|-----------------------------------|--------------------------------------------------|
| Deployment replicas               | uvicorn processes (`milvus_lab.app.replicas`)    |
| readiness probe                   | GET /readyz before a replica joins the pool      |
| Service + EndpointSlices          | the router's pool for the slot                   |
| scale up / scale down             | start + add to pool / remove from pool + SIGTERM |

Scale-down removes the replica from the pool *before* stopping it, and the stop is
graceful (in-flight requests finish): that order is why the demo has 0 failed requests,
and it is what Kubernetes does with endpoint removal plus a preStop delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from milvus_lab.app import replicas as replica_procs
from milvus_lab.app.config import ApiConfig
from milvus_lab.app.replicas import Replica
from milvus_lab.kube import verify
from milvus_lab.settings import Settings


def served_searches(replica: Replica, timeout: float = 3.0) -> int:
    """Successful searches this replica has served (its own /metrics, like a per-pod scrape)."""
    return verify.served_searches(httpx.get(f"{replica.url}/metrics", timeout=timeout).text)


@dataclass
class BalanceResult:
    """Requests sent through the router and who served them."""

    counts: dict[str, int]
    failures: int
    sent: int


def balance_through_router(
    router_url: str, pool: Sequence[Replica], body: dict[str, Any], requests: int = 60
) -> BalanceResult:
    """Send `requests` searches through the router; count each replica's share from the
    difference in its own /metrics counter."""
    before = {r.name: served_searches(r) for r in pool}
    failures = 0
    with httpx.Client(timeout=10.0) as client:
        for _ in range(requests):
            try:
                resp = client.post(f"{router_url}/search", json=body)
                if resp.status_code != 200 or not resp.json().get("hits"):
                    failures += 1
            except httpx.HTTPError:
                failures += 1
    after = {r.name: served_searches(r) for r in pool}
    counts = {name: after[name] - before[name] for name in sorted(before)}
    return BalanceResult(counts, failures, requests)


def scale_slot(settings: Settings, router: Any, cfg: ApiConfig, count: int) -> list[Replica]:
    """Scale a slot to `count` ready replicas without failing a request.

    Up: start, wait for /readyz, then add to the pool. Down: remove from the pool first,
    then stop gracefully.
    """
    current = replica_procs.list_replicas(settings, cfg.slot)
    if count > len(current):
        ready = replica_procs.start_replicas(settings, cfg, count)  # keeps the running ones
        router.set_pool(cfg.slot, [r.url for r in ready])
        return ready
    keep, victims = current[:count], current[count:]
    if victims:
        router.set_pool(cfg.slot, [r.url for r in keep])
        for victim in victims:
            replica_procs.stop_replica(settings, victim)
    return keep


def replica_table(pool: Sequence[Replica], counts: dict[str, int] | None = None) -> list[tuple[Any, ...]]:
    """Rows for the summary table: name, pid, URL (the 'pod IP'), requests served."""
    counts = counts or {}
    return [(r.name, r.pid, r.url, counts.get(r.name, "")) for r in pool]


def shares(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}
