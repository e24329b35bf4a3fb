"""The lab's monitoring stack in one call: webhook receiver, Alertmanager, Prometheus with
the time-scaled copy of the committed rules, all on 127.0.0.1; and its teardown."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from milvus_lab import processes
from milvus_lab.monitoring import alertmanager, prometheus, slo, webhook
from milvus_lab.monitoring.promapi import PromApi
from milvus_lab.polling import poll_until
from milvus_lab.settings import Settings

RULES_DIR = Path("deploy/prometheus/rules")


@dataclass
class MonitoringStack:
    prometheus_url: str
    alertmanager_url: str
    notifications: Path
    rules_dir: Path  # the scaled copies Prometheus loads
    factor: float
    api: PromApi


def start_stack(settings: Settings, factor: float = slo.LAB_SCALE, prometheus_port: int | None = None,
                alertmanager_port: int | None = None, webhook_port: int | None = None,
                milvus_metrics: str | None = None) -> MonitoringStack:
    """Start (or restart, fresh) the three processes; ports default to free ones."""
    free = iter(processes.free_ports(3))
    prom_port = prometheus_port or next(free)
    am_port = alertmanager_port or next(free)
    hook_port = webhook_port or next(free)
    rules_dir = settings.state_dir / "monitoring" / "rules"
    slo.write_scaled(settings.repo_root / RULES_DIR, rules_dir, factor)
    notifications = webhook.start(settings, hook_port)
    am_url = alertmanager.start(settings, am_port, hook_port, factor)
    prom_url = prometheus.start(settings, prometheus.PrometheusOptions(
        port=prom_port, rules_dir=rules_dir, alertmanager_port=am_port, milvus_metrics=milvus_metrics,
        router_control_port=settings.router_control_port))
    return MonitoringStack(prom_url, am_url, notifications, rules_dir, factor, PromApi(prom_url))


def stop_stack(settings: Settings) -> list[str]:
    """Stop whichever of the three runs; returns the names stopped."""
    stopped = []
    for name, stop in ((prometheus.NAME, prometheus.stop), (alertmanager.NAME, alertmanager.stop),
                       (webhook.NAME, webhook.stop)):
        if stop(settings):
            stopped.append(name)
    return stopped


def wait_for_api_targets(mon: MonitoringStack, count: int, timeout: float = 60.0) -> None:
    """Until Prometheus scrapes `count` search-API replicas as up: an SLI computed over fewer
    replicas would hide the incidents on the missing ones."""
    poll_until(lambda: mon.api.targets_up("search-api") >= count, timeout=timeout,
               what="every API replica scraped", timeout_message="Prometheus does not see every API replica up",
               fix=f"open {mon.prometheus_url}/targets; read .milvus-lab/logs/prometheus.log")


def wait_for_sli(mon: MonitoringStack, timeout: float = 60.0) -> None:
    """Until the availability SLI has a value: an incident injected before it exists could
    never be detected, and its detection time would be wrong."""
    poll_until(lambda: mon.api.query('slo:sli_error:ratio_rate1h{sloth_slo="requests-availability"}') is not None,
               timeout=timeout, what="the availability SLI", timeout_message="no SLI recorded after the load started",
               fix=f"query search_api_requests_total at {mon.prometheus_url}")
