"""The one client of the search API: the request body, what counts as a failure, sampling.

A search that returns no hits is a failure, not a success (DESIGN.md section 6), here
and in the locustfiles alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from milvus_lab.milvus.datasets import Dataset

Body = dict[str, object]


def search_body(vector: Sequence[float], k: int = 10, filter: str | None = None) -> Body:
    """The JSON body of `POST /search` (see the API's OpenAPI spec at /docs)."""
    body: Body = {"vector": [float(x) for x in vector], "k": k}
    if filter:
        body["filter"] = filter
    return body


def failed(resp: httpx.Response) -> bool:
    """Non-200 or no hits: what users would call a failed search."""
    return resp.status_code != 200 or not resp.json().get("hits")


@dataclass
class Sample:
    """What n searches through one URL saw."""

    url: str
    ok: int = 0
    failed: int = 0
    served_by: Counter[str] = field(default_factory=Counter)
    data_versions: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.ok + self.failed


def sample(url: str, ds: Dataset, n: int = 20, timeout: float = 5.0, k: int = 10) -> Sample:
    """Send n searches (the dataset's queries in turn) and count who answered with what."""
    out = Sample(url)
    with httpx.Client(timeout=timeout) as client:
        for i in range(n):
            try:
                resp = client.post(f"{url}/search", json=search_body(ds.queries[i % len(ds.queries)], k))
            except httpx.HTTPError as exc:
                out.failed += 1
                out.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            out.served_by[resp.headers.get("x-served-by", "?")] += 1
            if not failed(resp):
                out.ok += 1
                out.data_versions[resp.headers.get("x-data-version", "?")] += 1
            else:
                out.failed += 1
                out.errors.append(f"HTTP {resp.status_code}: {resp.text[:120]}")
    return out


def count_failures(url: str, body: Body, requests: int, new_connection: bool = False,
                   timeout: float = 5.0) -> int:
    """Send `requests` searches; return how many failed.

    `new_connection=True` opens a connection per request: a NodePort balances
    connections, not requests.
    """
    failures = 0
    headers = {"Connection": "close"} if new_connection else {}
    with httpx.Client(timeout=timeout, headers=headers) as client:
        for _ in range(requests):
            try:
                failures += failed(client.post(f"{url}/search", json=body))
            except httpx.HTTPError:
                failures += 1
    return failures
