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

import httpx

from milvus_lab.app.client import Body, count_failures
from milvus_lab.app.replicas import Replica
from milvus_lab.kube import verify


def served_searches(replica: Replica, timeout: float = 3.0) -> int:
    """Successful searches this replica has served (its own /metrics, like a per-pod scrape)."""
    return verify.served_searches(httpx.get(f"{replica.url}/metrics", timeout=timeout).text)


@dataclass
class BalanceResult:
    """Requests sent through the router and who served them."""

    counts: dict[str, int]
    failures: int
    sent: int


def balance_through_router(router_url: str, pool: Sequence[Replica], body: Body, requests: int = 60) -> BalanceResult:
    """Send `requests` searches through the router; count each replica's share from the
    difference in its own /metrics counter."""
    before = {r.name: served_searches(r) for r in pool}
    failures = count_failures(router_url, body, requests, timeout=10.0)
    after = {r.name: served_searches(r) for r in pool}
    counts = {name: after[name] - before[name] for name in sorted(before)}
    return BalanceResult(counts, failures, requests)
