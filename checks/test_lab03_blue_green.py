"""Lab 03 checks: the pre-promotion gate, promote, and the rollback decision.

Run `pytest checks -k lab03` (your code) or `pytest checks -k lab03 --impl solutions`.
"""

from __future__ import annotations

from dataclasses import replace
from types import ModuleType

import pytest
from conftest import attempt

from milvus_lab.bluegreen import faults, probes
from milvus_lab.bluegreen.gates import (
    AnalysisPolicy,
    CandidateReport,
    GatePolicy,
    Measurement,
    TrafficWindow,
)
from milvus_lab.milvus.collections import IndexSpec
from milvus_lab.testing.milvus_fixtures import build_collection, unique_name
from milvus_lab.verification import Verification

GATE_NAMES = ["row count", "loaded", "recall@10", "p95 latency", "filtered queries"]


@pytest.fixture(scope="module")
def lab03(impl_loader) -> ModuleType:
    return impl_loader("lab03_blue_green")


@pytest.fixture(scope="module")
def good_report(milvus_client, small_dataset) -> CandidateReport:
    """A real candidate measured on a real Milvus Lite collection (HNSW, correct data)."""
    name = build_collection(milvus_client, small_dataset, IndexSpec.hnsw())
    try:
        return probes.measure_candidate(milvus_client, name, small_dataset, IndexSpec.hnsw())
    finally:
        milvus_client.drop_collection(name)


@pytest.fixture(scope="module")
def misaligned_report(milvus_client, small_dataset) -> CandidateReport:
    """The embedding-pipeline bug: same rows, vectors one row off their ids."""
    name = build_collection(milvus_client, faults.misaligned(small_dataset), IndexSpec.hnsw())
    try:
        return probes.measure_candidate(milvus_client, name, small_dataset, IndexSpec.hnsw())
    finally:
        milvus_client.drop_collection(name)


def failed_names(checks: list[Verification]) -> list[str]:
    return [c.name for c in checks if not c.passed]


# ---- 1. the pre-promotion gate ----------------------------------------------------
def test_gate_passes_a_good_candidate(lab03, good_report):
    checks = attempt(lab03.pre_promotion_gate, good_report, GatePolicy())
    assert [c.name for c in checks] == GATE_NAMES, (
        f"the gate must return one Verification per condition, named and ordered {GATE_NAMES}; "
        f"got {[getattr(c, 'name', c) for c in checks]}")
    assert not failed_names(checks), (
        f"a correct candidate (recall {good_report.recall_at_10:.3f}, {good_report.rows} rows) "
        f"failed {failed_names(checks)}. Hint: compare with >= / <=, not > / <.")
    assert attempt(lab03.gate_passed, checks) is True


def test_gate_catches_bad_recall(lab03, misaligned_report):
    checks = attempt(lab03.pre_promotion_gate, misaligned_report, GatePolicy())
    assert failed_names(checks) == ["recall@10"], (
        f"misaligned vectors (recall {misaligned_report.recall_at_10:.3f}) must fail exactly "
        f"'recall@10'; failed: {failed_names(checks)}. Hint: row count and filters look fine; "
        "only recall against ground truth shows the bug.")
    assert attempt(lab03.gate_passed, checks) is False


@pytest.mark.parametrize("change, expected", [
    ({"rows": 2_999}, "row count"),
    ({"loaded": False}, "loaded"),
    ({"p95_ms": 5_000.0}, "p95 latency"),
    ({"filtered_smoke": {'category == "books"': False}}, "filtered queries"),
    ({"filtered_smoke": {}}, "filtered queries"),
])
def test_gate_fails_each_condition(lab03, good_report, change, expected):
    checks = attempt(lab03.pre_promotion_gate, replace(good_report, **change), GatePolicy())
    assert failed_names(checks) == [expected], (
        f"with {change} only '{expected}' should fail; failed: {failed_names(checks)}. "
        "Hint: an empty filtered_smoke is no evidence, so it fails.")


def test_gate_passed_needs_evidence(lab03):
    ok = Verification("x", True, "1", "1")
    bad = Verification("y", False, "0", "1")
    assert attempt(lab03.gate_passed, []) is False, "no checks is no evidence: gate_passed([]) must be False"
    assert attempt(lab03.gate_passed, [ok, ok]) is True
    assert attempt(lab03.gate_passed, [ok, bad]) is False


# ---- 2. promote -------------------------------------------------------------------
def test_promote_creates_then_moves_alias(lab03, milvus_client, small_collection, small_collection_v2,
                                          small_dataset):
    alias = unique_name("alias")
    try:
        first = attempt(lab03.promote, milvus_client, alias, small_collection)
        assert (first.previous, first.current) == (None, small_collection), (
            f"a new alias: previous None, current {small_collection}; got {first}. "
            "Hint: create_alias when the alias does not exist yet.")
        second = attempt(lab03.promote, milvus_client, alias, small_collection_v2)
        assert (second.previous, second.current) == (small_collection, small_collection_v2), (
            f"moving the alias must report where it pointed before; got {second}")
        assert milvus_client.describe_alias(alias)["collection_name"] == small_collection_v2, (
            "Milvus says the alias did not move. Hint: alter_alias(candidate, alias).")
        hits = milvus_client.search(alias, data=[small_dataset.queries[0].tolist()], limit=3,
                                    output_fields=["release"])[0]
        assert hits and all(h["entity"]["release"] == "v2" for h in hits), (
            "searches through the alias must now answer from the candidate's (v2) data")
        again = attempt(lab03.promote, milvus_client, alias, small_collection_v2)
        assert again.current == small_collection_v2, "promoting twice must be harmless (idempotent)"
    finally:
        if alias in milvus_client.list_aliases().get("aliases", []):
            milvus_client.drop_alias(alias)


def test_promote_refuses_missing_candidate(lab03, milvus_client, small_collection):
    alias = unique_name("alias")
    milvus_client.create_alias(small_collection, alias)
    try:
        with pytest.raises(ValueError):
            attempt(lab03.promote, milvus_client, alias, "no_such_collection_here")
        assert milvus_client.describe_alias(alias)["collection_name"] == small_collection, (
            "a refused promotion must leave the alias where it was")
    finally:
        milvus_client.drop_alias(alias)


# ---- 3. the rollback decision -----------------------------------------------------
POLICY = AnalysisPolicy(min_requests=40, min_reference=8, max_error_ratio=0.01, max_p95_ms=500,
                        p95_regression_factor=2, consecutive_failures=2)
BLUE = TrafficWindow(20, 0, 100.0)      # blue probed at the same time: p95 100 ms
BLUE_SLOW = TrafficWindow(20, 0, 900.0)  # the whole machine is slow right now
NO_REF = TrafficWindow(3, 0, 80.0)       # too few probes to compare against


@pytest.mark.parametrize("green, reference, failed", [
    (TrafficWindow(10, 5, 50.0), BLUE, False),     # too little evidence, even with errors
    (TrafficWindow(100, 5, 50.0), BLUE, True),     # 5% errors
    (TrafficWindow(100, 1, 50.0), BLUE, False),    # 1% is not more than 1%
    (TrafficWindow(100, 0, 400.0), BLUE, False),   # 4x blue but within the SLO
    (TrafficWindow(100, 0, 800.0), BLUE, True),    # over the SLO and 8x blue
    (TrafficWindow(100, 0, 1500.0), BLUE_SLOW, False),  # over the SLO, but blue is just as slow
    (TrafficWindow(100, 0, 2000.0), BLUE_SLOW, True),   # over the SLO and > 2x a slow blue
    (TrafficWindow(100, 0, 1200.0), NO_REF, False),  # no reference: latency is not judged
    (TrafficWindow(100, 3, 1200.0), NO_REF, True),   # ... but errors still are (3%)
    (TrafficWindow(100, 0, 1200.0), TrafficWindow(20, 20, None), False),  # every probe failed: no p95
    (TrafficWindow(100, 0, None), BLUE, False),    # no latency yet is not a failure
])
def test_measurement_failed(lab03, green, reference, failed):
    reason = attempt(lab03.measurement_failed, Measurement(green, reference), POLICY)
    assert bool(reason) == failed, (
        f"green {green} vs blue {reference}: expected {'a failure' if failed else 'no failure'}, "
        f"got {reason!r}. Hint: inconclusive below min_requests; then errors; latency fails only "
        "over the SLO AND worse than blue (x factor); without a usable reference it is not judged.")


OK = Measurement(TrafficWindow(100, 0, 50.0), BLUE)
BAD = Measurement(TrafficWindow(100, 5, 50.0), BLUE)
THIN = Measurement(TrafficWindow(5, 5, 50.0), BLUE)  # inconclusive: too few requests


@pytest.mark.parametrize("history, action", [
    ([], "wait"),
    ([THIN, THIN], "wait"),            # no conclusive measurement yet
    ([BAD], "continue"),               # one failed measurement is not a verdict
    ([BAD, OK, BAD], "continue"),      # not consecutive
    ([OK, BAD, BAD], "rollback"),
    ([BAD, THIN, BAD], "rollback"),    # an inconclusive one neither breaks nor extends a streak
    ([OK, OK, OK], "continue"),
])
def test_rollback_decision(lab03, history, action):
    decision = attempt(lab03.rollback_decision, history, POLICY)
    names = ["OK" if m is OK else "BAD" if m is BAD else "THIN" for m in history]
    assert decision.action == action, (
        f"measurements {names}: expected '{action}', got '{decision.action}' ({decision.reason}). "
        "Hint: count only conclusive measurements; roll back when the last "
        "policy.consecutive_failures of them all failed.")
    assert decision.reason, "say why: the reason is what an on-call engineer reads"


@pytest.mark.parametrize("p95, reference, passed", [
    (900.0, None, True), (1200.0, None, False), (1900.0, 1000.0, True), (2500.0, 1000.0, False),
])
def test_gate_latency_is_judged_against_the_live_collection(lab03, good_report, p95, reference, passed):
    report = replace(good_report, p95_ms=p95, reference_p95_ms=reference)
    checks = attempt(lab03.pre_promotion_gate, report, GatePolicy())
    assert ("p95 latency" not in failed_names(checks)) == passed, (
        f"candidate p95 {p95} ms with the live collection at {reference} ms: expected "
        f"{'pass' if passed else 'fail'}. Hint: within the SLO passes; over it passes only when "
        "the live collection, probed at the same moment, is nearly as slow (x p95_vs_reference).")
