"""The standalone engine: the real Milvus 2.3.5 binary from PyPI's `milvus` package, supervised by us.

The package's own wrapper is unfit to supervise it (its CLI orphans the binary on SIGTERM,
picks ports above 32768 and binds etcd on 2379/2380; see
shared/reference/real-milvus-2.3.5-from-pypi.md). We use the package only for its config
template (`MilvusServerConfig`) and to unpack the binary, and run the binary ourselves:
- every port pinned from Settings (below 32768), etcd on its own loopback ports through
  an etcd YAML (`ETCD_CONFIG_PATH`), every component on 127.0.0.1, the metrics/health port
  set (`METRICS_PORT`), `queryNode.gracefulStopTimeout` a few seconds;
- its own process group, a pid record like Milvus Lite's, and a `LOCK` file in the data
  dir that the binary holds (inherited, flock'ed fd) for as long as it runs;
- one data dir under the state dir, reused across starts (the unpacked binaries live once
  in a cache outside it: ~246 MB that every instance would otherwise copy);
- stop: release loaded collections, SIGTERM the group, wait up to 30 s, SIGKILL. Every
  SIGTERM stop ends with `panic: context canceled` (exit -6) after the components stopped:
  that is a clean stop;
- authentication and TLS from settings; the generated root password and the certificates
  live in `.milvus-lab/secrets/milvus-standalone/` (0600) and are never printed.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import platform
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from milvus_lab import processes
from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus.certs import SERVER_NAME, ensure_tls_files
from milvus_lab.milvus.client import TlsClient, connect, remember
from milvus_lab.milvus.server import (
    RELIED_ON,
    MilvusEndpoint,
    raise_if_lost,
    refuse_locked_data_dir,
)
from milvus_lab.secrets import read_or_create_password, secrets_dir
from milvus_lab.settings import Settings

NAME = "milvus-standalone"
VERSION = "2.3.5"
SUPPORTED_PLATFORMS = (("linux", "x86_64"), ("darwin", "arm64"))  # the package's only wheels
COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
ROOT_USER = "root"
DEFAULT_ROOT_PASSWORD = "Milvus"  # what Milvus creates root with; replaced on first start
STOP_GRACE_S = 30.0
QUERYNODE_GRACEFUL_STOP_S = 5  # the default graceful stop hangs > 90 s with a loaded collection
# A SIGTERM stop ends in a panic before the components revoke their etcd sessions, so after a
# restart the old query node and proxy stay registered until their lease expires (30 s by
# default) and a load sent meanwhile can be assigned to the dead node ("unrecoverable
# error"). A shorter lease plus `_sessions_settled` before first use avoids that.
SESSION_TTL_S = 12
INTERNAL_PORT_COUNT = 10
MAX_PORT = 32767  # the kernel's ephemeral range starts at 32768


@dataclass(frozen=True)
class StandalonePorts:
    """Every port the binary listens on, pinned (nothing left to the binary's own choice)."""

    proxy: int
    metrics: int
    etcd_client: int
    etcd_peer: int
    proxy_internal: int
    root_coord: int
    query_coord: int
    query_node: int
    index_coord: int
    index_node: int
    data_coord: int
    data_node: int

    @classmethod
    def from_settings(cls, settings: Settings) -> StandalonePorts:
        base = settings.standalone_internal_ports
        return cls(settings.standalone_port, settings.standalone_metrics_port,
                   *range(base, base + INTERNAL_PORT_COUNT))

    def named(self) -> dict[str, int]:
        return asdict(self)

    def template_values(self) -> dict[str, int]:
        """The `MilvusServerConfig` template's port keys."""
        return {"proxy_port": self.proxy, "proxy_internal_port": self.proxy_internal,
                "etcd_port": self.etcd_client, "root_coord_port": self.root_coord,
                "query_coord_port": self.query_coord, "query_node_port": self.query_node,
                "index_coord_port": self.index_coord, "index_node_port": self.index_node,
                "data_coord_port": self.data_coord, "data_node_port": self.data_node}

    def validate(self) -> None:
        """Ports in 1024..32767 and distinct, or one message naming the setting to change."""
        ports = self.named()
        bad = {k: p for k, p in ports.items() if not 1024 <= p <= MAX_PORT}
        if bad:
            raise PrerequisiteError(
                f"standalone Milvus ports out of range: {bad} (each must be 1024..{MAX_PORT}, below "
                "the kernel's ephemeral range)",
                fix="set MILVUS_LAB_STANDALONE_PORT, MILVUS_LAB_STANDALONE_METRICS_PORT and "
                    f"MILVUS_LAB_STANDALONE_INTERNAL_PORTS (first of {INTERNAL_PORT_COUNT}) below 32768",
            )
        if len(set(ports.values())) != len(ports):
            raise PrerequisiteError(
                f"standalone Milvus ports overlap: {ports}",
                fix=f"MILVUS_LAB_STANDALONE_INTERNAL_PORTS starts a block of {INTERNAL_PORT_COUNT} "
                    "ports; keep the gRPC and metrics ports outside it",
            )


# ---- availability ------------------------------------------------------------------------
def platform_supported() -> tuple[bool, str]:
    here = (sys.platform, platform.machine().lower())
    label = f"{here[0]} {here[1]}"
    return here in SUPPORTED_PLATFORMS, label


def package_installed() -> tuple[bool, str]:
    if importlib.util.find_spec("milvus") is None:
        return False, "not installed"
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("milvus")
    except PackageNotFoundError:
        return False, "a `milvus` module that is not the PyPI package"
    return found == VERSION, f"milvus {found}"


def require_available() -> None:
    """Exit 2 with the way out when this machine cannot run the standalone engine."""
    ok, label = platform_supported()
    if not ok:
        raise PrerequisiteError(
            f"the standalone Milvus engine has no build for {label} (PyPI's milvus {VERSION} ships "
            "Linux x86_64 and macOS arm64 only)",
            fix="use real Milvus in Docker or Kubernetes: `docker compose up -d --wait` and "
                "--target compose, or --target kube (kind); or --milvus lite where the lab allows",
        )
    ok, detail = package_installed()
    if not ok:
        raise PrerequisiteError(
            f"the standalone Milvus engine needs PyPI's milvus=={VERSION} ({detail})",
            fix=f'pip install -e . (or pip install "milvus=={VERSION}"; not its [client] extra)',
        )


# ---- files ---------------------------------------------------------------------------------
def base_dir(settings: Settings) -> Path:
    """The one data dir of this home: configs/, logs/, data/ (etcd, rocksmq, segments), LOCK."""
    return settings.state_dir / "milvus-standalone"


def binary_cache() -> Path:
    """Unpacked binaries, shared by every home of this user (read-only after unpacking)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "milvus-lab" / "milvus-standalone" / VERSION


def ensure_binary() -> Path:
    """Unpack the package's binary and libraries once (6-19 s), under a lock; return `milvus`."""
    import milvus

    cache = binary_cache()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".unpack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two labs starting at once unpack once
        milvus._initialize_data_files(str(cache))  # skips files whose .lzma md5 matches
    return cache / "bin" / "milvus"


def etcd_yaml(ports: StandalonePorts, data: Path) -> str:
    """The embedded etcd's own config: without it, etcd binds 2379/2380 on every interface."""
    client = f"http://127.0.0.1:{ports.etcd_client}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return "\n".join([
        "name: default",
        f"data-dir: {data / 'etcd.data'}",
        f"listen-client-urls: {client}",
        f"advertise-client-urls: {client}",
        f"listen-peer-urls: {peer}",
        f"initial-advertise-peer-urls: {peer}",
        f"initial-cluster: default={peer}",
        "initial-cluster-state: new",
        "",
    ])


def tls_dir(settings: Settings) -> Path:
    return secrets_dir(settings, NAME, "tls")


def password_file(settings: Settings) -> Path:
    return secrets_dir(settings, NAME) / "root-password"


def write_config(settings: Settings, ports: StandalonePorts) -> Path:
    """configs/milvus.yaml from the package's template, plus configs/etcd.yaml; return configs/."""
    from milvus import MilvusServerConfig

    base = base_dir(settings)
    cfg = MilvusServerConfig(data_dir=str(base))
    for key, port in ports.template_values().items():
        # set, not constructor kwargs: its resolve() would bind-test without SO_REUSEADDR
        # (a port in TIME_WAIT after our own stop fails) or move a busy port silently
        cfg.set(key, port)
    cfg.set("authorization_enabled", bool(settings.standalone_auth))
    cfg.set("tls_mode", int(settings.standalone_tls))
    if settings.standalone_tls:
        files = ensure_tls_files(tls_dir(settings))
        cfg.set("server_pem_path", str(files.server_pem))
        cfg.set("server_key_path", str(files.server_key))
        cfg.set("ca_pem_path", str(files.ca_pem))
    for component in COMPONENTS:  # else they register on the host's first non-loopback address
        cfg.set(f"{component}.ip", "127.0.0.1")
    cfg.set("etcd.endpoints", f"127.0.0.1:{ports.etcd_client}")  # the template says localhost
    cfg.set("common.gracefulStopTimeout", 30)
    cfg.resolve_storage()  # configs/ logs/ data/ under base, and the storage paths
    cfg.write_config()  # configs/milvus.yaml + glog.conf
    configs = base / "configs"
    (configs / "etcd.yaml").write_text(etcd_yaml(ports, base / "data"))
    return configs


def binary_env(settings: Settings, ports: StandalonePorts, binary: Path, configs: Path) -> dict[str, str]:
    """Environment of the binary: Milvus maps `SECTION_KEY` variables onto dotted config keys."""
    lib_var = "DYLD_LIBRARY_PATH" if sys.platform == "darwin" else "LD_LIBRARY_PATH"
    return {
        "DEPLOY_MODE": "STANDALONE",
        "METRICS_PORT": str(ports.metrics),
        "MILVUSCONF": str(configs),
        "MILVUS_RUN_DIR": str(base_dir(settings) / "run"),
        "ETCD_CONFIG_PATH": str(configs / "etcd.yaml"),
        "QUERYNODE_GRACEFULSTOPTIMEOUT": str(QUERYNODE_GRACEFUL_STOP_S),
        "COMMON_SESSION_TTL": str(SESSION_TTL_S),
        lib_var: ":".join(p for p in (str(binary.parent), os.environ.get(lib_var, "")) if p),
    }


# ---- endpoint --------------------------------------------------------------------------------
def client_tls(settings: Settings) -> TlsClient | None:
    """What a client of this engine needs for TLS (None when TLS is off)."""
    if not settings.standalone_tls:
        return None
    files = ensure_tls_files(tls_dir(settings))
    if settings.standalone_tls == 1:
        return TlsClient(1, str(files.ca_pem), server_name=SERVER_NAME)
    return TlsClient(2, str(files.ca_pem), str(files.client_pem), str(files.client_key), SERVER_NAME)


def root_token(settings: Settings) -> str:
    """`root:<generated password>` when authentication is on (never printed), else ""."""
    if not settings.standalone_auth:
        return ""
    return f"{ROOT_USER}:{read_or_create_password(password_file(settings))}"


def uri(settings: Settings) -> str:
    scheme = "https" if settings.standalone_tls else "http"
    return f"{scheme}://127.0.0.1:{settings.standalone_port}"


def endpoint(settings: Settings, pid: int | None = None, started_now: bool = False) -> MilvusEndpoint:
    ep = MilvusEndpoint(uri(settings), pid, started_now, base_dir(settings),
                        token=root_token(settings), tls=client_tls(settings), engine="standalone")
    remember(ep.uri, ep.token, ep.tls)  # so connect(uri) elsewhere in this process gets in
    return ep


def healthy(metrics_port: int, timeout: float = 2.0) -> bool:
    """GET /healthz on the metrics port says OK (plain HTTP, even with TLS and RBAC on)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=timeout) as resp:
            return resp.status == 200 and b"OK" in resp.read()
    except (OSError, urllib.error.URLError):
        return False


def registered_nodes(metrics_port: int, timeout: float = 2.0) -> dict[str, float]:
    """Query nodes and proxies the coordinators count (a standalone has one of each when settled)."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {"milvus_querycoord_querynode_num": "query nodes", "milvus_rootcoord_proxy_num": "proxies"}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=timeout) as resp:
            text = resp.read().decode(errors="replace")
    except (OSError, urllib.error.URLError):
        return {}
    return {wanted[f.name]: sum(s.value for s in f.samples)
            for f in text_string_to_metric_families(text) if f.name in wanted}


def _sessions_settled(metrics_port: int) -> bool:
    """No stale session of a previous run is registered (see SESSION_TTL_S)."""
    counts = registered_nodes(metrics_port)
    return bool(counts) and all(n <= 1 for n in counts.values())


def _config_facts(settings: Settings) -> dict[str, str]:
    ports = StandalonePorts.from_settings(settings)
    return {"engine": "standalone", "metrics_port": str(ports.metrics),
            "internal_ports": str(settings.standalone_internal_ports),
            "auth": str(int(settings.standalone_auth)), "tls": str(settings.standalone_tls)}


# ---- lifecycle ---------------------------------------------------------------------------
def ensure_standalone(settings: Settings, timeout: float = 240.0) -> MilvusEndpoint:
    """Reuse our healthy standalone Milvus, or start one; refuse anything ambiguous (exit 2)."""
    require_available()
    ports = StandalonePorts.from_settings(settings)
    ports.validate()
    rec = processes.read_record(settings, NAME)
    if rec is not None:
        if not rec.alive():
            raise_if_lost(rec, "Milvus standalone")
            raise PrerequisiteError(
                f"stale pid file {processes.record_path(settings, NAME)}: Milvus standalone "
                f"(pid {rec.pid}) is no longer running. Last log lines ({rec.log}):\n"
                f"{processes.log_tail(rec.log, 5)}",
                fix="`milvus-lab down` clears stale state (your data is kept), then run again",
            )
        wanted = {"port": str(ports.proxy), **_config_facts(settings)}
        running = {"port": str(rec.port), **rec.extra}
        diff = {k: (running.get(k), v) for k, v in wanted.items() if running.get(k) != v}
        if diff:
            raise PrerequisiteError(
                f"our Milvus standalone (pid {rec.pid}) runs with other settings "
                f"(running vs asked: {diff})",
                fix="`milvus-lab down` first (data is kept), or use the settings it runs with",
            )
        ep = endpoint(settings, rec.pid, False)
        processes.wait_until(rec, lambda: healthy(ports.metrics), timeout, "Milvus standalone")
        _ready(settings, ep, rec, timeout)
        RELIED_ON.add(rec.pid)
        return ep

    busy = {name: p for name, p in ports.named().items() if processes.port_in_use(p)}
    if busy:
        raise PrerequisiteError(
            f"ports {busy} are in use by a process that is not our standalone Milvus",
            fix="stop it (`ss -ltnp` shows who), or move the engine: MILVUS_LAB_STANDALONE_PORT, "
                "MILVUS_LAB_STANDALONE_METRICS_PORT, MILVUS_LAB_STANDALONE_INTERNAL_PORTS",
        )
    base = base_dir(settings)
    refuse_locked_data_dir(base, "standalone Milvus")
    binary = ensure_binary()
    configs = write_config(settings, ports)
    env = binary_env(settings, ports, binary, configs)
    lock_fd = os.open(base / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # the binary inherits the locked fd: the data dir stays locked exactly as long as it runs
        rec = processes.start_process(settings, NAME, [str(binary), "run", "standalone"], ports.proxy,
                                      env=env, extra=_config_facts(settings), cwd=base,
                                      pass_fds=(lock_fd,))
    finally:
        os.close(lock_fd)
    ep = endpoint(settings, rec.pid, True)
    try:
        processes.wait_until(rec, lambda: healthy(ports.metrics), timeout, "Milvus standalone")
        _ready(settings, ep, rec, timeout)
    except BaseException:
        stop_standalone(settings)  # a half-started binary is never left behind
        raise
    RELIED_ON.add(rec.pid)
    return ep


def _ready(settings: Settings, ep: MilvusEndpoint, rec: processes.ProcessRecord, timeout: float) -> None:
    """Wait until gRPC answers with our credentials and no stale session is registered.

    On first use with authentication, root's default password is replaced by the generated one.
    """
    metrics_port = int(rec.extra.get("metrics_port", "0"))
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not rec.alive():
            raise_if_lost(rec, "Milvus standalone")
            raise PrerequisiteError(
                f"Milvus standalone exited during start-up. Last log lines ({rec.log}):\n"
                f"{processes.log_tail(rec.log)}",
                fix=f"read {rec.log}; then `milvus-lab down` and try again",
            )
        if _client_gets_in(ep):
            if _sessions_settled(metrics_port):
                return
            last = f"stale sessions of a previous run still registered: {registered_nodes(metrics_port)}"
        else:
            last = "our client is refused"
            if settings.standalone_auth and _set_root_password(settings, ep):
                continue
        time.sleep(0.5)
    raise PrerequisiteError(
        f"Milvus standalone did not become ready within {timeout:.0f}s ({last})",
        fix=f"read {rec.log}; if the data dir predates {password_file(settings)}, restore that file "
            f"or remove {base_dir(settings)} (deletes its data)",
    )


def _client_gets_in(ep: MilvusEndpoint) -> bool:
    try:
        client = ep.client(timeout=5)
    except Exception:  # not ready yet, or root still has Milvus's default password
        return False
    try:
        client.list_collections()
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.close()


def _set_root_password(settings: Settings, ep: MilvusEndpoint) -> bool:
    """Replace root's default password with the generated one; True when it was changed."""
    new = read_or_create_password(password_file(settings))
    try:
        client = connect(ep.uri, token=f"{ROOT_USER}:{DEFAULT_ROOT_PASSWORD}", tls=ep.tls, timeout=5)
        try:
            client.update_password(ROOT_USER, DEFAULT_ROOT_PASSWORD, new)
            return True
        finally:
            client.close()
    except Exception:
        return False


def release_loaded(ep: MilvusEndpoint, timeout: float = 10.0) -> list[str]:
    """Release every loaded collection (a stop then takes 0.1 s instead of hanging in QueryCoord)."""
    released: list[str] = []
    with contextlib.suppress(Exception):
        client = ep.client(timeout=timeout)
        try:
            for name in client.list_collections():
                with contextlib.suppress(Exception):
                    state = str(client.get_load_state(name).get("state", ""))
                    if "NotLoad" not in state:
                        client.release_collection(name)
                        released.append(name)
        finally:
            client.close()
    return released


def running_settings(settings: Settings, rec: processes.ProcessRecord) -> Settings:
    """`settings` with the auth/TLS switches the running instance was started with."""
    return settings.with_(standalone_auth=rec.extra.get("auth") == "1",
                          standalone_tls=int(rec.extra.get("tls", "0")))


def stop_standalone(settings: Settings, grace: float = STOP_GRACE_S) -> bool:
    """Release, SIGTERM the group, wait up to `grace`, SIGKILL; data kept. True when one ran."""
    rec = processes.read_record(settings, NAME)
    if rec is None:
        return False
    if rec.alive() and healthy(int(rec.extra.get("metrics_port", "0")), timeout=1):
        release_loaded(endpoint(running_settings(settings, rec), rec.pid))
    stopped = processes.stop_process(settings, NAME, grace=grace)
    # each start leaves /tmp/milvus/server_id_<pid>
    Path(f"/tmp/milvus/server_id_{rec.pid}").unlink(missing_ok=True)
    return stopped


@dataclass(frozen=True)
class StandaloneStatus:
    """What `milvus-lab status` shows about the engine."""

    state: str  # running | dead (stale) | stopped
    pid: int | None
    port: int | None
    metrics_port: int | None
    healthy: bool
    auth: bool
    tls: int
    data_dir: Path


def status(settings: Settings) -> StandaloneStatus:
    rec = processes.read_record(settings, NAME)
    if rec is None:
        return StandaloneStatus("stopped", None, None, None, False, bool(settings.standalone_auth),
                                settings.standalone_tls, base_dir(settings))
    metrics = int(rec.extra.get("metrics_port", "0"))
    alive = rec.alive()
    return StandaloneStatus("running" if alive else "dead (stale)", rec.pid, rec.port, metrics,
                            alive and healthy(metrics, timeout=1), rec.extra.get("auth") == "1",
                            int(rec.extra.get("tls", "0")), base_dir(settings))
