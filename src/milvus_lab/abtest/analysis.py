"""The fixed-horizon analysis a data scientist signs: tests, effect sizes and their CIs.

Every statistic comes from scipy or statsmodels (not hand-written formulas), so the
numbers match what the reviewer gets in a notebook:
- success rate: two-proportion z-test (`proportions_ztest`), difference with a Newcombe
  CI and the relative lift (`confint_proportions_2indep`);
- latency: Welch's t-test (unequal variances) and Mann-Whitney U (latency is skewed; the
  rank test does not care), a CI for the difference of means, p50/p95 per arm;
- recall@k: mean per arm with a t CI.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)


@dataclass(frozen=True)
class ProportionTest:
    """Successes out of trials per arm, B against A."""

    successes_a: int
    trials_a: int
    successes_b: int
    trials_b: int
    z: float
    p_value: float
    diff: float  # rate B - rate A
    diff_ci: tuple[float, float]
    lift: float  # rate B / rate A - 1
    lift_ci: tuple[float, float]
    rate_ci_a: tuple[float, float]
    rate_ci_b: tuple[float, float]

    @property
    def rate_a(self) -> float:
        return self.successes_a / self.trials_a if self.trials_a else math.nan

    @property
    def rate_b(self) -> float:
        return self.successes_b / self.trials_b if self.trials_b else math.nan


def two_proportion_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int,
                        alpha: float = 0.05) -> ProportionTest:
    """z-test of equal rates (pooled), with Newcombe / Wilson intervals."""
    if min(trials_a, trials_b) < 1:
        raise ValueError("each arm needs at least one trial")
    count = np.array([successes_b, successes_a])
    nobs = np.array([trials_b, trials_a])
    if count.sum() in (0, nobs.sum()):  # no variance at all: nothing to test
        z, p = 0.0, 1.0
    else:
        z, p = proportions_ztest(count, nobs)
    diff_ci = confint_proportions_2indep(successes_b, trials_b, successes_a, trials_a,
                                         method="newcomb", compare="diff", alpha=alpha)
    if successes_a > 0:
        lift_ci = confint_proportions_2indep(successes_b, trials_b, successes_a, trials_a,
                                             method="log-adjusted", compare="ratio", alpha=alpha)
        lift_ci = (float(lift_ci[0]) - 1, float(lift_ci[1]) - 1)
        lift = (successes_b / trials_b) / (successes_a / trials_a) - 1
    else:
        lift, lift_ci = math.nan, (math.nan, math.nan)
    return ProportionTest(
        successes_a, trials_a, successes_b, trials_b, float(z), float(p),
        successes_b / trials_b - successes_a / trials_a,
        (float(diff_ci[0]), float(diff_ci[1])), lift, lift_ci,
        tuple(float(x) for x in proportion_confint(successes_a, trials_a, alpha, "wilson")),  # type: ignore[arg-type]
        tuple(float(x) for x in proportion_confint(successes_b, trials_b, alpha, "wilson")),  # type: ignore[arg-type]
    )


def pooled_se(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float:
    """Standard error of rate B - rate A under H0 (pooled rate): the sequential test's scale."""
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    var = max(pooled * (1 - pooled), 0.25 / (trials_a + trials_b))  # never 0, even at 0 or 100 %
    return math.sqrt(var * (1 / trials_a + 1 / trials_b))


@dataclass(frozen=True)
class LatencyComparison:
    """Latency of B against A (milliseconds)."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    p50_a: float
    p50_b: float
    p95_a: float
    p95_b: float
    welch_t: float
    welch_p: float
    diff_ms: float  # mean B - mean A
    diff_ci: tuple[float, float]
    mannwhitney_u: float
    mannwhitney_p: float
    prob_b_slower: float  # common-language effect size: P(a B request is slower than an A one)


def compare_latency(a_ms: Sequence[float], b_ms: Sequence[float], alpha: float = 0.05) -> LatencyComparison:
    """Welch's t-test (means, unequal variances) and Mann-Whitney U (distributions)."""
    a, b = np.asarray(a_ms, dtype=float), np.asarray(b_ms, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("each arm needs at least two latencies")
    welch = stats.ttest_ind(b, a, equal_var=False)
    ci = welch.confidence_interval(1 - alpha)
    mw = stats.mannwhitneyu(b, a, alternative="two-sided")
    return LatencyComparison(
        len(a), len(b), float(a.mean()), float(b.mean()),
        float(np.percentile(a, 50)), float(np.percentile(b, 50)),
        float(np.percentile(a, 95)), float(np.percentile(b, 95)),
        float(welch.statistic), float(welch.pvalue), float(b.mean() - a.mean()),
        (float(ci.low), float(ci.high)), float(mw.statistic), float(mw.pvalue),
        float(mw.statistic / (len(a) * len(b))),
    )


def welch_se(a_ms: Sequence[float], b_ms: Sequence[float]) -> float:
    """Standard error of mean B - mean A (Welch): the latency guardrail's sequential scale."""
    a, b = np.asarray(a_ms, dtype=float), np.asarray(b_ms, dtype=float)
    return math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))


@dataclass(frozen=True)
class MeanCI:
    """A mean with its t confidence interval."""

    n: int
    mean: float
    low: float
    high: float


def mean_ci(values: Sequence[float], alpha: float = 0.05) -> MeanCI:
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return MeanCI(0, math.nan, math.nan, math.nan)
    m = float(x.mean())
    if len(x) < 2 or float(x.std()) == 0.0:
        return MeanCI(len(x), m, m, m)
    low, high = stats.t.interval(1 - alpha, len(x) - 1, loc=m, scale=stats.sem(x))
    return MeanCI(len(x), m, float(low), float(high))
