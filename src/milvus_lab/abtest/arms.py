"""Records split by variant: the per-arm arrays every test and plot reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from milvus_lab.abtest.records import Record, outcome


@dataclass
class Arm:
    """Everything measured for one variant."""

    variant: str
    requests: int = 0
    errors: int = 0
    successes: int = 0
    recalls: list[float] = field(default_factory=list)  # per successful request
    latencies_ms: list[float] = field(default_factory=list)  # per successful request
    users: set[str] = field(default_factory=set)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def success_rate(self) -> float:
        return self.successes / self.requests if self.requests else 0.0

    def p95_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 95)) if self.latencies_ms else 0.0


def split(records: Iterable[Record], ground_truth: np.ndarray, variants: Sequence[str],
          k: int = 10) -> dict[str, Arm]:
    """One Arm per variant; requests outside the experiment (no variant) are left out."""
    arms = {v: Arm(v) for v in variants}
    for rec in records:
        arm = arms.get(rec.variant)
        if arm is None:
            continue
        arm.requests += 1
        arm.users.add(rec.user)
        if not rec.ok:
            arm.errors += 1
            continue
        got = outcome(rec, ground_truth, k)
        arm.successes += got.success
        arm.recalls.append(got.recall)
        arm.latencies_ms.append(rec.latency_ms)
    return arms
