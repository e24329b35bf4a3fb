"""Deploy one artifact (by digest) to an environment's replicas, and roll back.

Locally an environment is N uvicorn processes (`pipe-<env>-<i>`) importing the search API
from the unpacked wheel (PYTHONPATH = the release directory), not from the source tree: the
bytes deployed are the bytes built. Each environment keeps its release history in
`envs/<env>/history.json`, so a rollback re-deploys the previous digest (`rollout undo`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from milvus_lab import processes
from milvus_lab.pipeline.envconfig import Config
from milvus_lab.pipeline.registry import Registry
from milvus_lab.settings import Settings

PREFIX = "pipe-"


@dataclass(frozen=True)
class Release:
    """What runs in an environment: a digest, its rendered config, and any drill fault."""

    env: str
    digest: str
    config: Config
    fault: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.digest.split(":", 1)[1][:12]


@dataclass(frozen=True)
class Deployed:
    release: Release
    urls: list[str]
    imported_from: str
    seconds: float


def env_dir(settings: Settings, env: str) -> Path:
    return settings.path("pipeline", "envs", env, "x").parent


def unpack(registry: Registry, digest: str, settings: Settings) -> Path:
    """The wheel, unpacked once per digest (a wheel is an importable zip layout)."""
    dest = settings.path("pipeline", "releases", digest.split(":", 1)[1][:16])
    if not (dest / ".complete").exists():
        with zipfile.ZipFile(registry.blob(digest)) as zf:
            zf.extractall(dest)
        (dest / ".complete").write_text(digest)
    return dest


def replica_env(release: Release, milvus_uri: str, release_dir: Path) -> dict[str, str]:
    search = release.config["search"]
    assert isinstance(search, dict)
    env = {
        "PYTHONPATH": str(release_dir),
        "MILVUS_LAB_API_SLOT": release.env,
        "MILVUS_LAB_API_VERSION": release.version,
        "MILVUS_LAB_API_VARIANT": release.digest,
        "MILVUS_LAB_MILVUS_URI": milvus_uri,
        "MILVUS_LAB_API_COLLECTION": str(search["collection"]),
        "MILVUS_LAB_API_SEARCH_PARAMS": json.dumps({"ef": search["ef"]}),
        "MILVUS_LAB_API_TIMEOUT_S": str(search["timeout_s"]),
        **release.fault,
    }
    return env


def imported_from(release_dir: Path) -> str:
    """Where `milvus_lab` is imported from with the replicas' PYTHONPATH (must be the release)."""
    out = subprocess.run(
        [sys.executable, "-c", "import milvus_lab.app.main as m; print(m.__file__)"],
        capture_output=True, text=True, env={"PYTHONPATH": str(release_dir), "PATH": "/usr/bin:/bin"},
        cwd=release_dir, check=False,
    )
    return out.stdout.strip() or out.stderr.strip()[-200:]


def running(settings: Settings, env: str) -> list[processes.ProcessRecord]:
    return [r for r in processes.list_records(settings, f"{PREFIX}{env}-") if r.alive()]


def stop(settings: Settings, env: str) -> int:
    return sum(processes.stop_process(settings, r.name) for r in processes.list_records(settings, f"{PREFIX}{env}-"))


def _ready(url: str) -> bool:
    """/readyz: the replica reaches Milvus and its collection is loaded (not only "process up")."""
    try:
        return httpx.get(f"{url}/readyz", timeout=15.0).status_code == 200
    except httpx.HTTPError:
        return False


def deploy(settings: Settings, registry: Registry, release: Release, milvus_uri: str,
           timeout: float = 180.0) -> Deployed:
    """Replace the environment's replicas with `release` (new ones healthy before old ones stop)."""
    t0 = time.monotonic()
    release_dir = unpack(registry, release.digest, settings)
    source = imported_from(release_dir)
    replicas = int(release.config["replicas"])  # type: ignore[call-overload]
    old = running(settings, release.env)
    stamp = f"{int(time.time() * 1000) % 10**8:08d}"
    log_level = str(release.config.get("log_level", "info"))
    started = []
    for i in range(replicas):
        port = processes.free_port(avoid=settings.pinned_ports().values())
        name = f"{PREFIX}{release.env}-{stamp}-{i}"
        argv = processes.python_argv(
            "-m", "uvicorn", "milvus_lab.app.main:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", log_level, "--no-access-log",
        )
        env = {**replica_env(release, milvus_uri, release_dir), "MILVUS_LAB_API_REPLICA": name}
        started.append(processes.start_process(settings, name, argv, port, env=env,
                                               extra={"env": release.env, "digest": release.digest}))
    try:
        for rec in started:
            url = f"http://127.0.0.1:{rec.port}"
            processes.wait_until(rec, lambda url=url: _ready(url), timeout, f"{release.env} replica {rec.name}")
    except Exception:
        for rec in started:
            processes.stop_process(settings, rec.name)
        raise
    for rec in old:
        processes.stop_process(settings, rec.name)
    history = load_history(settings, release.env)
    history.append({**asdict(release), "at": time.time()})
    save_history(settings, release.env, history)
    urls = [f"http://127.0.0.1:{r.port}" for r in started]
    return Deployed(release, urls, source, time.monotonic() - t0)


def load_history(settings: Settings, env: str) -> list[dict]:
    path = env_dir(settings, env) / "history.json"
    return json.loads(path.read_text()) if path.exists() else []


def save_history(settings: Settings, env: str, history: list[dict]) -> None:
    path = env_dir(settings, env) / "history.json"
    path.write_text(json.dumps(history[-20:], indent=1))


def current(settings: Settings, env: str) -> Release | None:
    history = load_history(settings, env)
    if not history:
        return None
    last = history[-1]
    return Release(last["env"], last["digest"], last["config"], last.get("fault", {}))


def previous_good(settings: Settings, env: str, failed: Release) -> Release | None:
    """The release before the failed one that ran without a fault (what `rollout undo` restores)."""
    for entry in reversed(load_history(settings, env)[:-1]):
        if not entry.get("fault") and entry.get("verified"):
            return Release(entry["env"], entry["digest"], entry["config"], {})
    return None


def mark_verified(settings: Settings, env: str) -> None:
    """The current release passed its smoke test and watch: a rollback target from now on."""
    history = load_history(settings, env)
    if history:
        history[-1]["verified"] = True
        save_history(settings, env, history)


def urls(settings: Settings, env: str) -> list[str]:
    return [f"http://127.0.0.1:{r.port}" for r in running(settings, env)]
