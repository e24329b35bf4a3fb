"""Search API replicas: N real uvicorn processes for a slot (blue, green, a, b, ...).

The local stand-in for a Deployment: start them on free ports, wait for /readyz (what a
readiness probe does), stop them by pid, keep their logs in `.milvus-lab/logs/`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx

from milvus_lab import processes
from milvus_lab.app.config import ApiConfig
from milvus_lab.errors import PrerequisiteError
from milvus_lab.settings import Settings

PREFIX = "api-"


@dataclass(frozen=True)
class Replica:
    """One running API process."""

    name: str
    pid: int
    port: int
    slot: str
    version: str
    scheme: str = "http"  # https when the replica serves TLS (lab 05)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


def _replica(rec: processes.ProcessRecord) -> Replica:
    return Replica(rec.name, rec.pid, rec.port, rec.extra.get("slot", ""),
                   rec.extra.get("version", ""), rec.extra.get("scheme", "http"))


def ready(url: str, timeout: float = 2.0) -> bool:
    """GET /readyz like a kubelet probe (which does not verify an HTTPS probe's certificate)."""
    try:
        return httpx.get(f"{url}/readyz", timeout=timeout, verify=False).status_code == 200
    except httpx.HTTPError:
        return False


def list_replicas(settings: Settings, slot: str | None = None) -> list[Replica]:
    """Live replicas we started (all slots, or one)."""
    prefix = f"{PREFIX}{slot}-" if slot else PREFIX
    return [_replica(r) for r in processes.list_records(settings, prefix) if r.alive()]


def _argv(port: int, cfg: ApiConfig) -> list[str]:
    tls = ["--ssl-certfile", cfg.tls_cert, "--ssl-keyfile", cfg.tls_key] if cfg.tls_cert else []
    return processes.python_argv(
        "-m", "uvicorn", "milvus_lab.app.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        "--timeout-graceful-shutdown", "10", *tls,
    )


def start_replicas(settings: Settings, cfg: ApiConfig, count: int, timeout: float = 60.0) -> list[Replica]:
    """Ensure exactly `count` ready replicas of `cfg` for its slot.

    Replicas already running the same config are kept (re-running a lab is cheap);
    replicas of the slot running another config are replaced.
    """
    if count < 0:
        raise PrerequisiteError(f"replica count {count} is negative", fix="use 0 or more")
    fingerprint = json.dumps(cfg.to_env(), sort_keys=True)
    existing = processes.list_records(settings, f"{PREFIX}{cfg.slot}-")
    same = [r for r in existing if r.alive() and r.extra.get("config") == fingerprint]
    keep = same[:count]
    for rec in existing:
        if rec not in keep:
            processes.stop_process(settings, rec.name)
    used = {int(r.name.rsplit("-", 1)[1]) for r in keep}
    started: list[processes.ProcessRecord] = []
    index = 0
    while len(keep) + len(started) < count:
        if index not in used:
            port = processes.free_port(avoid=settings.pinned_ports().values())
            started.append(processes.start_process(
                settings, f"{PREFIX}{cfg.slot}-{index}", _argv(port, cfg), port,
                env={**cfg.to_env(), "MILVUS_LAB_API_REPLICA": f"{PREFIX}{cfg.slot}-{index}"},
                extra={"slot": cfg.slot, "version": cfg.version, "config": fingerprint,
                       "scheme": "https" if cfg.tls_cert else "http"},
            ))
        index += 1
    for rec in started:
        url = _replica(rec).url
        processes.wait_until(rec, lambda url=url: ready(url), timeout,
                             f"search API replica {rec.name} ({cfg.served_by})")
    running = sorted((_replica(r) for r in [*keep, *started]), key=lambda r: r.name)
    write_scrape_targets(settings, cfg.slot, running)
    return running


def scrape_targets_file(settings: Settings, slot: str) -> Path:
    return settings.state_dir / "prometheus" / f"search-api-{slot}.json"


def write_scrape_targets(settings: Settings, slot: str, running: list[Replica]) -> None:
    """Prometheus file_sd targets for the compose target's Prometheus (it runs in Docker and
    reaches the host as host.docker.internal); rewritten whenever a slot changes."""
    path = scrape_targets_file(settings, slot)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = [{"targets": [f"host.docker.internal:{r.port}"],
             "labels": {"slot": r.slot, "version": r.version, "replica": r.name}} for r in running]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=1))
    tmp.replace(path)


def stop_replicas(settings: Settings, slot: str | None = None) -> int:
    """Stop a slot's replicas (or all); in-flight requests finish (graceful SIGTERM)."""
    prefix = f"{PREFIX}{slot}-" if slot else PREFIX
    stopped = sum(processes.stop_process(settings, r.name) for r in processes.list_records(settings, prefix))
    for path in (settings.state_dir / "prometheus").glob(f"search-api-{slot or ''}*.json"):
        path.unlink(missing_ok=True)
    return stopped


def stop_replica(settings: Settings, replica: Replica) -> bool:
    return processes.stop_process(settings, replica.name)
