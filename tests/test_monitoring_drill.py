"""The pure pieces lab 06's narrative calls: threshold comparison against Sloth's generated
rules, inhibition leaks in the webhook log, incident lookup, alarm scoring, polling."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from milvus_lab.labkit import load_impl
from milvus_lab.monitoring import anomaly, incidents, slo
from milvus_lab.monitoring.drill import IncidentTiming, tickets_during_pages
from milvus_lab.monitoring.promapi import poll

REPO = Path(__file__).resolve().parents[1]


def _conditions() -> list[slo.RuleCondition]:
    return slo.rule_conditions(yaml.safe_load((REPO / slo.RULES).read_text()))


def test_reference_thresholds_equal_every_generated_comparison() -> None:
    impl = load_impl("lab06_monitoring", "solutions", REPO)
    conditions = _conditions()
    assert len(conditions) == 16  # 2 SLOs x (2 page + 2 ticket conditions) x (long + short window)
    assert slo.threshold_mismatches(conditions, impl.WINDOWS, impl.burn_rate, impl.error_ratio_threshold) == []


def test_a_wrong_burn_rate_is_named_per_condition() -> None:
    impl = load_impl("lab06_monitoring", "solutions", REPO)
    wrong = slo.threshold_mismatches(_conditions(), impl.WINDOWS, lambda spent, window: 1.0,
                                     impl.error_ratio_threshold)
    assert len(wrong) == 12  # burn rate 1 is right only for the 3d/6h ticket (its 4 comparisons)
    assert any(w.startswith("SearchApiHighErrorRate/page/3600s: 0.00100 vs 0.01440") for w in wrong), wrong


def _notification(path: Path, at: float, severity: str, status: str = "firing") -> None:
    body = {"alerts": [{"status": status, "labels": {"alertname": "SearchApiHighErrorRate", "severity": severity}}]}
    with path.open("a") as f:
        f.write(json.dumps({"received_at": at, "path": f"/{severity}", "body": body}) + "\n")


def test_a_ticket_while_its_page_fires_is_a_leak_and_one_after_is_not(tmp_path: Path) -> None:
    log = tmp_path / "notifications.jsonl"
    timing = IncidentTiming("error burst", "SearchApiHighErrorRate", injected_at=100.0, notified_at=105.0,
                            resolved_at=160.0)
    _notification(log, 105.0, "page")
    _notification(log, 170.0, "ticket")  # after the page resolved: allowed
    assert tickets_during_pages(log, [timing]) == []
    _notification(log, 130.0, "ticket")  # while the page fires: the inhibit rule failed
    assert tickets_during_pages(log, [timing]) == ["SearchApiHighErrorRate at 130"]


def test_incident_names_map_to_their_alert_and_unknown_is_an_error() -> None:
    assert incidents.NAMES == ("errors", "latency", "milvus")
    with pytest.raises(ValueError, match="choose from errors, latency, milvus"):
        incidents.by_name("disk", None, "blue", "c", 8)  # type: ignore[arg-type]


def test_alarms_of_several_detectors_merge_before_scoring() -> None:
    series = anomaly.synthetic_series(duration_s=600, step_s=1, period_s=None, amplitude=0, noise=1.0,
                                      incidents=[(300, 30, 30.0)], seed=3)
    up = anomaly.detect(series, name="a", direction="up", trend_s=60, step_s=1)
    same = anomaly.detect(series, name="b", direction="up", trend_s=60, step_s=1)
    ev = anomaly.score_against([up, same], [(300.0, 330.0)])
    assert ev.recall == 1.0 and ev.false_positives == 0 and ev.true_positives == 1


def test_poll_returns_when_ready_and_gives_up_at_the_deadline() -> None:
    calls = iter([False, False, True])
    assert poll(lambda: next(calls), timeout_s=10, poll_s=0.01)
    started = time.monotonic()
    assert not poll(lambda: False, timeout_s=0.2, poll_s=0.05)
    assert time.monotonic() - started >= 0.2


class _ScriptedAlerts:
    """Prometheus's answer to "is it firing?", scripted in time (pure logic of the wait)."""

    def __init__(self) -> None:
        self.state = False

    def firing(self, alert: str, **labels: str) -> bool:
        return self.state


def test_a_resolved_notice_that_came_during_a_slow_fix_is_found_at_once(tmp_path: Path) -> None:
    """Lab 06's "Milvus lost" fix once took ~70 s; the alert resolved (and was notified) while
    it ran, and the drill then waited its whole timeout for a notice dated after the fix."""
    from milvus_lab.monitoring.drill import Incident, run_incident

    log, api = tmp_path / "notifications.jsonl", _ScriptedAlerts()

    def inject() -> None:
        api.state = True
        _notification(log, time.time(), "page")

    def slow_fix() -> None:
        api.state = False  # resolves while the fix is still running
        _notification(log, time.time(), "page", status="resolved")
        time.sleep(0.3)

    incident = Incident("Milvus lost", "", "SearchApiHighErrorRate", {"severity": "page"}, inject, slow_fix, "")
    started = time.monotonic()
    timing = run_incident(incident, api, log, timeout_s=20, poll_s=0.05)  # type: ignore[arg-type]
    assert time.monotonic() - started < 10, "waited for a resolved notice that had already come"
    assert timing.resolved_notified_at is not None and timing.resolved_notified_at < timing.fixed_at
    assert any("resolved before the fix finished" in n for n in timing.notes), timing.notes


def test_the_fixs_own_note_reaches_the_incident(tmp_path: Path) -> None:
    """A slow restore says where its time went (Milvus start, load, searches) in the report."""
    from milvus_lab.monitoring.drill import Incident, run_incident

    log, api = tmp_path / "notifications.jsonl", _ScriptedAlerts()

    def inject() -> None:
        api.state = True

    def fix() -> str:
        api.state = False
        return "slow restore: 67s in 3 rounds (Milvus start 60.0s, load 1.0s, searches 4.0s)"

    incident = Incident("Milvus lost", "", "SearchApiHighErrorRate", {"severity": "page"}, inject, fix, "")
    timing = run_incident(incident, api, log, timeout_s=5, poll_s=0.05)  # type: ignore[arg-type]
    assert "slow restore: 67s in 3 rounds (Milvus start 60.0s, load 1.0s, searches 4.0s)" in timing.notes
