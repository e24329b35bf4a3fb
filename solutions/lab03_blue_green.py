"""Lab 03 exercise: the three decisions of a blue-green release.

1. `pre_promotion_gate`: is the candidate good enough to take traffic? (before users see it)
2. `promote`: move the alias atomically and prove it moved.
3. `measurement_failed` + `rollback_decision`: does live traffic after the switch say roll
   back? (judged per measurement against blue measured at the same time; only consecutive
   failed measurements abort, like Argo Rollouts' failureLimit)

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
    Measurement,
    Promotion,
)
from milvus_lab.verification import Verification


def pre_promotion_gate(candidate: CandidateReport, policy: GatePolicy) -> list[Verification]:
    """One Verification per condition, in this order, named exactly:

    - "row count": rows == expected_rows
    - "loaded": the collection is loaded (a search would fail otherwise)
    - "recall@10": recall_at_10 >= policy.min_recall
    - "p95 latency": p95_ms <= policy.max_p95_ms, or (when reference_p95_ms, the live
      collection probed at the same moment, is known) p95_ms <= reference_p95_ms *
      policy.p95_vs_reference: a busy machine slows both, so that alone is no failure
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
        Verification("p95 latency", p95_ok(candidate, policy),
                     f"{candidate.p95_ms:.1f} ms" + (f" (live {candidate.reference_p95_ms:.1f} ms)"
                                                     if candidate.reference_p95_ms else ""),
                     f"<= {policy.max_p95_ms:.0f} ms or <= {policy.p95_vs_reference:g}x live",
                     "a heavier index or search parameters; compare with the live version"),
        Verification("filtered queries", bool(smoke) and not failed,
                     f"{len(smoke) - len(failed)}/{len(smoke)} passed", "all pass (>= 1)",
                     "scalar fields missing or mistyped in the candidate: " + ", ".join(failed)),
    ]
    # END SOLUTION


def p95_ok(candidate: CandidateReport, policy: GatePolicy) -> bool:
    """Within the SLO, or no slower than the live collection allows right now."""
    if candidate.p95_ms <= policy.max_p95_ms:
        return True
    ref = candidate.reference_p95_ms
    return bool(ref) and candidate.p95_ms <= ref * policy.p95_vs_reference


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


def measurement_failed(m: Measurement, policy: AnalysisPolicy) -> str | None:
    """Why one measurement failed, or None when it did not (or had too little evidence).

    - None when m.green.requests < policy.min_requests (inconclusive, not a failure)
    - errors: green's error ratio > policy.max_error_ratio
    - latency: green's p95 > policy.max_p95_ms AND green's p95 > blue's reference p95 *
      policy.p95_regression_factor. Blue slow at the same moment means the machine is slow.
      Without a usable reference (fewer than policy.min_reference probes, or no p95) latency
      is not judged (Kayenta's "no data"): blue's probes run one at a time, so they starve
      only when every search is slow, which is the machine, not the release.
    The reason names the numbers that decided.
    """
    # BEGIN SOLUTION: inconclusive -> None; errors; latency over the SLO and worse than blue
    green, ref = m.green, m.reference
    if green.requests < policy.min_requests:
        return None
    if green.error_ratio > policy.max_error_ratio:
        return (f"error ratio {green.error_ratio:.1%} > {policy.max_error_ratio:.1%} "
                f"({green.failures}/{green.requests})")
    if green.p95_ms is None or green.p95_ms <= policy.max_p95_ms:
        return None
    if ref.requests < policy.min_reference or ref.p95_ms is None:
        return None
    if green.p95_ms > ref.p95_ms * policy.p95_regression_factor:
        return (f"p95 {green.p95_ms:.0f} ms > SLO {policy.max_p95_ms:.0f} ms and > "
                f"{policy.p95_regression_factor:g}x blue's {ref.p95_ms:.0f} ms at the same time")
    return None
    # END SOLUTION


def rollback_decision(history: list[Measurement], policy: AnalysisPolicy) -> Decision:
    """Decide from the measurements since the switch (oldest first).

    Only conclusive measurements count (green.requests >= policy.min_requests).
    - "wait" while there is no conclusive measurement yet
    - "rollback" when the last policy.consecutive_failures conclusive measurements all failed
      (use measurement_failed); the reason says how many failed and why the last one did
    - "continue" otherwise (one unlucky interval is not a verdict)
    """
    # BEGIN SOLUTION: keep conclusive ones, roll back on N consecutive failures, else continue
    conclusive = [m for m in history if m.green.requests >= policy.min_requests]
    if not conclusive:
        return Decision("wait", f"no measurement with >= {policy.min_requests} requests yet")
    n = policy.consecutive_failures
    last = [measurement_failed(m, policy) for m in conclusive[-n:]]
    if len(last) == n and all(last):
        return Decision("rollback", f"{n} consecutive failed measurements; last: {last[-1]}")
    g = conclusive[-1].green
    return Decision("continue", f"{len(conclusive)} measurement(s), last: error ratio {g.error_ratio:.1%}, "
                                f"p95 {g.p95_ms or 0:.0f} ms over {g.requests} requests")
    # END SOLUTION
