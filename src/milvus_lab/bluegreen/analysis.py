"""Post-promotion analysis: ask the rollback decision on live traffic until it decides or time is up."""

from __future__ import annotations

import time
from types import ModuleType

from milvus_lab.bluegreen.gates import AnalysisPolicy, Decision, TrafficWindow
from milvus_lab.errors import VerificationFailed
from milvus_lab.load.runner import LocustRun


def watch(impl: ModuleType, load: LocustRun, since: float, seconds: float, baseline_p95: float | None,
          policy: AnalysisPolicy | None = None, tick_s: float = 0.5) -> Decision:
    """Judge traffic since `since` every tick with the exercise's `rollback_decision`."""
    policy = policy or AnalysisPolicy()
    deadline = time.time() + seconds
    while True:
        time.sleep(tick_s)
        w = load.result().window(since, time.time() + 1, "since switch")
        decision: Decision = impl.rollback_decision(TrafficWindow(w.requests, w.failures, w.p95_ms),
                                                    baseline_p95, policy)
        if decision.rollback or time.time() >= deadline:
            break
    if decision.action == "wait":
        raise VerificationFailed(f"not enough traffic to judge the release ({decision.reason})",
                                 fix="raise --users or --analysis-seconds")
    return decision
