"""The experiment watched while it runs: one look per tick, each with every sequential test.

Primary metric and guardrails are all always-valid (mSPRT), so the lab may look every
second and stop at the first look where:
- a guardrail is significantly worse in B (stop: keep A), or
- the primary metric's test crosses its boundary (stop: a winner), or
- the planned maximum sample is reached (stop: inconclusive unless already decided).
"""

from __future__ import annotations

from dataclasses import dataclass

from milvus_lab.abtest import analysis
from milvus_lab.abtest.arms import Arm
from milvus_lab.abtest.design import Design
from milvus_lab.abtest.sequential import Look, SequentialTest


@dataclass(frozen=True)
class Tick:
    """One look at the running experiment."""

    t: float
    n_a: int
    n_b: int
    primary: Look | None
    error_look: Look | None
    latency_look: Look | None
    p95_a: float
    p95_b: float
    stop: str  # "" (go on), "primary", "guardrail: ...", "max sample"


class Monitor:
    """Keeps the three sequential tests and decides, at each look, whether to stop."""

    def __init__(self, design: Design, n_max_per_arm: int, control: str = "A",
                 treatment: str = "B") -> None:
        self.design = design
        self.n_max = n_max_per_arm
        self.control, self.treatment = control, treatment
        self.primary = SequentialTest(design.tau, design.alpha)
        g = design.guardrails
        self.errors = SequentialTest(g.error_tau, g.alpha)
        self.latency = SequentialTest(g.latency_tau_ms, g.alpha)
        self.ticks: list[Tick] = []

    def look(self, t: float, arms: dict[str, Arm]) -> Tick:
        a, b = arms[self.control], arms[self.treatment]
        g = self.design.guardrails
        primary = err = lat = None
        stop = ""
        if min(a.requests, b.requests) >= self.design.min_per_arm:
            se = analysis.pooled_se(a.successes, a.requests, b.successes, b.requests)
            primary = self.primary.update(a.requests + b.requests, b.success_rate - a.success_rate, se)
            err_se = analysis.pooled_se(a.errors, a.requests, b.errors, b.requests)
            err = self.errors.update(a.requests + b.requests, b.error_rate - a.error_rate, err_se)
            if len(a.latencies_ms) >= 2 and len(b.latencies_ms) >= 2:
                lat_diff = (sum(b.latencies_ms) / len(b.latencies_ms)
                            - sum(a.latencies_ms) / len(a.latencies_ms))
                lat = self.latency.update(a.requests + b.requests, lat_diff,
                                          max(analysis.welch_se(a.latencies_ms, b.latencies_ms), 1e-6))
            if err.crossed and err.diff > g.max_error_rate_increase / 2:
                stop = f"guardrail: error rate {b.error_rate:.1%} in B vs {a.error_rate:.1%} in A"
            elif (lat is not None and lat.crossed and lat.diff > 0
                  and b.p95_ms() > a.p95_ms() * g.max_p95_ratio + g.p95_slack_ms):
                stop = f"guardrail: p95 {b.p95_ms():.0f} ms in B vs {a.p95_ms():.0f} ms in A"
            elif primary.crossed:
                stop = "primary"
            elif min(a.requests, b.requests) >= self.n_max:
                stop = "max sample"
        tick = Tick(t, a.requests, b.requests, primary, err, lat, a.p95_ms(), b.p95_ms(), stop)
        self.ticks.append(tick)
        return tick
