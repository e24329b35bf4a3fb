"""The routing table: which slots exist, their backends and weights. Pure logic, no I/O.

A table is immutable; a switch builds a new one and swaps it in with one assignment,
which is what makes it atomic: every request sees either the old table or the new one.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

BUCKETS = 10_000


class TableError(ValueError):
    """A routing table that would send traffic nowhere."""


def user_bucket(user_id: str, salt: str = "") -> int:
    """A stable bucket in [0, BUCKETS) for a user: the same user always lands in the same one."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True)
class RoutingTable:
    """Slots -> backends, live weights, an optional preview slot, and a version counter."""

    pools: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    weights: Mapping[str, int] = field(default_factory=dict)
    preview: str | None = None
    sticky_salt: str = "milvus-lab"
    version: int = 0

    def validate(self) -> RoutingTable:
        if any(w < 0 for w in self.weights.values()):
            raise TableError("weights must be >= 0")
        live = [s for s, w in self.weights.items() if w > 0]
        if self.weights and not live:  # an empty table (fresh router) is fine; all-zero is not
            raise TableError("every slot has weight 0: traffic would go nowhere")
        for slot in live:
            if not self.pools.get(slot):
                raise TableError(f"slot {slot!r} has weight {self.weights[slot]} but no backends")
        if self.preview is not None and not self.pools.get(self.preview):
            raise TableError(f"preview slot {self.preview!r} has no backends")
        return self

    def _cumulative(self) -> list[tuple[int, str]]:
        total = sum(w for w in self.weights.values() if w > 0)
        edges, acc = [], 0
        for slot in sorted(s for s, w in self.weights.items() if w > 0):
            acc += self.weights[slot]
            edges.append((acc * BUCKETS // total, slot))
        return edges

    def slot_for_bucket(self, bucket: int) -> str:
        for edge, slot in self._cumulative():
            if bucket < edge:
                return slot
        return self._cumulative()[-1][1]

    @property
    def has_live_slot(self) -> bool:
        return any(w > 0 for w in self.weights.values())

    def choose(self, user_id: str | None, rnd: float) -> str:
        """The slot for a request: sticky by user id when given, else weighted at random."""
        bucket = user_bucket(user_id, self.sticky_salt) if user_id else int(rnd * BUCKETS)
        return self.slot_for_bucket(bucket)

    def to_json(self) -> dict:
        return {"pools": {k: list(v) for k, v in self.pools.items()}, "weights": dict(self.weights),
                "preview": self.preview, "sticky_salt": self.sticky_salt, "version": self.version}

    @classmethod
    def from_json(cls, data: Mapping) -> RoutingTable:
        return cls(
            pools={str(k): tuple(v) for k, v in data.get("pools", {}).items()},
            weights={str(k): int(v) for k, v in data.get("weights", {}).items()},
            preview=data.get("preview"),
            sticky_salt=str(data.get("sticky_salt", "milvus-lab")),
            version=int(data.get("version", 0)),
        )


class RoundRobin:
    """Per-slot round-robin over backends (what kube-proxy roughly does for a Service)."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, ...], itertools.count] = {}

    def order(self, backends: tuple[str, ...]) -> list[str]:
        """Backends starting at the next one in turn (the rest are fallbacks)."""
        counter = self._counters.setdefault(backends, itertools.count())
        start = next(counter) % len(backends)
        return [*backends[start:], *backends[:start]]
