"""Lab 04 checks: the assignment check, the SRM test and the decision rule.

Run `pytest checks -k lab04` (your code) or `pytest checks -k lab04 --impl solutions`.
The assignment check reads pairs from a real search API (uvicorn replicas evaluating the
GrowthBook experiment against a real Milvus Lite); the SRM check is compared with scipy.
"""

from __future__ import annotations

from types import ModuleType

import httpx
import pytest
from conftest import attempt
from scipy import stats

from milvus_lab.abtest.assignment import Experiment, Faults
from milvus_lab.abtest.decision import INCONCLUSIVE, INVALID, KEEP_A, SHIP_B, Evidence, Guardrail
from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.verification import Verification

WEIGHTS = {"A": 0.5, "B": 0.5}


@pytest.fixture(scope="module")
def lab04(impl_loader) -> ModuleType:
    return impl_loader("lab04_ab_testing")


@pytest.fixture(scope="module")
def experiment() -> Experiment:
    exp = Experiment.from_file()  # the test collection is HNSW: the arms differ in ef
    return exp.with_changes("A", search_params={"ef": 16}).with_changes("B", search_params={"ef": 64})


def live_pairs(settings, server, collection, ds, exp: Experiment, users: int = 12) -> list[tuple[str, str]]:
    """(user, X-Variant) from real searches: each user three times, alternating two replicas."""
    cfg = ApiConfig(slot="ab", version="v1", milvus_uri=server.uri, collection=collection,
                    dim=ds.spec.dim, experiment=exp.to_json())
    running = replicas.start_replicas(settings, cfg, 2)
    pairs = []
    try:
        with httpx.Client(timeout=30) as client:  # a busy machine is slow, not wrong
            for i in range(users * 3):
                user = f"check-user-{i % users}"
                resp = client.post(f"{running[i % 2].url}/search", headers={"X-User-Id": user},
                                   json={"vector": ds.queries[i % len(ds.queries)].tolist(), "k": 5})
                assert resp.status_code == 200, resp.text
                pairs.append((user, resp.headers["x-variant"]))
    finally:
        replicas.stop_replicas(settings)
    return pairs


def by_name(items: list[Verification]) -> dict[str, Verification]:
    assert all(isinstance(v, Verification) for v in items), (
        f"return Verification objects (milvus_lab.verification); got {items}")
    return {v.name: v for v in items}


# ---- 1. the assignment check -------------------------------------------------------
def test_assignment_check_passes_on_the_real_api(lab04, experiment, lab_settings, milvus_server,
                                                  small_collection, small_dataset):
    pairs = live_pairs(lab_settings, milvus_server, small_collection, small_dataset, experiment)
    checks = by_name(attempt(lab04.check_assignment, pairs, experiment))
    assert list(checks) == ["sticky assignment", "assignment matches the SDK"], (
        f"return two verifications named 'sticky assignment' and 'assignment matches the SDK', in "
        f"that order; got {list(checks)}")
    assert checks["sticky assignment"].passed, (
        f"the real API assigns stickily, but the check said: {checks['sticky assignment'].observed}")
    assert checks["assignment matches the SDK"].passed, checks["assignment matches the SDK"].observed


def test_assignment_check_catches_switchers_and_foreign_hashing(lab04, experiment):
    users = [f"u-{i}" for i in range(20)]
    right = [(u, experiment.assign(u).variant) for u in users for _ in range(2)]
    switched = [*right, (users[0], "B" if right[0][1] == "A" else "A")]
    checks = by_name(attempt(lab04.check_assignment, switched, experiment))
    assert checks["sticky assignment"].passed is False, (
        f"{users[0]} saw both variants: 'sticky assignment' must fail. Hint: group variants by user.")
    other = Experiment.from_json(experiment.to_json().replace(experiment.seed, "another-seed"))
    checks = by_name(attempt(lab04.check_assignment, right, other))
    assert checks["sticky assignment"].passed is True
    assert checks["assignment matches the SDK"].passed is False, (
        "the pairs come from another seed: 'assignment matches the SDK' must fail. Hint: compare "
        "each user's variant with sdk_bucket_variant(experiment, user).")
    once = by_name(attempt(lab04.check_assignment, [(u, experiment.assign(u).variant) for u in users],
                           experiment))
    assert once["sticky assignment"].passed is False, (
        "no user was seen twice: that is no evidence of stickiness, so the check must not pass")


# ---- 2. the SRM test ---------------------------------------------------------------
@pytest.mark.parametrize("counts, mismatch", [
    ({"A": 5000, "B": 5000}, False), ({"A": 5080, "B": 4920}, False),
    ({"A": 5300, "B": 4700}, True), ({"A": 200, "B": 100}, True),
])
def test_srm_check_matches_scipy(lab04, counts, mismatch):
    v = attempt(lab04.srm_check, counts, WEIGHTS)
    assert isinstance(v, Verification) and v.name == "sample ratio (SRM)", (
        f"return Verification('sample ratio (SRM)', ...); got {v}")
    p = stats.chisquare([counts["A"], counts["B"]]).pvalue
    assert v.passed is (not mismatch), (
        f"counts {counts}: scipy's chi-square p = {p:.3g}, so passed should be {not mismatch} "
        f"(threshold 0.001); got {v.passed}. Hint: expected = total * weight.")
    assert f"{p:.3g}" in v.observed, f"observed should show the p-value {p:.3g}; got {v.observed!r}"


def test_srm_check_uses_the_weights(lab04):
    assert attempt(lab04.srm_check, {"A": 900, "B": 100}, {"A": 0.9, "B": 0.1}).passed is True, (
        "a 90/10 experiment with 900/100 users has no mismatch. Hint: expected counts come from the weights.")
    assert attempt(lab04.srm_check, {"A": 500, "B": 500}, {"A": 0.9, "B": 0.1}).passed is False


def test_srm_drill_data_from_the_api_is_a_mismatch(lab04, experiment):
    lossy = experiment.with_changes("B", faults=Faults(lose_exposure=0.5))
    counts = {"A": 0, "B": 0}
    for i in range(1000):
        variant = lossy.assign(f"user-{i}").variant
        if variant in counts:
            counts[variant] += 1
    assert attempt(lab04.srm_check, counts, WEIGHTS).passed is False, (
        f"half of B's users lost: {counts} must be flagged as SRM")


# ---- 3. the decision rule ----------------------------------------------------------
OK_G = [Guardrail("p95 latency", True, "", ""), Guardrail("error rate", True, "", "")]
BAD_G = [Guardrail("p95 latency", True, "", ""), Guardrail("error rate", False, "B 9%", "")]


@pytest.mark.parametrize("evidence, action, why", [
    (Evidence(0.5, 0.001, True, OK_G, True, 0.05), SHIP_B, "valid, guardrails fine, B significantly better"),
    (Evidence(0.5, 0.001, True, OK_G, True, -0.05), KEEP_A, "B significantly worse"),
    (Evidence(0.5, 0.001, True, OK_G, False, 0.01), INCONCLUSIVE, "not significant"),
    (Evidence(0.5, 0.001, True, BAD_G, True, 0.05), KEEP_A, "a failed guardrail vetoes the win"),
    (Evidence(1e-6, 0.001, True, OK_G, True, 0.05), INVALID, "SRM: invalid whatever the p-values say"),
    (Evidence(1e-6, 0.001, True, BAD_G, True, 0.05), INVALID, "SRM comes before guardrails"),
    (Evidence(0.5, 0.001, False, OK_G, True, 0.05), INVALID, "not sticky: the arms are mixed"),
])
def test_decision_rule(lab04, evidence, action, why):
    decision = attempt(lab04.decide, evidence)
    assert decision.action == action, f"{why}: expected {action!r}, got {decision.action!r} ({decision.reason})"
    assert decision.reason, "say why (the reason names what decided)"
    if action == KEEP_A and not all(g.passed for g in evidence.guardrails):
        assert "error rate" in decision.reason, "name the failed guardrail in the reason"
