"""The guardrails judged on the final data (the monitor may already have stopped on one)."""

from __future__ import annotations

from milvus_lab.abtest.arms import Arm
from milvus_lab.abtest.decision import Guardrail
from milvus_lab.abtest.design import Guardrails
from milvus_lab.abtest.monitor import Monitor


def evaluate(a: Arm, b: Arm, policy: Guardrails, monitor: Monitor | None = None) -> list[Guardrail]:
    """p95 latency and error rate of B against A, with the policy's tolerances."""
    limit_p95 = a.p95_ms() * policy.max_p95_ratio + policy.p95_slack_ms
    # errors are rare events: judged by the always-valid test (B significantly worse) and
    # by size (more than half the tolerated increase), never by a raw difference of a few
    seq_err = monitor is not None and monitor.errors.crossed
    worse = b.error_rate - a.error_rate > policy.max_error_rate_increase / 2
    # a p95 from a few hundred requests on a busy machine jumps with every hiccup: it vetoes
    # only when the always-valid test on mean latency also says B is slower (the live monitor)
    slower = monitor is None or (monitor.latency.crossed and _mean(b.latencies_ms) > _mean(a.latencies_ms))
    over = b.p95_ms() > limit_p95
    return [
        Guardrail("p95 latency", not (over and slower),
                  f"B {b.p95_ms():.1f} ms vs A {a.p95_ms():.1f} ms"
                  + (" (over, but not significantly slower)" if over and not slower else ""),
                  f"B <= {policy.max_p95_ratio:g} x A + {policy.p95_slack_ms:g} ms = {limit_p95:.1f} ms"),
        Guardrail("error rate", not (seq_err and worse),
                  f"B {b.error_rate:.2%} vs A {a.error_rate:.2%}"
                  + (" (always-valid test: significant)" if seq_err else ""),
                  f"not significantly worse by > {policy.max_error_rate_increase / 2:.1%}"),
    ]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
