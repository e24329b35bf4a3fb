"""The vocabulary of lab 03's decisions: what a gate measures, its policy, its verdicts.

The decisions themselves (the pre-promotion gate, promote, the rollback decision) are the
exercise in `solutions/lab03_blue_green.py`; these types are shared by the lab, the
exercise and the checks so all three speak about the same things.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CandidateReport:
    """What the gate measured on a candidate collection before any user sees it."""

    collection: str
    expected_rows: int
    rows: int
    recall_at_10: float
    p95_ms: float
    filtered_smoke: dict[str, bool] = field(default_factory=dict)  # filter expr -> passed
    loaded: bool = True


@dataclass(frozen=True)
class GatePolicy:
    """Thresholds a candidate must meet before promotion."""

    min_recall: float = 0.90
    max_p95_ms: float = 1000.0  # the search SLO; probes run while the live version is under load



@dataclass(frozen=True)
class Promotion:
    """An alias move: where it pointed before and after (verified by reading it back)."""

    alias: str
    previous: str | None
    current: str


@dataclass(frozen=True)
class TrafficWindow:
    """Live traffic since a switch, as the post-promotion analysis sees it."""

    requests: int
    failures: int
    p95_ms: float | None

    @property
    def error_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class AnalysisPolicy:
    """When live traffic says 'roll back' (Argo Rollouts' AnalysisTemplate, in miniature)."""

    min_requests: int = 40  # decide on evidence, not on the first unlucky request
    max_error_ratio: float = 0.01
    max_p95_ms: float = 1000.0
    p95_regression_factor: float = 2.0  # also roll back when p95 more than doubles vs baseline


@dataclass(frozen=True)
class Decision:
    """The verdict of the analysis: keep going, wait for more data, or roll back (and why)."""

    action: str  # "rollback" | "continue" | "wait"
    reason: str

    @property
    def rollback(self) -> bool:
        return self.action == "rollback"
