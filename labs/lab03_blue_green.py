# Exercise generated from solutions/lab03_blue_green.py by `python -m milvus_lab.exercises`.
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
    # TODO: return one Verification per condition listed in the docstring
    raise NotImplementedError('return one Verification per condition listed in the docstring')


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


def rollback_decision(window: TrafficWindow, baseline_p95_ms: float | None,
                      policy: AnalysisPolicy) -> Decision:
    """Decide from live traffic since the switch.

    - "wait" while window.requests < policy.min_requests (not enough evidence yet)
    - "rollback" when the error ratio exceeds policy.max_error_ratio
    - "rollback" when p95 exceeds policy.max_p95_ms, or exceeds
      baseline_p95_ms * policy.p95_regression_factor (when a baseline is known)
    - "continue" otherwise. The reason names the number that decided.
    """
    # TODO: wait for evidence, then roll back on errors or latency, else continue
    raise NotImplementedError('wait for evidence, then roll back on errors or latency, else continue')
