"""Always-valid inference: a mixture SPRT (mSPRT) that may be checked after every request.

A fixed-horizon test is valid once, at the sample size it was planned for. Looking at its
p-value again and again and stopping at the first p < alpha inflates false positives (see
`peeking_simulation` and `benchmarks/ab_sequential.py`). The mSPRT (Johari, Pekelis, Walsh:
"Always valid inference", 2017) compares a Gaussian mixture of alternatives theta ~ N(0,
tau^2) with theta = 0; its likelihood ratio is a martingale under H0, so by Ville's
inequality P(it ever exceeds 1/alpha) <= alpha: stop whenever it does, as often as you look.

For an estimate d with standard error s (normal approximation):

    Lambda = sqrt(s^2 / (s^2 + tau^2)) * exp(d^2 tau^2 / (2 s^2 (s^2 + tau^2)))

equivalently: reject when |d / s| >= b(s), with b the boundary below; the confidence
sequence d +- s * b(s) covers the true effect at every look at once with prob >= 1 - alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


def log_mixture_lr(diff: float, se: float, tau: float) -> float:
    """log Lambda for an estimate `diff` with standard error `se` (mixing sd `tau`)."""
    if se <= 0:
        return 0.0 if diff == 0 else math.inf
    v, t2 = se * se, tau * tau
    return 0.5 * math.log(v / (v + t2)) + diff * diff * t2 / (2 * v * (v + t2))


def z_boundary(se: float, tau: float, alpha: float) -> float:
    """The |z| the mSPRT needs at this standard error: grows slowly (~sqrt(log n))."""
    if se <= 0:
        return 0.0
    r = (tau * tau) / (se * se)
    return math.sqrt((1 + r) / r * (2 * math.log(1 / alpha) + math.log(1 + r)))


@dataclass(frozen=True)
class Look:
    """One look at the running experiment."""

    n: int  # total samples so far (both arms)
    diff: float  # estimate of B - A
    se: float
    z: float
    boundary: float  # |z| needed now
    always_valid_p: float  # running minimum of 1 / Lambda (capped at 1)
    naive_p: float  # the fixed-horizon two-sided p-value at this look (NOT valid when peeking)
    crossed: bool  # Lambda >= 1/alpha at this look or before

    @property
    def cs_low(self) -> float:
        return self.diff - self.se * self.boundary

    @property
    def cs_high(self) -> float:
        return self.diff + self.se * self.boundary


class SequentialTest:
    """Feed it (diff, se) at each look; it keeps the always-valid p-value and the stop flag."""

    def __init__(self, tau: float, alpha: float = 0.05) -> None:
        if tau <= 0 or not 0 < alpha < 1:
            raise ValueError("tau must be > 0 and alpha in (0, 1)")
        self.tau, self.alpha = tau, alpha
        self.p = 1.0
        self.crossed = False
        self.looks: list[Look] = []

    def preview(self, n: int, diff: float, se: float) -> Look:
        """A look that does not count (burn-in): drawn, but it can neither stop nor lower p."""
        z = diff / se if se > 0 else 0.0
        return Look(n, diff, se, z, z_boundary(se, self.tau, self.alpha), self.p,
                    float(2 * stats.norm.sf(abs(z))), self.crossed)

    def update(self, n: int, diff: float, se: float) -> Look:
        llr = log_mixture_lr(diff, se, self.tau)
        self.p = min(self.p, 1.0, math.exp(-llr) if llr < 700 else 0.0)
        self.crossed = self.crossed or llr >= math.log(1 / self.alpha)
        z = diff / se if se > 0 else 0.0
        look = Look(n, diff, se, z, z_boundary(se, self.tau, self.alpha), self.p,
                    float(2 * stats.norm.sf(abs(z))), self.crossed)
        self.looks.append(look)
        return look


def power_at(n_per_arm: float, p_a: float, p_b: float, tau: float, alpha: float) -> float:
    """A lower bound on the mSPRT's power after n per arm: P(|Z_n| >= b) at that one look.

    The test standardises with the pooled (H0) standard error, as the lab does; under the
    alternative the estimate spreads with the unpooled one.
    """
    pooled = (p_a + p_b) / 2
    se_test = math.sqrt(2 * pooled * (1 - pooled) / n_per_arm)
    se_true = math.sqrt((p_a * (1 - p_a) + p_b * (1 - p_b)) / n_per_arm)
    edge = z_boundary(se_test, tau, alpha) * se_test
    delta = abs(p_b - p_a)
    return float(stats.norm.sf((edge - delta) / se_true) + stats.norm.cdf((-edge - delta) / se_true))


def sample_size(p_a: float, p_b: float, tau: float, alpha: float, power: float) -> int:
    """Smallest n per arm where `power_at` reaches `power` (bisection on the closed form)."""
    low, high = 2.0, 2.0
    while power_at(high, p_a, p_b, tau, alpha) < power:
        low, high = high, high * 2
        if high > 1e9:
            raise ValueError("the effect is too small to detect")
    while high - low > 0.5:
        mid = (low + high) / 2
        low, high = (mid, high) if power_at(mid, p_a, p_b, tau, alpha) < power else (low, mid)
    return math.ceil(high)


@dataclass(frozen=True)
class PeekingOutcome:
    """Share of simulated A/A experiments that declared a (false) winner."""

    experiments: int
    naive_false_positives: int
    sequential_false_positives: int

    @property
    def naive_rate(self) -> float:
        return self.naive_false_positives / self.experiments

    @property
    def sequential_rate(self) -> float:
        return self.sequential_false_positives / self.experiments


def peeking_simulation(experiments: int, n_per_arm: int, looks: int, p: float, tau: float,
                       alpha: float = 0.05, seed: int = 0) -> PeekingOutcome:
    """A/A experiments (both arms rate p): stop at the first look with naive p < alpha, or
    with the mSPRT crossing. Vectorised numpy, so a few hundred runs take a blink."""
    rng = np.random.default_rng(seed)
    at = np.unique(np.linspace(n_per_arm / looks, n_per_arm, looks).astype(int))
    a = rng.random((experiments, n_per_arm)) < p
    b = rng.random((experiments, n_per_arm)) < p
    ca, cb = np.cumsum(a, axis=1)[:, at - 1], np.cumsum(b, axis=1)[:, at - 1]
    pa, pb = ca / at, cb / at
    pooled = (ca + cb) / (2 * at)
    se = np.sqrt(np.maximum(pooled * (1 - pooled), 1e-12) * 2 / at)
    z = (pb - pa) / se
    naive = (2 * stats.norm.sf(np.abs(z)) < alpha).any(axis=1)
    bound = np.vectorize(lambda s: z_boundary(s, tau, alpha))(se)
    seq = (np.abs(z) >= bound).any(axis=1)
    return PeekingOutcome(experiments, int(naive.sum()), int(seq.sum()))
