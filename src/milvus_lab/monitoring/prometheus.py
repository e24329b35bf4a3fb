"""A real Prometheus on 127.0.0.1, started and stopped like Milvus Lite (pid file, log,
graceful stop through `milvus_lab.processes`).

It scrapes the search API replicas through the file_sd files the replicas module writes
(`.milvus-lab/prometheus/search-api-*.json`; those name `host.docker.internal` for the
compose Prometheus, a relabel rule turns it into 127.0.0.1 here), the router, and Milvus's
own /metrics when the Milvus in use has one (Milvus standalone; Milvus Lite has none).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from milvus_lab import processes
from milvus_lab.monitoring import tools
from milvus_lab.settings import Settings

NAME = "prometheus"


@dataclass(frozen=True)
class PrometheusOptions:
    """What the lab's Prometheus scrapes and how fast (seconds)."""

    port: int
    rules_dir: Path
    alertmanager_port: int | None = None
    scrape_interval_s: int = 1
    evaluation_interval_s: int = 1
    milvus_metrics: str | None = None  # host:port of Milvus's /metrics, when it has one
    router_control_port: int | None = None


def home(settings: Settings) -> Path:
    return settings.state_dir / "monitoring" / "prometheus"


def config(settings: Settings, opts: PrometheusOptions) -> dict:
    """prometheus.yml as a dict (written by `start`, checked by `promtool check config`)."""
    interval = f"{opts.scrape_interval_s}s"
    scrape: list[dict] = [{
        "job_name": "search-api",
        "file_sd_configs": [{"files": [str(settings.state_dir / "prometheus" / "search-api-*.json")],
                             "refresh_interval": interval}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "regex": r"host\.docker\.internal:(\d+)",
             "target_label": "__address__", "replacement": "127.0.0.1:$1"},
            {"target_label": "component", "replacement": "search-api"},
        ],
    }]
    if opts.router_control_port:
        scrape.append({"job_name": "router", "static_configs": [
            {"targets": [f"127.0.0.1:{opts.router_control_port}"], "labels": {"component": "router"}}]})
    if opts.milvus_metrics:
        scrape.append({"job_name": "milvus", "static_configs": [
            {"targets": [opts.milvus_metrics], "labels": {"component": "milvus"}}]})
    doc: dict = {
        "global": {"scrape_interval": interval, "scrape_timeout": interval,
                   "evaluation_interval": f"{opts.evaluation_interval_s}s",
                   "external_labels": {"lab_target": settings.target}},
        "rule_files": [str(opts.rules_dir / "*.yml")],
        "scrape_configs": scrape,
    }
    if opts.alertmanager_port:
        doc["alerting"] = {"alertmanagers": [
            {"static_configs": [{"targets": [f"127.0.0.1:{opts.alertmanager_port}"]}]}]}
    return doc


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def ready(port: int) -> bool:
    try:
        return httpx.get(f"{url(port)}/-/ready", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def start(settings: Settings, opts: PrometheusOptions, fresh: bool = True, timeout: float = 60.0) -> str:
    """(Re)start our Prometheus with `opts`; `fresh` drops the previous run's samples, so
    the SLIs and the error budget describe this run only. Returns its URL."""
    binary = tools.require("prometheus")
    stop(settings)
    base = home(settings)
    data = base / "data"
    if fresh and data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True, exist_ok=True)
    cfg = base / "prometheus.yml"
    cfg.write_text(yaml.safe_dump(config(settings, opts), sort_keys=False))
    argv = [binary, f"--config.file={cfg}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{opts.port}", "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d", "--log.level=warn"]
    rec = processes.start_process(settings, NAME, argv, opts.port)
    processes.wait_until(rec, lambda: ready(opts.port), timeout, "Prometheus")
    return url(opts.port)


def stop(settings: Settings) -> bool:
    return processes.stop_process(settings, NAME)
