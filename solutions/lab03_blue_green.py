"""Lab 03 exercise: the three decisions of a blue-green release.

1. `pre_promotion_gate`: is the candidate good enough to take traffic? (before users see it)
2. `promote`: move the alias atomically and prove it moved.
3. `rollback_decision`: does live traffic after the switch say roll back?

The lab calls these functions inside the real release (`--impl labs` runs yours);
`pytest checks` tests them against a real Milvus Lite server.
"""

from __future__ import annotations

from pymilvus import MilvusClient

from milvus_lab.bluegreen.gates import (
    AnalysisPolicy,
    CandidateReport,
    Decision,
    GatePolicy,
    Promotion,
    TrafficWindow,
)
from milvus_lab.verification import Verification


def pre_promotion_gate(candidate: CandidateReport, policy: GatePolicy) -> list[Verification]:
    """One Verification per condition, in this order, named exactly:

    - "row count": rows == expected_rows
    - "loaded": the collection is loaded (a search would fail otherwise)
    - "recall@10": recall_at_10 >= policy.min_recall
    - "p95 latency": p95_ms <= policy.max_p95_ms
    - "filtered queries": at least one filtered smoke query ran and all passed

    `observed` and `required` are short human-readable strings (e.g. "0.953", ">= 0.90");
    `hint` says what to look at when the condition fails.
    """
    # BEGIN SOLUTION: return one Verification per condition listed in the docstring
    smoke = candidate.filtered_smoke
    failed = [expr for expr, ok in smoke.items() if not ok]
    return [
        Verification("row count", candidate.rows == candidate.expected_rows,
                     f"{candidate.rows:,}", f"== {candidate.expected_rows:,}",
                     "an interrupted insert: rebuild the candidate"),
        Verification("loaded", candidate.loaded, str(candidate.loaded), "True",
                     "client.load_collection(name) before searching"),
        Verification("recall@10", candidate.recall_at_10 >= policy.min_recall,
                     f"{candidate.recall_at_10:.3f}", f">= {policy.min_recall:.2f}",
                     "vectors and ids misaligned, or index parameters too coarse"),
        Verification("p95 latency", candidate.p95_ms <= policy.max_p95_ms,
                     f"{candidate.p95_ms:.1f} ms", f"<= {policy.max_p95_ms:.0f} ms",
                     "a heavier index or search parameters; compare with the live version"),
        Verification("filtered queries", bool(smoke) and not failed,
                     f"{len(smoke) - len(failed)}/{len(smoke)} passed", "all pass (>= 1)",
                     "scalar fields missing or mistyped in the candidate: " + ", ".join(failed)),
    ]
    # END SOLUTION


def gate_passed(checks: list[Verification]) -> bool:
    """A gate with no checks never passes: no evidence is not good evidence."""
    # BEGIN SOLUTION: True only when there is at least one check and every check passed
    return bool(checks) and all(check.passed is True for check in checks)
    # END SOLUTION


def promote(client: MilvusClient, alias: str, candidate: str) -> Promotion:
    """Point `alias` at `candidate` in one atomic step and verify it by reading it back.

    Create the alias when it does not exist yet, alter it otherwise (never drop and
    re-create: between the two, searches on the alias would fail). Refuse a candidate
    that does not exist (raise ValueError). Return where it pointed before and after.
    """
    # BEGIN SOLUTION: check the candidate exists, create or alter the alias, read it back
    if not client.has_collection(candidate):
        raise ValueError(f"candidate collection {candidate!r} does not exist")
    aliases = client.list_aliases().get("aliases", [])
    previous = client.describe_alias(alias)["collection_name"] if alias in aliases else None
    if previous is None:
        client.create_alias(candidate, alias)
    elif previous != candidate:
        client.alter_alias(candidate, alias)
    current = client.describe_alias(alias)["collection_name"]
    if current != candidate:
        raise RuntimeError(f"alias {alias!r} points at {current!r} after promotion, not {candidate!r}")
    return Promotion(alias=alias, previous=previous, current=current)
    # END SOLUTION


def rollback_decision(window: TrafficWindow, baseline_p95_ms: float | None,
                      policy: AnalysisPolicy) -> Decision:
    """Decide from live traffic since the switch.

    - "wait" while window.requests < policy.min_requests (not enough evidence yet)
    - "rollback" when the error ratio exceeds policy.max_error_ratio
    - "rollback" when p95 exceeds policy.max_p95_ms, or exceeds
      baseline_p95_ms * policy.p95_regression_factor (when a baseline is known)
    - "continue" otherwise. The reason names the number that decided.
    """
    # BEGIN SOLUTION: wait for evidence, then roll back on errors or latency, else continue
    if window.requests < policy.min_requests:
        return Decision("wait", f"{window.requests} requests < {policy.min_requests} needed")
    if window.error_ratio > policy.max_error_ratio:
        return Decision("rollback", f"error ratio {window.error_ratio:.1%} > {policy.max_error_ratio:.1%} "
                                    f"({window.failures}/{window.requests})")
    if window.p95_ms is not None:
        if window.p95_ms > policy.max_p95_ms:
            return Decision("rollback", f"p95 {window.p95_ms:.0f} ms > SLO {policy.max_p95_ms:.0f} ms")
        if baseline_p95_ms and window.p95_ms > baseline_p95_ms * policy.p95_regression_factor:
            return Decision("rollback", f"p95 {window.p95_ms:.0f} ms > {policy.p95_regression_factor:g}x "
                                        f"baseline {baseline_p95_ms:.0f} ms")
    return Decision("continue", f"error ratio {window.error_ratio:.1%}, p95 "
                                f"{window.p95_ms or 0:.0f} ms over {window.requests} requests")
    # END SOLUTION
