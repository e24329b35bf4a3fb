"""The experiment watched while it runs: one look per tick, each with every sequential test.

Primary metric and guardrails are all always-valid (mSPRT), so the lab may look every
tick and stop at the first look where:
- the users per variant show a sample ratio mismatch (stop: invalid), or
- a guardrail is significantly worse in B (stop: keep A), or
- the primary metric's test crosses its boundary (stop: a winner), or
- the planned maximum sample is reached (stop: inconclusive unless already decided).
Before `min_per_arm` requests per arm, looks are drawn (the plot) but never stop the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from milvus_lab.abtest import analysis, validity
from milvus_lab.abtest.arms import Arm
from milvus_lab.abtest.design import Design
from milvus_lab.abtest.sequential import Look, SequentialTest

STOP_SRM = "sample ratio mismatch"
STOP_PRIMARY = "primary metric decided"
STOP_MAX = "planned sample reached"


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
    srm_p: float
    stop: str  # "" (go on), or why the run stops


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
        n = min(a.requests, b.requests)
        primary = err = lat = None
        srm_p, stop = 1.0, ""
        if n >= self.design.preview_per_arm:
            counting = n >= self.design.min_per_arm
            primary = self._look(self.primary, counting, a.requests + b.requests,
                                 b.success_rate - a.success_rate,
                                 analysis.pooled_se(a.successes, a.requests, b.successes, b.requests))
            err = self._look(self.errors, counting, a.requests + b.requests,
                             b.error_rate - a.error_rate,
                             analysis.pooled_se(a.errors, a.requests, b.errors, b.requests))
            if len(a.latencies_ms) >= 2 and len(b.latencies_ms) >= 2:
                diff = (sum(b.latencies_ms) / len(b.latencies_ms)
                        - sum(a.latencies_ms) / len(a.latencies_ms))
                se = max(analysis.welch_se(a.latencies_ms, b.latencies_ms), 1e-6)
                lat = self._look(self.latency, counting, a.requests + b.requests, diff, se)
            users = {self.control: len(a.users), self.treatment: len(b.users)}
            weights = dict(zip((self.control, self.treatment), self.design.weights, strict=True))
            srm = validity.srm_test(users, weights)
            srm_p = srm.p_value
            if counting:
                stop = self._stop_reason(a, b, srm, primary, err, lat)
        tick = Tick(t, a.requests, b.requests, primary, err, lat, a.p95_ms(), b.p95_ms(), srm_p, stop)
        self.ticks.append(tick)
        return tick

    @staticmethod
    def _look(test: SequentialTest, counting: bool, n: int, diff: float, se: float) -> Look:
        return test.update(n, diff, se) if counting else test.preview(n, diff, se)

    def _stop_reason(self, a: Arm, b: Arm, srm: validity.SrmResult, primary: Look | None,
                     err: Look | None, lat: Look | None) -> str:
        guard = self.design.guardrails
        if srm.mismatch:
            return f"{STOP_SRM} (users A={len(a.users)}, B={len(b.users)}, p={srm.p_value:.2g})"
        if err is not None and err.crossed and err.diff > guard.max_error_rate_increase / 2:
            return f"guardrail: error rate {b.error_rate:.1%} in B vs {a.error_rate:.1%} in A"
        if (lat is not None and lat.crossed and lat.diff > 0
                and b.p95_ms() > a.p95_ms() * guard.max_p95_ratio + guard.p95_slack_ms):
            return f"guardrail: p95 {b.p95_ms():.0f} ms in B vs {a.p95_ms():.0f} ms in A"
        if primary is not None and primary.crossed:
            return STOP_PRIMARY
        if min(a.requests, b.requests) >= self.n_max:
            return STOP_MAX
        return ""
