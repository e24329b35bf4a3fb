"""Lab 04's statistics against the references: statsmodels, scipy, and the textbook formulas.

For fixed inputs the lab's z-test, Welch test and SRM p-values must equal what a data
scientist gets from statsmodels/scipy directly (to 1e-9), and the sequential test must keep
its promise (checked by exact formulas here, by simulation in benchmarks/ab_sequential.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize, proportions_ztest

from milvus_lab.abtest import analysis, sequential, validity
from milvus_lab.abtest.design import Design, plan

CASES = [(930, 1000, 968, 1000), (45, 500, 61, 520), (200, 400, 180, 410), (7, 90, 19, 95)]


@pytest.mark.parametrize("sa, na, sb, nb", CASES)
def test_z_test_equals_statsmodels_and_the_formula(sa, na, sb, nb):
    lab = analysis.two_proportion_test(sa, na, sb, nb)
    z, p = proportions_ztest(np.array([sb, sa]), np.array([nb, na]))
    assert abs(lab.p_value - p) < 1e-9 and abs(lab.z - z) < 1e-9
    pooled = (sa + sb) / (na + nb)
    z_formula = (sb / nb - sa / na) / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    assert abs(lab.z - z_formula) < 1e-9
    assert abs(lab.p_value - 2 * stats.norm.sf(abs(z_formula))) < 1e-9
    assert lab.diff_ci[0] < lab.diff < lab.diff_ci[1]
    assert abs(analysis.pooled_se(sa, na, sb, nb) - math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))) < 1e-12


def test_z_test_without_variance_is_no_evidence():
    assert analysis.two_proportion_test(100, 100, 50, 50).p_value == 1.0
    with pytest.raises(ValueError):
        analysis.two_proportion_test(0, 0, 1, 1)


def test_welch_and_mann_whitney_equal_scipy():
    rng = np.random.default_rng(3)
    a = rng.lognormal(3.0, 0.5, 400)
    b = rng.lognormal(3.1, 0.7, 380)
    lab = analysis.compare_latency(a, b)
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert abs(lab.welch_p - ref.pvalue) < 1e-9 and abs(lab.welch_t - ref.statistic) < 1e-9
    # Welch by hand: t and Welch-Satterthwaite df
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (b.mean() - a.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    assert abs(lab.welch_t - t) < 1e-9 and abs(lab.welch_p - 2 * stats.t.sf(abs(t), df)) < 1e-9
    mw = stats.mannwhitneyu(b, a, alternative="two-sided")
    assert abs(lab.mannwhitney_p - mw.pvalue) < 1e-9
    assert lab.diff_ci[0] < lab.diff_ms < lab.diff_ci[1]
    assert abs(analysis.welch_se(a, b) - math.sqrt(va + vb)) < 1e-12


@pytest.mark.parametrize("counts", [{"A": 5000, "B": 5000}, {"A": 5120, "B": 4880}, {"A": 300, "B": 150}])
def test_srm_equals_scipy_chisquare(counts):
    lab = validity.srm_test(counts, {"A": 0.5, "B": 0.5})
    total = sum(counts.values())
    ref = stats.chisquare([counts["A"], counts["B"]], [total / 2, total / 2])
    assert abs(lab.p_value - ref.pvalue) < 1e-9 and abs(lab.chi2 - ref.statistic) < 1e-9
    assert lab.mismatch == (ref.pvalue < 0.001)


def test_srm_uneven_weights_and_flags():
    assert not validity.srm_test({"A": 900, "B": 100}, {"A": 0.9, "B": 0.1}).mismatch
    assert validity.srm_test({"A": 300, "B": 150}, {"A": 0.5, "B": 0.5}).mismatch
    with pytest.raises(ValueError):
        validity.srm_test({}, {"A": 0.5, "B": 0.5})


def test_stickiness_finds_switchers():
    good = validity.stickiness([("u1", "A"), ("u1", "A"), ("u2", "B")])
    assert good.sticky and good.repeat_users == 1
    bad = validity.stickiness([("u1", "A"), ("u1", "B")])
    assert not bad.sticky and bad.switched == ["u1"]
    assert not validity.stickiness([("u1", "A"), ("u2", "B")]).sticky  # nobody seen twice: no evidence


@pytest.mark.parametrize("diff, se, tau", [(0.03, 0.01, 0.04), (-0.01, 0.02, 0.02), (0.0, 0.005, 0.1)])
def test_msprt_is_the_gaussian_mixture_likelihood_ratio(diff, se, tau):
    # Lambda = N(d; 0, se^2 + tau^2) / N(d; 0, se^2): the definition, through scipy
    ref = stats.norm.logpdf(diff, 0, math.sqrt(se**2 + tau**2)) - stats.norm.logpdf(diff, 0, se)
    assert abs(sequential.log_mixture_lr(diff, se, tau) - ref) < 1e-9
    b = sequential.z_boundary(se, tau, 0.05)
    assert abs(sequential.log_mixture_lr(b * se, se, tau) - math.log(20)) < 1e-9  # boundary = 1/alpha


def test_sequential_test_keeps_the_running_minimum_and_crossing():
    test = sequential.SequentialTest(tau=0.04, alpha=0.05)
    first = test.update(400, 0.06, 0.01)
    assert first.crossed and first.always_valid_p < 0.05
    later = test.update(800, 0.0, 0.007)
    assert later.crossed and later.always_valid_p == first.always_valid_p
    preview = sequential.SequentialTest(0.04).preview(40, 0.2, 0.01)
    assert not preview.crossed and preview.always_valid_p == 1.0
    with pytest.raises(ValueError):
        sequential.SequentialTest(tau=0)


def test_design_uses_statsmodels_power_and_plans_for_the_sequential_test():
    design = Design()
    p = plan(design)
    h = proportion_effectsize(design.baseline_rate + design.mde, design.baseline_rate)
    ref = NormalIndPower().solve_power(effect_size=abs(h), alpha=design.alpha, power=design.power, ratio=1.0)
    assert p.n_fixed_per_arm == math.ceil(ref)
    assert p.n_sequential_per_arm > p.n_fixed_per_arm  # the price of looking at any time
    p_b = design.baseline_rate + design.mde
    assert sequential.power_at(p.n_sequential_per_arm, design.baseline_rate, p_b, design.tau,
                               design.alpha) >= design.power
    assert p.seconds == pytest.approx(p.n_max_per_arm / (design.planned_rps / 2))
    with pytest.raises(ValueError):
        Design(baseline_rate=0.99, mde=0.05)


def test_peeking_inflates_false_positives_and_msprt_does_not():
    out = sequential.peeking_simulation(400, 600, 30, p=0.5, tau=0.05, seed=2)
    assert out.naive_rate > 0.10, out  # ~0.2-0.3 with 30 looks
    assert out.sequential_rate <= 0.05, out
