"""Design before traffic: what is measured, what may not get worse, and how much data.

The power analysis is statsmodels' (`NormalIndPower` on Cohen's h from
`proportion_effectsize`): the fixed-horizon sample size per arm for the minimum detectable
effect. Because the lab watches the experiment continuously with an always-valid test
(`sequential.py`), it plans for that test's own sample size, which is larger: the price of
being allowed to look at any time. The run length follows from the planned traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from milvus_lab.abtest import sequential


@dataclass(frozen=True)
class Guardrails:
    """Metrics that may not get worse, whatever the primary metric says."""

    max_p95_ratio: float = 1.5  # B's p95 latency <= 1.5 x A's ...
    p95_slack_ms: float = 10.0  # ... + 10 ms (noise on a busy laptop)
    max_error_rate_increase: float = 0.01  # B's error rate <= A's + 1 point
    alpha: float = 0.05  # guardrails are tested sequentially too (always-valid)
    error_tau: float = 0.02  # mixing sd of the error-rate mSPRT (typical harm size)
    latency_tau_ms: float = 10.0  # mixing sd of the mean-latency mSPRT


@dataclass(frozen=True)
class Design:
    """The experiment's contract, fixed before the first request."""

    primary_metric: str = "success: the exact nearest product is in the top 3 results"
    baseline_rate: float = 0.93  # A's success rate (measured offline on the query set)
    mde: float = 0.04  # minimum detectable effect, absolute (percentage points / 100)
    alpha: float = 0.05
    power: float = 0.80
    tau: float = 0.04  # mixing sd of the mSPRT: the effect size we expect, here the MDE
    planned_rps: float = 60.0  # requests per second, both arms together
    weights: tuple[float, float] = (0.5, 0.5)
    min_per_arm: int = 200  # no decision before this (burn-in: normal approximation, SRM power)
    preview_per_arm: int = 20  # looks are drawn from here on, but count only after min_per_arm
    guardrails: Guardrails = Guardrails()

    def __post_init__(self) -> None:
        if not 0 < self.baseline_rate < 1 or not 0 < self.baseline_rate + self.mde <= 1:
            raise ValueError("baseline_rate and baseline_rate + mde must be in (0, 1]")
        if not 0 < self.alpha < 0.5 or not 0.5 <= self.power < 1 or self.mde == 0:
            raise ValueError("need 0 < alpha < 0.5, 0.5 <= power < 1 and a non-zero MDE")


@dataclass(frozen=True)
class Plan:
    """What the design implies."""

    effect_size_h: float  # Cohen's h of baseline -> baseline + MDE
    n_fixed_per_arm: int  # fixed-horizon z-test (statsmodels NormalIndPower)
    n_sequential_per_arm: int  # the always-valid test, the one the lab actually runs
    n_max_per_arm: int  # where the run stops without a decision
    seconds: float  # at the planned rate

    @property
    def sequential_inflation(self) -> float:
        return self.n_sequential_per_arm / self.n_fixed_per_arm


def plan(design: Design) -> Plan:
    """Sample sizes and run length for the design."""
    p_a, p_b = design.baseline_rate, min(design.baseline_rate + design.mde, 1 - 1e-9)
    h = float(proportion_effectsize(p_b, p_a))
    ratio = design.weights[1] / design.weights[0]
    n_fixed = math.ceil(NormalIndPower().solve_power(effect_size=abs(h), alpha=design.alpha,
                                                     power=design.power, ratio=ratio,
                                                     alternative="two-sided"))
    n_seq = max(design.min_per_arm, sequential.sample_size(p_a, p_b, design.tau, design.alpha,
                                                           design.power))
    per_second_per_arm = design.planned_rps * min(design.weights) / sum(design.weights)
    return Plan(h, n_fixed, n_seq, n_seq, n_seq / per_second_per_arm)
