"""A real Alertmanager on 127.0.0.1 (Debian's prometheus-alertmanager), run with a copy of
`deploy/alertmanager/alertmanager.yml` whose webhooks point at the lab's receiver and whose
timers are divided by the same factor as the burn-rate windows."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import yaml

from milvus_lab import processes
from milvus_lab.monitoring import tools
from milvus_lab.monitoring.slo import format_duration, parse_duration
from milvus_lab.settings import Settings

NAME = "alertmanager"
CONFIG = Path("deploy/alertmanager/alertmanager.yml")
_TIMERS = ("group_wait", "group_interval", "repeat_interval")


def lab_config(doc: dict, webhook_port: int, factor: float, floor_s: float = 1.0) -> dict:
    """The committed config with webhooks on `webhook_port` and timers / `factor` (>= floor)."""
    doc = yaml.safe_load(yaml.safe_dump(doc))  # deep copy

    def scale(route: dict) -> None:
        for key in _TIMERS:
            if key in route:
                route[key] = format_duration(max(floor_s, parse_duration(route[key]) / factor))
        for child in route.get("routes", []):
            scale(child)

    scale(doc["route"])
    for receiver in doc.get("receivers", []):
        for hook in receiver.get("webhook_configs", []):
            path = httpx.URL(hook["url"]).path
            hook["url"] = f"http://127.0.0.1:{webhook_port}{path}"
    return doc


def home(settings: Settings) -> Path:
    return settings.state_dir / "monitoring" / "alertmanager"


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def start(settings: Settings, port: int, webhook_port: int, factor: float, timeout: float = 60.0,
          config_file: Path | None = None) -> str:
    """(Re)start our Alertmanager (fresh state: no silences or old notifications) with the
    lab copy of `config_file` (default: the committed deploy/alertmanager/alertmanager.yml)."""
    binary = tools.require("alertmanager")
    stop(settings)
    base = home(settings)
    if base.exists():
        shutil.rmtree(base)
    (base / "data").mkdir(parents=True)
    committed = yaml.safe_load((config_file or settings.repo_root / CONFIG).read_text())
    cfg = base / "alertmanager.yml"
    cfg.write_text(yaml.safe_dump(lab_config(committed, webhook_port, factor), sort_keys=False))
    argv = [binary, f"--config.file={cfg}", f"--storage.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # a single Alertmanager: no HA gossip (the default binds 0.0.0.0:9094)
            "--cluster.listen-address=", "--log.level=warn"]
    rec = processes.start_process(settings, NAME, argv, port)
    processes.wait_until(rec, lambda: ready(port), timeout, "Alertmanager")
    return f"http://127.0.0.1:{port}"


def stop(settings: Settings) -> bool:
    return processes.stop_process(settings, NAME)
