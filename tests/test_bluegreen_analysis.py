"""The post-promotion measurement rows an on-call engineer reads (pure logic)."""

from __future__ import annotations

from milvus_lab.bluegreen.analysis import AnalysisRun
from milvus_lab.bluegreen.gates import AnalysisPolicy, Decision, Measurement, TrafficWindow
from milvus_lab.labkit import load_impl


def test_rows_say_when_latency_could_not_be_judged() -> None:
    policy = AnalysisPolicy()
    blue = TrafficWindow(20, 0, 100.0)
    starved = TrafficWindow(3, 0, 1300.0)  # a busy machine: blue's one-at-a-time probes starve
    run = AnalysisRun(Decision("continue", "ok"), [
        Measurement(TrafficWindow(5, 0, 50.0), blue),
        Measurement(TrafficWindow(100, 0, 1400.0), starved),
        Measurement(TrafficWindow(100, 0, 50.0), starved),
        Measurement(TrafficWindow(100, 0, 1400.0), blue),
    ], decided_at=0.0)
    verdicts = [row["verdict"] for row in run.rows(policy, load_impl("lab03_blue_green", "solutions").measurement_failed)]
    assert verdicts[0] == "inconclusive"
    assert verdicts[1] == "ok (latency not judged: 3 blue probes)"
    assert verdicts[2] == "ok"  # fast green: nothing to judge against
    assert str(verdicts[3]).startswith("failed: p95 1400 ms")
