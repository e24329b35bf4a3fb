"""A real Kubernetes control plane for tests, with KWOK playing the nodes.

Why: the kube path must be tested against a real API server (RBAC, Pod Security
Admission, controllers), and machines without a container engine cannot run kind.
So etcd, kube-apiserver, kube-controller-manager and kube-scheduler are built from
Go modules (``tools/kube-testenv/build.sh``) and KWOK marks two fake nodes and their
pods Ready. Pods never run: only the API server on 127.0.0.1 is ever contacted.

CLI: ``python -m milvus_lab.testing.kube_testenv up|down|status|kubeconfig``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from milvus_lab import pki
from milvus_lab.errors import LabError, PrerequisiteError
from milvus_lab.pki import write_private
from milvus_lab.processes import stat_fields

#: Must match tools/kube-testenv/k8s/go.mod (a test checks it).
K8S_VERSION = "v1.33.13"
CONTEXT = "milvus-lab-testenv"
HOST = "127.0.0.1"
SERVICE_CIDR = "10.96.0.0/16"
#: Pod IPs KWOK hands out; nothing ever sends traffic to them.
POD_CIDR = "10.244.0.1/16"
NODE_NAMES = ("kwok-node-0", "kwok-node-1")
#: Annotation KWOK puts on nodes it plays; also how clients tell "pods don't run".
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
BUILD_COMMAND = "tools/kube-testenv/build.sh"
UP_COMMAND = "python -m milvus_lab.testing.kube_testenv up"
DOWN_COMMAND = "python -m milvus_lab.testing.kube_testenv down"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


@dataclass(frozen=True)
class Ports:
    """Fixed loopback ports, away from the defaults a real cluster or kind would use."""

    etcd_client: int = 23790
    etcd_peer: int = 23800
    apiserver: int = 16443
    controller_manager: int = 20257
    scheduler: int = 20259

    def all(self) -> dict[str, int]:
        """Name -> port, for the "port in use" check."""
        return asdict(self)


def ports() -> Ports:
    """The ports in force: defaults shifted by MILVUS_LAB_KUBE_TESTENV_PORT_OFFSET.

    Why an offset: a second testenv (another run dir) can run beside the first.
    """
    raw = os.environ.get("MILVUS_LAB_KUBE_TESTENV_PORT_OFFSET", "0").strip() or "0"
    try:
        offset = int(raw)
    except ValueError as err:
        raise PrerequisiteError(
            f"MILVUS_LAB_KUBE_TESTENV_PORT_OFFSET={raw!r} is not an integer",
            fix="set it to a small integer such as 100, or unset it",
        ) from err
    base = Ports()
    return Ports(**{k: v + offset for k, v in base.all().items()})


# --------------------------------------------------------------------------- paths


def cache_root() -> Path:
    """Root of the build cache and run state; outside the repo, never committed."""
    env = os.environ.get("MILVUS_LAB_KUBE_TESTENV_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "milvus-lab" / "kube-testenv"


def bin_dir() -> Path:
    """Where build.sh puts the binaries for K8S_VERSION."""
    env = os.environ.get("MILVUS_LAB_KUBE_TESTENV_BIN")
    return Path(env).expanduser() if env else cache_root() / K8S_VERSION / "bin"


def run_dir() -> Path:
    """State of the running testenv: PKI, etcd data, logs, kubeconfig, pid file."""
    env = os.environ.get("MILVUS_LAB_KUBE_TESTENV_RUN")
    return Path(env).expanduser() if env else cache_root() / "run"


def kubeconfig_path() -> Path:
    """The kubeconfig `up` writes (context ``milvus-lab-testenv``)."""
    return run_dir() / "kubeconfig"


def _state_path() -> Path:
    return run_dir() / "state.json"


def missing_binaries() -> list[str]:
    """Binaries build.sh has not produced yet."""
    return [name for name in BINARIES if not os.access(bin_dir() / name, os.X_OK)]


def is_built() -> bool:
    """True when every control-plane binary is in the cache."""
    return not missing_binaries()


# --------------------------------------------------------------------------- PKI


def _make_pki(pki_dir: Path) -> None:
    """CA, apiserver serving cert, client certs per component, service-account key.

    Built on milvus_lab.pki (ECDSA P-256, instant); everything is regenerated on each `up`.
    Certificates are 0644 (components read them), keys 0600.
    """
    pki_dir.mkdir(parents=True, exist_ok=True)
    ca = pki.CertificateAuthority.create("milvus-lab-testenv-ca")
    ca.save(pki_dir, "ca", cert_mode=0o644)
    # The aggregation layer's own CA, as kubeadm does; without it the controller-manager
    # and scheduler log "missing content for CA bundle requestheader-client-ca-file".
    proxy_ca = pki.CertificateAuthority.create("milvus-lab-testenv-front-proxy-ca")
    proxy_ca.save(pki_dir, "front-proxy-ca", cert_mode=0o644)

    def issue(stem: str, subject: Any, signer: pki.CertificateAuthority = ca, **kw: Any) -> None:
        cert, key = signer.issue(subject, **kw)
        pki.save_pair(pki_dir, stem, cert, key, cert_mode=0o644)

    first_service_ip = str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))
    issue(
        "apiserver", pki.name("kube-apiserver"), server=True,
        dns_names=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                   "kubernetes.default.svc.cluster.local"],
        ips=[HOST, first_service_ip],
    )
    # system:masters bypasses RBAC: the admin (and KWOK, which updates every node).
    issue("admin", pki.name("milvus-lab-admin", "system:masters"), server=False)
    # Bootstrap RBAC has roles for these two user names.
    issue("controller-manager", pki.name("system:kube-controller-manager"), server=False)
    issue("scheduler", pki.name("system:kube-scheduler"), server=False)
    issue("front-proxy-client", pki.name("front-proxy-client"), proxy_ca, server=False)

    sa_key = pki.new_key()
    pki.write_private(pki_dir / "sa.key", pki.pem_key(sa_key))
    pki.write_private(pki_dir / "sa.pub", pki.pem_public_key(sa_key), 0o644)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _write_kubeconfig(path: Path, pki: Path, stem: str, user: str, context: str) -> None:
    """A self-contained kubeconfig (certs inlined) for one identity."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {
                    "server": f"https://{HOST}:{ports().apiserver}",
                    "certificate-authority-data": _b64(pki / "ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(pki / f"{stem}.crt"),
                    "client-key-data": _b64(pki / f"{stem}.key"),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": CONTEXT, "user": user}}],
        "current-context": context,
    }
    tmp = path.with_suffix(".tmp")
    write_private(tmp, yaml.safe_dump(config, sort_keys=False).encode())
    tmp.replace(path)


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """One started component: pid plus the kernel start time, so a reused pid is never killed."""

    name: str
    pid: int
    start_time: int
    binary: str
    log: str


@dataclass
class State:
    """What `up` started; `down` stops exactly these."""

    version: str
    run_dir: str
    kubeconfig: str
    procs: list[Proc] = field(default_factory=list)

    def save(self) -> None:
        """Written after every start, so a failed `up` can still be cleaned up."""
        path = _state_path()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @staticmethod
    def load() -> State | None:
        """The saved state, or None when nothing was started."""
        try:
            raw = json.loads(_state_path().read_text())
        except (OSError, ValueError):
            return None
        procs = [Proc(**p) for p in raw.pop("procs", [])]
        return State(**raw, procs=procs)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc, or None if gone."""
    try:
        fields = stat_fields(Path(f"/proc/{pid}/stat"))
    except OSError:
        return None
    return fields[0], int(fields[19])


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child (the pytest fixture case)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(proc: Proc) -> bool:
    """Same pid, same start time, not a zombie."""
    _reap(proc.pid)
    stat = _proc_stat(proc.pid)
    return stat is not None and stat[1] == proc.start_time and stat[0] not in ("Z", "X")


_CHILDREN: list[subprocess.Popen[bytes]] = []


def _log_tail(path: str | Path, lines: int = 25) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _start(state: State, name: str, args: Sequence[str], logs: Path) -> Proc:
    """Start one component in its own session so it outlives the `up` command."""
    binary = bin_dir() / name
    log = logs / f"{name}.log"
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            [str(binary), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=state.run_dir,
            start_new_session=True,
            env={**os.environ, "GOMAXPROCS": "2"},
        )
    _CHILDREN.append(popen)  # keep it referenced: no "still running" ResourceWarning on GC
    stat = _proc_stat(popen.pid)
    proc = Proc(name, popen.pid, stat[1] if stat else 0, str(binary), str(log))
    state.procs.append(proc)
    state.save()
    return proc


def _stop(procs: Sequence[Proc], timeout: float = 20.0) -> list[str]:
    """SIGTERM each (reverse start order), SIGKILL what is left; return names still alive."""
    for proc in reversed(procs):
        if is_alive(proc):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            _wait_until(lambda p=proc: not is_alive(p), timeout, f"{proc.name} to exit", quiet=True)
        if is_alive(proc):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            _wait_until(lambda p=proc: not is_alive(p), 5.0, f"{proc.name} to die", quiet=True)
    return [p.name for p in procs if is_alive(p)]


def _stray_procs() -> list[Proc]:
    """Our binaries still running from our run dir without a state entry (state lost)."""
    found: list[Proc] = []
    bins = bin_dir().resolve()
    rdir = run_dir().resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = Path(os.readlink(entry / "exe"))
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if exe.parent == bins and cwd == rdir:
            stat = _proc_stat(int(entry.name))
            if stat:
                found.append(Proc(exe.name, int(entry.name), stat[1], str(exe), ""))
    return found


# --------------------------------------------------------------------------- waiting


class StartError(LabError):
    """A component exited or did not become ready in time; the message has its log tail."""


def _wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    proc: Proc | None = None,
    quiet: bool = False,
) -> bool:
    """Poll ``check`` until true; fail fast if ``proc`` died. No fixed sleeps: a deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001 - a failing probe just means "not yet"
            pass
        if proc is not None and not is_alive(proc):
            raise StartError(
                f"{proc.name} exited while waiting for {what}; last log lines:\n"
                f"{_log_tail(proc.log)}",
                fix=f"read {proc.log}",
            )
        if time.monotonic() >= deadline:
            if quiet:
                return False
            tail = f"; last log lines:\n{_log_tail(proc.log)}" if proc else ""
            raise StartError(
                f"timed out after {timeout:.0f}s waiting for {what}{tail}",
                fix=f"read the logs in {run_dir() / 'logs'}",
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


class _Api:
    """Tiny HTTPS client for `up`/`status`, so starting needs no kubernetes import."""

    def __init__(self, pki: Path) -> None:
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self.base = f"https://{HOST}:{ports().apiserver}"

    def request(self, method: str, path: str, body: Any = None, timeout: float = 5.0) -> Any:
        """JSON in, JSON (or text) out; raises urllib errors on non-2xx."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as resp:
            text = resp.read().decode()
        try:
            return json.loads(text)
        except ValueError:
            return text


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    """GET a health endpoint; components' self-signed serving certs are not verified."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(url, context=ctx, timeout=timeout) as resp:
        return resp.status == 200 and resp.read().strip() == b"ok"


def _etcd_healthy() -> bool:
    url = f"http://{HOST}:{ports().etcd_client}/health"
    with urllib.request.urlopen(url, timeout=2.0) as resp:
        return json.loads(resp.read()).get("health") == "true"


def _nodes_ready(api: _Api) -> bool:
    """All our nodes exist, report Ready=True, and carry no taints (so pods schedule)."""
    items = {n["metadata"]["name"]: n for n in api.request("GET", "/api/v1/nodes")["items"]}
    for node_name in NODE_NAMES:
        node = items.get(node_name)
        if node is None or node.get("spec", {}).get("taints"):
            return False
        conditions = node.get("status", {}).get("conditions") or []
        if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            return False
    return True


def _node_manifest(node_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node_name,
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": node_name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/agent": "",
                "app.kubernetes.io/managed-by": "milvus-lab",
            },
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
    }


# --------------------------------------------------------------------------- up / down


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialise up/down of one run dir (two pytest sessions, or a user and CI)."""
    run_dir().mkdir(parents=True, exist_ok=True)
    with open(run_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def is_running() -> bool:
    """Every recorded process alive and the API server ready."""
    state = State.load()
    if state is None or len(state.procs) != len(BINARIES):
        return False
    if not all(is_alive(p) for p in state.procs):
        return False
    try:
        return _Api(run_dir() / "pki").request("GET", "/readyz", timeout=3.0) == "ok"
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


def up(timeout: float = 180.0, verbose: bool = True) -> Path:
    """Start the control plane and two KWOK nodes; return the kubeconfig path.

    Idempotent: a healthy running testenv is left as it is.
    """
    with _locked():
        if is_running():
            if verbose:
                print(f"kube-testenv already running; kubeconfig: {kubeconfig_path()}")
            return kubeconfig_path()
        _down_locked(verbose=False)  # remove what is left of a half-dead run
        missing = missing_binaries()
        if missing:
            raise PrerequisiteError(
                f"kube-testenv {K8S_VERSION} is not built: missing {', '.join(missing)} "
                f"in {bin_dir()}",
                fix=f"run {BUILD_COMMAND} (cold build takes a while; cached afterwards)",
            )
        busy = {n: p for n, p in ports().all().items() if _port_in_use(p)}
        if busy:
            listing = ", ".join(f"{HOST}:{p} ({n})" for n, p in busy.items())
            raise PrerequisiteError(
                f"ports needed by kube-testenv are in use: {listing}",
                fix=f"run `{DOWN_COMMAND}`, or stop what listens there (ss -ltnp)",
            )
        return _up_locked(timeout, verbose)


def _up_locked(timeout: float, verbose: bool) -> Path:
    started = time.monotonic()
    rdir = run_dir()
    pki, logs, data = rdir / "pki", rdir / "logs", rdir / "etcd-data"
    for d in (pki, logs, data):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    data.chmod(0o700)
    _make_pki(pki)
    kcfg = kubeconfig_path()
    _write_kubeconfig(kcfg, pki, "admin", "milvus-lab-testenv-admin", CONTEXT)
    for stem in ("controller-manager", "scheduler"):
        _write_kubeconfig(rdir / f"{stem}.kubeconfig", pki, stem, stem, stem)
    (rdir / "kwok.yaml").write_text(
        "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n"
    )

    state = State(version=K8S_VERSION, run_dir=str(rdir), kubeconfig=str(kcfg))
    state.save()
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(1.0, deadline - time.monotonic())

    def say(msg: str) -> None:
        if verbose:
            print(f"[{time.monotonic() - started:5.1f}s] {msg}", flush=True)

    try:
        p = _start(state, "etcd", _etcd_args(data), logs)
        _wait_until(_etcd_healthy, left(), "etcd /health", proc=p)
        say(f"etcd ready on {HOST}:{ports().etcd_client}")

        p = _start(state, "kube-apiserver", _apiserver_args(pki, rdir), logs)
        api = _Api(pki)
        _wait_until(
            lambda: api.request("GET", "/readyz") == "ok", left(), "kube-apiserver /readyz", proc=p
        )
        say(f"kube-apiserver ready on https://{HOST}:{ports().apiserver}")

        comps = [
            (
                "kube-controller-manager",
                _controller_manager_args(pki, rdir),
                ports().controller_manager,
            ),
            ("kube-scheduler", _scheduler_args(rdir), ports().scheduler),
        ]
        for name, args, port in comps:
            p = _start(state, name, args, logs)
            _wait_until(
                lambda port=port: _http_ok(f"https://{HOST}:{port}/healthz"),
                left(),
                f"{name} /healthz",
                proc=p,
            )
            say(f"{name} healthy")

        p = _start(state, "kwok", _kwok_args(kcfg, rdir), logs)
        for node_name in NODE_NAMES:
            api.request("POST", "/api/v1/nodes", _node_manifest(node_name))
        _wait_until(
            lambda: _nodes_ready(api),
            left(),
            f"nodes {', '.join(NODE_NAMES)} Ready without taints",
            proc=p,
        )
        if not all(is_alive(x) for x in state.procs):
            dead = [x.name for x in state.procs if not is_alive(x)]
            raise StartError(f"components exited during start: {dead}", fix=f"read {logs}")
        say(f"{len(NODE_NAMES)} KWOK nodes Ready; kubeconfig: {kcfg} (context {CONTEXT})")
    except BaseException:
        _stop(state.procs)
        _state_path().unlink(missing_ok=True)
        raise
    return kcfg


def _etcd_args(data: Path) -> list[str]:
    client = f"http://{HOST}:{ports().etcd_client}"
    peer = f"http://{HOST}:{ports().etcd_peer}"
    return [
        "--name=default",
        f"--data-dir={data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        "--initial-cluster-state=new",
        # A throwaway store: skip fsync (disks are shared and slow), keep it small.
        "--unsafe-no-fsync=true",
        "--quota-backend-bytes=1073741824",
        "--log-level=warn",
    ]


def _apiserver_args(pki: Path, rdir: Path) -> list[str]:
    return [
        f"--advertise-address={HOST}",
        f"--bind-address={HOST}",
        f"--secure-port={ports().apiserver}",
        f"--etcd-servers=http://{HOST}:{ports().etcd_client}",
        f"--cert-dir={rdir / 'apiserver-certs'}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
        f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
        # PodSecurity, ServiceAccount, NamespaceLifecycle... are on by default.
        "--enable-admission-plugins=NodeRestriction",
        # Privileged pods are allowed by the server so Pod Security Admission decides.
        "--allow-privileged=true",
        # The "kubernetes" Service would point at 127.0.0.1, which Endpoints reject.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        "--v=1",
    ]


def _component_common(kubeconfig: Path, port: int, rdir: Path, name: str) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={HOST}",
        f"--secure-port={port}",
        f"--cert-dir={rdir / (name + '-certs')}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]


def _controller_manager_args(pki: Path, rdir: Path) -> list[str]:
    return [
        *_component_common(
            rdir / "controller-manager.kubeconfig",
            ports().controller_manager,
            rdir,
            "controller-manager",
        ),
        "--cluster-name=milvus-lab-testenv",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        # Each controller uses its own service account, as in a real cluster (RBAC for real).
        "--use-service-account-credentials=true",
        "--controllers=*",
        "--concurrent-deployment-syncs=5",
    ]


def _scheduler_args(rdir: Path) -> list[str]:
    return _component_common(rdir / "scheduler.kubeconfig", ports().scheduler, rdir, "scheduler")


def _kwok_args(kcfg: Path, rdir: Path) -> list[str]:
    return [
        f"--kubeconfig={kcfg}",
        f"--config={rdir / 'kwok.yaml'}",
        "--manage-all-nodes=true",
        # Loopback node address: nothing may ever send traffic to a fake node or pod.
        f"--node-ip={HOST}",
        f"--cidr={POD_CIDR}",
        "--node-lease-duration-seconds=40",
    ]


def down(verbose: bool = True) -> list[str]:
    """Stop exactly the processes `up` started; return names that would not die."""
    with _locked():
        return _down_locked(verbose)


def _down_locked(verbose: bool) -> list[str]:
    state = State.load()
    procs = list(state.procs) if state else []
    known = {(p.pid, p.start_time) for p in procs}
    strays = [p for p in _stray_procs() if (p.pid, p.start_time) not in known]
    alive = [p for p in procs if is_alive(p)] + strays
    if not alive:
        _state_path().unlink(missing_ok=True)
        if verbose:
            print("kube-testenv is not running")
        return []
    still = _stop(alive)
    if not still:
        _state_path().unlink(missing_ok=True)
    if verbose:
        names = ", ".join(f"{p.name}({p.pid})" for p in alive)
        print(f"stopped {names}" + (f"; STILL RUNNING: {still}" if still else ""))
    return still


def status() -> dict[str, Any]:
    """Per-component liveness, API readiness and node readiness, for `status`."""
    state = State.load()
    report: dict[str, Any] = {
        "version": K8S_VERSION,
        "built": is_built(),
        "bin_dir": str(bin_dir()),
        "kubeconfig": str(kubeconfig_path()),
        "context": CONTEXT,
        "components": {},
        "api_ready": False,
        "nodes_ready": False,
    }
    if state is None:
        return report
    for p in state.procs:
        report["components"][p.name] = {"pid": p.pid, "alive": is_alive(p), "log": p.log}
    try:
        api = _Api(run_dir() / "pki")
        report["api_ready"] = api.request("GET", "/readyz", timeout=3.0) == "ok"
        report["nodes_ready"] = _nodes_ready(api)
    except Exception:  # noqa: BLE001 - status reports, it does not fail
        pass
    return report


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m milvus_lab.testing.kube_testenv up|down|status|kubeconfig``."""
    parser = argparse.ArgumentParser(
        prog="python -m milvus_lab.testing.kube_testenv",
        description="Local control plane (etcd, kube-apiserver, controller-manager, "
        "scheduler, KWOK nodes) for the kube tests. Build first: " + BUILD_COMMAND,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start (idempotent); prints the kubeconfig path")
    p_up.add_argument("--timeout", type=float, default=180.0, help="seconds (default 180)")
    sub.add_parser("down", help="stop exactly the processes `up` started")
    p_status = sub.add_parser("status", help="exit 0 when running and ready, 1 otherwise")
    p_status.add_argument("--json", action="store_true")
    sub.add_parser("kubeconfig", help="print the kubeconfig path")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            t0 = time.monotonic()
            path = up(timeout=args.timeout)
            print(f"kube-testenv up in {time.monotonic() - t0:.1f}s")
            print(f"export KUBECONFIG={path}  # context {CONTEXT}")
            return 0
        if args.command == "down":
            return 1 if down() else 0
        if args.command == "status":
            report = status()
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                print(
                    f"kube-testenv {report['version']}: built={report['built']} "
                    f"api_ready={report['api_ready']} nodes_ready={report['nodes_ready']}"
                )
                for name, comp in report["components"].items():
                    print(f"  {name:<24} pid={comp['pid']:<8} alive={comp['alive']}")
                print(f"  kubeconfig: {report['kubeconfig']} (context {report['context']})")
            return 0 if report["api_ready"] and report["nodes_ready"] else 1
        print(kubeconfig_path())
        return 0
    except LabError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
