"""The guardrails judged on the final data (the monitor may already have stopped on one)."""

from __future__ import annotations

from milvus_lab.abtest.arms import Arm
from milvus_lab.abtest.decision import Guardrail
from milvus_lab.abtest.design import Guardrails
from milvus_lab.abtest.monitor import Monitor


def evaluate(a: Arm, b: Arm, policy: Guardrails, monitor: Monitor | None = None) -> list[Guardrail]:
    """p95 latency and error rate of B against A, with the policy's tolerances."""
    limit_p95 = a.p95_ms() * policy.max_p95_ratio + policy.p95_slack_ms
    seq_err = monitor is not None and monitor.errors.crossed and b.error_rate > a.error_rate
    limit_err = a.error_rate + policy.max_error_rate_increase
    return [
        Guardrail("p95 latency", b.p95_ms() <= limit_p95, f"B {b.p95_ms():.1f} ms vs A {a.p95_ms():.1f} ms",
                  f"B <= {policy.max_p95_ratio:g} x A + {policy.p95_slack_ms:g} ms = {limit_p95:.1f} ms"),
        Guardrail("error rate", b.error_rate <= limit_err and not seq_err,
                  f"B {b.error_rate:.2%} vs A {a.error_rate:.2%}"
                  + (" (always-valid test: B worse)" if seq_err else ""),
                  f"B <= A + {policy.max_error_rate_increase:.0%} and not significantly worse"),
    ]
