# Exercise generated from solutions/lab03_blue_green.py by `python -m milvus_lab.exercises`.
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
    # TODO: return one Verification per condition listed in the docstring
    raise NotImplementedError('return one Verification per condition listed in the docstring')


def p95_ok(candidate: CandidateReport, policy: GatePolicy) -> bool:
    """Within the SLO, or no slower than the live collection allows right now."""
    if candidate.p95_ms <= policy.max_p95_ms:
        return True
    ref = candidate.reference_p95_ms
    return bool(ref) and candidate.p95_ms <= ref * policy.p95_vs_reference


def gate_passed(checks: list[Verification]) -> bool:
    """A gate with no checks never passes: no evidence is not good evidence."""
    # TODO: True only when there is at least one check and every check passed
    raise NotImplementedError('True only when there is at least one check and every check passed')


def promote(client: MilvusClient, alias: str, candidate: str) -> Promotion:
    """Point `alias` at `candidate` in one atomic step and verify it by reading it back.

    Create the alias when it does not exist yet, alter it otherwise (never drop and
    re-create: between the two, searches on the alias would fail). Refuse a candidate
    that does not exist (raise ValueError). Return where it pointed before and after.
    """
    # TODO: check the candidate exists, create or alter the alias, read it back
    raise NotImplementedError('check the candidate exists, create or alter the alias, read it back')


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
    # TODO: inconclusive -> None; errors; latency over the SLO and worse than blue
    raise NotImplementedError('inconclusive -> None; errors; latency over the SLO and worse than blue')


def rollback_decision(history: list[Measurement], policy: AnalysisPolicy) -> Decision:
    """Decide from the measurements since the switch (oldest first).

    Only conclusive measurements count (green.requests >= policy.min_requests).
    - "wait" while there is no conclusive measurement yet
    - "rollback" when the last policy.consecutive_failures conclusive measurements all failed
      (use measurement_failed); the reason says how many failed and why the last one did
    - "continue" otherwise (one unlucky interval is not a verdict)
    """
    # TODO: keep conclusive ones, roll back on N consecutive failures, else continue
    raise NotImplementedError('keep conclusive ones, roll back on N consecutive failures, else continue')
