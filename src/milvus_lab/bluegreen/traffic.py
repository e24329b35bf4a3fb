"""Requests the lab sends itself to verify a release (preview smoke, who answers now)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import httpx

from milvus_lab.milvus.datasets import Dataset


@dataclass
class Sample:
    """What n searches through one URL saw."""

    url: str
    ok: int = 0
    failed: int = 0
    served_by: Counter = field(default_factory=Counter)
    data_versions: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.ok + self.failed


def sample(url: str, ds: Dataset, n: int = 20, timeout: float = 5.0) -> Sample:
    """Send n searches; a non-200 or an empty result is a failure."""
    out = Sample(url)
    with httpx.Client(timeout=timeout) as client:
        for i in range(n):
            q = ds.queries[i % len(ds.queries)].tolist()
            try:
                resp = client.post(f"{url}/search", json={"vector": q, "k": 10})
            except httpx.HTTPError as exc:
                out.failed += 1
                out.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            out.served_by[resp.headers.get("x-served-by", "?")] += 1
            if resp.status_code == 200 and resp.json().get("hits"):
                out.ok += 1
                out.data_versions[resp.headers.get("x-data-version", "?")] += 1
            else:
                out.failed += 1
                out.errors.append(f"HTTP {resp.status_code}: {resp.text[:120]}")
    return out
