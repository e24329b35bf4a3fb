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
    # p95 of the live collection, probed interleaved with the candidate (same machine, same
    # moment): a busy laptop slows both, so the gate judges the candidate against it too
    reference_p95_ms: float | None = None


@dataclass(frozen=True)
class GatePolicy:
    """Thresholds a candidate must meet before promotion."""

    min_recall: float = 0.90
    max_p95_ms: float = 1000.0  # the search SLO; probes run while the live version is under load
    # over the SLO is still a pass when the live collection is just as slow right now (the
    # machine, not the candidate): the candidate may be at most this much slower than it
    p95_vs_reference: float = 2.0  # p95 of 40 probes swings ~1.6x on a loaded 2-core laptop



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
class Measurement:
    """One analysis interval (Argo Rollouts' measurement): green's live traffic, and blue
    probed at the same time on the same machine (Kayenta's baseline), so a slow laptop slows
    both sides and only a difference between them counts against the release."""

    green: TrafficWindow
    reference: TrafficWindow


@dataclass(frozen=True)
class AnalysisPolicy:
    """When live traffic says 'roll back' (Argo Rollouts' AnalysisTemplate, in miniature).

    A measurement fails on errors (green's error ratio above the limit) or on latency (green
    over the SLO AND more than `p95_regression_factor` x blue measured at the same time; with
    fewer than `min_reference` blue probes latency is not judged, as Kayenta's "no data"). One
    unlucky interval never aborts: `consecutive_failures` failed measurements in a row do
    (Argo's failureLimit). A measurement with fewer than `min_requests` requests is
    inconclusive: it neither fails nor passes.
    """

    interval_s: float = 2.0
    min_requests: int = 40  # per measurement: decide on evidence, not on the first unlucky request
    min_reference: int = 8  # blue probes per measurement before latency can be compared
    max_error_ratio: float = 0.01
    max_p95_ms: float = 500.0  # the SLO (with margin: the search itself takes ~5-50 ms)
    p95_regression_factor: float = 2.0
    consecutive_failures: int = 2


@dataclass(frozen=True)
class Decision:
    """The verdict of the analysis: keep going, wait for more data, or roll back (and why)."""

    action: str  # "rollback" | "continue" | "wait"
    reason: str

    @property
    def rollback(self) -> bool:
        return self.action == "rollback"
