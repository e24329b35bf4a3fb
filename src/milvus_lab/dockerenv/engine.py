"""A private Docker Engine for tests and CI: our own dockerd, data root, socket and pid file.

Why: the compose target and the "Milvus in a container" tests need a real engine, and CI
machines have none. Debian's ``docker.io`` (20.10) runs here as root; it is started with
its own directories under ``~/.cache/milvus-lab/docker`` (outside the repo) so it never
touches a Docker the user already runs (``/var/run/docker.sock`` is never used), with
``--iptables=false --bridge=none``: containers use host networking and every port they
open is reached on 127.0.0.1.

CLI: ``python -m milvus_lab.dockerenv up|down|status|env``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from milvus_lab.errors import PrerequisiteError
from milvus_lab.processes import stat_fields

APT_PACKAGES = ("docker.io", "runc", "mmdebstrap")
INSTALL_COMMAND = "apt-get update && apt-get install -y " + " ".join(APT_PACKAGES)
UP_COMMAND = "python -m milvus_lab.dockerenv up"
DOWN_COMMAND = "python -m milvus_lab.dockerenv down"


def cache_root() -> Path:
    """Where the engine keeps everything (MILVUS_LAB_DOCKER_ROOT overrides)."""
    raw = os.environ.get("MILVUS_LAB_DOCKER_ROOT")
    if raw:
        return Path(raw).expanduser().resolve()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "milvus-lab" / "docker"


@dataclass(frozen=True)
class EnginePaths:
    """The engine's own files; nothing shared with a system Docker."""

    root: Path

    @property
    def data_root(self) -> Path:
        return self.root / "data"

    @property
    def exec_root(self) -> Path:
        # Kept short: containerd's socket path must stay under the 108-byte unix limit.
        return self.root / "run"

    @property
    def socket(self) -> Path:
        return self.root / "run" / "docker.sock"

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "dockerd.pid"

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"


def paths() -> EnginePaths:
    return EnginePaths(cache_root())


def _pid(p: EnginePaths) -> int | None:
    try:
        pid = int(p.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def answers(docker_host: str, timeout: float = 5.0) -> str | None:
    """The server version when an engine answers at ``docker_host``, else None."""
    try:
        import docker
    except ImportError as err:  # the `docker` extra is missing
        raise PrerequisiteError("the docker SDK is not installed",
                                fix='pip install -e ".[docker]"') from err
    try:
        client = docker.DockerClient(base_url=docker_host, timeout=int(max(timeout, 1)))
        try:
            return str(client.version().get("Version", "?"))
        finally:
            client.close()
    except Exception:  # any connection or API failure means "does not answer"
        return None


def ensure_installed() -> None:
    """Install Debian's docker.io, runc and mmdebstrap when dockerd is missing (root only)."""
    if shutil.which("dockerd") and shutil.which("runc") and shutil.which("mmdebstrap"):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PrerequisiteError("dockerd/runc/mmdebstrap are not installed and this is not a root "
                                "Debian machine", fix=f"sudo sh -c '{INSTALL_COMMAND}'")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *APT_PACKAGES], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def dockerd_argv(p: EnginePaths) -> list[str]:
    """dockerd with its own directories, no iptables, no default bridge, runc."""
    return [
        "dockerd",
        "--data-root", str(p.data_root),
        "--exec-root", str(p.exec_root / "exec"),
        "--host", p.docker_host,
        "--pidfile", str(p.pidfile),
        "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
        "--bridge=none",
        "--default-runtime=runc",
        "--storage-driver=overlay2",
        # Containers never restart on their own once this engine stops.
        "--live-restore=false",
    ]


def up(timeout: float = 60.0) -> EnginePaths:
    """Start our dockerd (or reuse it when it already answers) and wait until it answers."""
    p = paths()
    if _pid(p) and answers(p.docker_host):
        return p
    ensure_installed()
    for d in (p.data_root, p.exec_root):
        d.mkdir(parents=True, exist_ok=True)
    stale = _pid(p)
    if stale:
        raise PrerequisiteError(f"dockerd pid {stale} ({p.pidfile}) runs but does not answer",
                                fix=f"{DOWN_COMMAND}, then {UP_COMMAND}; log: {p.log}")
    p.socket.unlink(missing_ok=True)
    env = dict(os.environ)
    env.pop("DOCKER_HOST", None)
    with open(p.log, "ab") as log:
        proc = subprocess.Popen(dockerd_argv(p), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PrerequisiteError(f"dockerd exited with {proc.returncode}",
                                    fix=f"read {p.log}")
        if p.socket.exists() and answers(p.docker_host, timeout=2):
            return p
        time.sleep(0.3)
    raise PrerequisiteError(f"dockerd did not answer within {timeout:.0f} s", fix=f"read {p.log}")


def _descendants(pid: int) -> list[int]:
    """Child pids (containerd, shims) so `down` can prove nothing is left."""
    out: list[int] = []
    todo = [pid]
    while todo:
        cur = todo.pop()
        try:
            kids = Path(f"/proc/{cur}/task/{cur}/children").read_text().split()
        except OSError:
            continue
        out.extend(int(k) for k in kids)
        todo.extend(int(k) for k in kids)
    return out


def down(timeout: float = 60.0) -> bool:
    """Stop our dockerd and everything it started. True when one was running."""
    p = paths()
    pid = _pid(p)
    if pid is None:
        return False
    if answers(p.docker_host, timeout=3):
        _stop_containers(p.docker_host)
    family = [pid, *_descendants(pid)]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(x) for x in family):
        time.sleep(0.2)
    for x in family:
        if _alive(x):
            os.kill(x, signal.SIGKILL)
    p.pidfile.unlink(missing_ok=True)
    _unmount_leftovers(p.exec_root)
    return True


def _mounts_under(root: Path) -> list[str]:
    """Mount points below `root` (deepest first), from /proc/self/mounts."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = str(root.resolve()) + "/"
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return sorted((m for m in points if m.startswith(prefix)), key=len, reverse=True)


def _unmount_leftovers(root: Path) -> None:
    """dockerd leaves its default network namespace (nsfs) mounted under the exec root after
    it stops; unmount it so `down` leaves nothing behind (best effort: needs root)."""
    for point in _mounts_under(root):
        subprocess.run(["umount", point], capture_output=True, check=False, timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has exited
        return stat_fields(Path(f"/proc/{pid}/stat"))[0] != "Z"
    except OSError:
        return False


def _stop_containers(docker_host: str) -> None:
    import docker

    client = docker.DockerClient(base_url=docker_host, timeout=60)
    try:
        for c in client.containers.list():
            c.stop(timeout=15)
    finally:
        client.close()


def status() -> str:
    p = paths()
    pid = _pid(p)
    version = answers(p.docker_host) if pid else None
    if version:
        return f"up: dockerd {version}, pid {pid}, DOCKER_HOST={p.docker_host}, data root {p.data_root}"
    if pid:
        return f"running but not answering: pid {pid} (log {p.log})"
    return f"down (start: {UP_COMMAND})"
