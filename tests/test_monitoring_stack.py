"""The lab's monitoring plumbing with real parts: Prometheus evaluates a rule, Alertmanager
routes the alert, the webhook receiver records the notification; resolution follows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from milvus_lab import processes
from milvus_lab.monitoring import alertmanager, drill, prometheus, tools, webhook
from milvus_lab.monitoring.promapi import PromApi

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def binaries() -> None:
    for tool in ("prometheus", "alertmanager"):
        if tools.find(tool) is None:
            pytest.skip(f"{tool} is not installed: {tools.fix_for(tool)}")


def test_alert_fires_routes_to_page_receiver_and_resolves(binaries, lab_settings, tmp_path):
    settings = lab_settings
    prom_port, am_port, hook_port = processes.free_ports(3)
    rules = tmp_path / "rules"
    rules.mkdir()
    # DrillAlert fires while the search-api job has no healthy target
    (rules / "drill.yml").write_text(yaml.safe_dump({"groups": [{"name": "t", "rules": [{
        "alert": "DrillAlert", "expr": 'sum(up{job="search-api"}) == 0 or absent(up{job="search-api"})',
        "labels": {"severity": "page", "sloth_service": "t", "sloth_slo": "t"},
        "annotations": {"runbook_url": "docs/runbooks/search-api-availability.md"}}]}]}))
    # one target that answers: Prometheus's own /metrics, through the replicas' file_sd file
    # (it names host.docker.internal; the lab's relabel rule must turn that into 127.0.0.1)
    target = settings.state_dir / "prometheus" / "search-api-blue.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    body = f'[{{"targets": ["host.docker.internal:{prom_port}"], "labels": {{"slot": "blue"}}}}]'
    target.write_text(body)
    notifications = webhook.start(settings, hook_port)
    alertmanager.start(settings, am_port, hook_port, factor=60, config_file=REPO / alertmanager.CONFIG)
    url = prometheus.start(settings, prometheus.PrometheusOptions(
        port=prom_port, rules_dir=rules, alertmanager_port=am_port))
    api = PromApi(url)
    deadline = time.monotonic() + 60
    while api.targets_up("search-api") < 1:
        assert time.monotonic() < deadline, "the file_sd target never came up (relabel to 127.0.0.1?)"
        time.sleep(0.5)
    while api.firing("DrillAlert"):  # up to the first evaluation after the scrape
        assert time.monotonic() < deadline, "DrillAlert fires although the target is up"
        time.sleep(0.5)

    def inject() -> None:
        target.unlink()  # the replicas are gone

    def fix() -> None:
        target.write_text(body)

    incident = drill.Incident("no targets", "", "DrillAlert", {"severity": "page"}, inject, fix, "")
    try:
        timing = drill.run_incident(incident, api, notifications, timeout_s=60)
    finally:
        api.close()
    assert timing.detected, timing.notes
    assert timing.notified_via == "/page", "severity=page must route to the oncall-page receiver"
    assert timing.resolved_at is not None, f"alert did not resolve after the fix: {timing.notes}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not timing.resolved_notified_at:
        time.sleep(0.5)
        hit = drill.notification_at(notifications, "DrillAlert", {"severity": "page"}, "resolved", timing.fixed_at)
        timing.resolved_notified_at = hit[0] if hit else None
    assert timing.resolved_notified_at, "Alertmanager sent no resolved notification (send_resolved: true)"
