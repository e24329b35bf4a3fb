"""Gates after a deploy: the smoke test (is it up, is it the right digest, does search work)
and the post-deploy watch (error ratio under concurrent searches against the threshold)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

# generous per request: a loaded 2-core machine can stall a healthy replica for seconds;
# a bad release fails with an HTTP status, not with a slow answer
TIMEOUT_S = 30.0


@dataclass
class GateResult:
    passed: bool
    requests: int
    errors: int
    detail: str
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 1.0


def _vector(dim: int, rng: random.Random) -> list[float]:
    return [rng.random() for _ in range(dim)]


def smoke(urls: list[str], version: str, requests: int, dim: int = 128) -> GateResult:
    """Every replica: /healthz 200, /version names the deployed digest, `requests` searches 200."""
    rng = random.Random(7)
    problems: list[str] = []
    sent = errors = 0
    statuses: dict[str, int] = {}
    with httpx.Client(timeout=TIMEOUT_S) as client:
        for url in urls:
            try:
                if client.get(f"{url}/healthz").status_code != 200:
                    problems.append(f"{url}/healthz not 200")
                served = client.get(f"{url}/version").json().get("version")
                if served != version:
                    problems.append(f"{url} serves version {served!r}, expected {version!r}")
            except httpx.HTTPError as exc:
                problems.append(f"{url}: {type(exc).__name__}")
            for _ in range(requests):
                sent += 1
                try:
                    resp = client.post(f"{url}/search", json={"vector": _vector(dim, rng), "k": 5})
                    code = str(resp.status_code)
                    ok = resp.status_code == 200 and bool(resp.json().get("hits"))
                except httpx.HTTPError as exc:
                    code, ok = type(exc).__name__, False
                statuses[code] = statuses.get(code, 0) + 1
                errors += not ok
    if errors:
        problems.append(f"{errors}/{sent} smoke searches failed (statuses {statuses})")
    return GateResult(not problems, sent, errors, "; ".join(problems) or "all replicas healthy, right digest, searches answer", statuses)


def watch(urls: list[str], requests: int, max_error_ratio: float, concurrency: int = 8,
          dim: int = 128) -> GateResult:
    """`requests` searches, `concurrency` at a time across the replicas; pass if errors/requests
    <= max_error_ratio (real traffic: faults that only bite under concurrency show up here)."""
    rng = random.Random(11)
    bodies = [{"vector": _vector(dim, rng), "k": 5} for _ in range(requests)]
    statuses: dict[str, int] = {}

    def one(i: int) -> str:
        try:
            return str(client.post(f"{urls[i % len(urls)]}/search", json=bodies[i]).status_code)
        except httpx.HTTPError as exc:
            return type(exc).__name__

    with httpx.Client(timeout=TIMEOUT_S, limits=httpx.Limits(max_connections=concurrency * 2)) as client, \
            ThreadPoolExecutor(concurrency) as pool:
        for code in pool.map(one, range(requests)):
            statuses[code] = statuses.get(code, 0) + 1
    errors = requests - statuses.get("200", 0)
    ratio = errors / requests if requests else 1.0
    passed = ratio <= max_error_ratio
    detail = f"error ratio {ratio:.3f} ({errors}/{requests}) {'<=' if passed else '>'} {max_error_ratio:g}"
    return GateResult(passed, requests, errors, detail, statuses)
