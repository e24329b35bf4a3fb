"""The embedded Milvus: a real `milvus-lite server` gRPC process on 127.0.0.1.

Start it with its data in `.milvus-lab/milvus/`, wait until it answers, reuse a healthy
one, stop it by pid. Anything in the way (a foreign process on the port, a stale pid
file, a data dir locked by someone else) is one PrerequisiteError naming the fix.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from milvus_lab import processes
from milvus_lab.errors import PrerequisiteError, VerificationFailed
from milvus_lab.milvus.client import TlsClient, connect
from milvus_lab.polling import poll_until
from milvus_lab.settings import Settings

if TYPE_CHECKING:
    from pymilvus import MilvusClient

SERVER_NAME = "milvus-lite"


@dataclass(frozen=True)
class MilvusEndpoint:
    """Where a Milvus answers, how a client gets in, and whether we started it in this call.

    Both engines return one: `token` is set when authentication is on, `tls` when TLS is.
    """

    uri: str
    pid: int | None
    started_now: bool
    data_dir: Path | None
    token: str = ""
    tls: TlsClient | None = None
    engine: str = "lite"

    def client(self, timeout: float = 10.0, db_name: str = "") -> MilvusClient:
        """A MilvusClient with this endpoint's credentials; the caller closes it."""
        return connect(self.uri, token=self.token, tls=self.tls, db_name=db_name, timeout=timeout)


def data_dir(settings: Settings) -> Path:
    return settings.state_dir / "milvus" / "data"


def answers(uri: str, timeout: float = 2.0, token: str = "", tls: TlsClient | None = None) -> bool:
    """True when a Milvus gRPC endpoint answers a cheap call."""
    try:
        client = connect(uri, token=token, tls=tls, timeout=timeout)
    except Exception:
        return False
    try:
        client.list_collections(timeout=timeout)
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            client.close()


def _data_dir_holder(path: Path) -> str | None:
    """Who holds Milvus Lite's advisory lock on the data dir (None when free)."""
    lock = path / "LOCK"
    if not lock.exists():
        return None
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except OSError:
        pass
    finally:
        os.close(fd)  # before the scan below, or it would name this process as a holder too
    return _pids_with_open_file(lock) or "another process"


def refuse_locked_data_dir(path: Path, engine: str) -> None:
    """Create the data dir; exit 2 naming the holder when another Milvus has it locked."""
    path.mkdir(parents=True, exist_ok=True)
    holder = _data_dir_holder(path)
    if holder:
        raise PrerequisiteError(
            f"the {engine} data dir {path} is locked by {holder}",
            fix="stop the other Milvus that uses it (`milvus-lab down` if it is ours), "
                "or point MILVUS_LAB_HOME at another checkout",
        )


def _pids_with_open_file(path: Path) -> str | None:
    target = str(path.resolve())
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == target:
                        found.append(proc.name)
                        break
    return f"pid {', '.join(found)}" if found else None


# pids of the Milvus servers this process started or reused: if one of them dies, the run lost
# a dependency (exit 1); a dead pid from an earlier, killed run is only a leftover
RELIED_ON: set[int] = set()


class DependencyLost(VerificationFailed):
    """Something the run started and relies on died mid-run: the run failed (exit 1), it is
    not a missing prerequisite (exit 2). Says what was lost, when, and how to recover."""

    def __init__(self, message: str, fix: str, lost: str, detected_at: float) -> None:
        super().__init__(message, fix=fix)
        self.lost = lost
        self.detected_at = detected_at

    @classmethod
    def milvus(cls, rec: processes.ProcessRecord, engine: str) -> DependencyLost:
        now = time.time()
        started = time.strftime("%H:%M:%S", time.localtime(rec.started))
        return cls(
            f"{engine} (pid {rec.pid}, started {started}) was lost mid-run; noticed at "
            f"{time.strftime('%H:%M:%S', time.localtime(now))}. Last log lines ({rec.log}):\n"
            f"{processes.log_tail(rec.log, 5)}",
            fix="`milvus-lab down` then run the lab again: it restarts Milvus on the kept data and "
                "re-points the alias at a complete collection",
            lost="milvus", detected_at=now,
        )


def raise_if_lost(rec: processes.ProcessRecord, engine: str) -> None:
    """A dead server this process started or reused died under the run: DependencyLost (exit 1)."""
    if rec.pid in RELIED_ON:
        raise DependencyLost.milvus(rec, engine)


def server_argv(settings: Settings) -> list[str]:
    """`python -m milvus_lite server ...` with our interpreter: the same command line in
    /proc whether or not a venv is activated (a console script would show as `python <script>`)."""
    return processes.python_argv(
        "-m", "milvus_lite", "server", "--data-dir", str(data_dir(settings)),
        "--host", "127.0.0.1", "--port", str(settings.milvus_port),
    )


def ensure_server(settings: Settings, timeout: float = 60.0) -> MilvusEndpoint:
    """Reuse our healthy server, or start one; refuse anything ambiguous with exit code 2."""
    port = settings.milvus_port
    rec = processes.read_record(settings, SERVER_NAME)
    if rec is not None and not rec.alive():
        raise_if_lost(rec, "Milvus Lite")
        # a record left by an earlier run that was killed: nothing runs, the data is kept
        processes.record_path(settings, SERVER_NAME).unlink(missing_ok=True)
        rec = None
    if rec is not None:
        if rec.port != port:
            raise PrerequisiteError(
                f"our Milvus Lite runs on port {rec.port}, but port {port} was asked for",
                fix=f"`milvus-lab down` first, or set MILVUS_LAB_MILVUS_PORT={rec.port}",
            )
        processes.wait_until(rec, lambda: answers(settings.milvus_uri), timeout, "Milvus Lite")
        RELIED_ON.add(rec.pid)
        return MilvusEndpoint(settings.milvus_uri, rec.pid, False, data_dir(settings))

    if processes.port_in_use(port):
        raise PrerequisiteError(
            f"port {port} is in use by a process that is not our Milvus Lite server",
            fix=f"stop it (`ss -ltnp 'sport = :{port}'` shows who), or use another port: "
                f"MILVUS_LAB_MILVUS_PORT={port + 1}",
        )
    ddir = data_dir(settings)
    refuse_locked_data_dir(ddir, "Milvus Lite")
    rec = processes.start_process(settings, SERVER_NAME, server_argv(settings), port)
    RELIED_ON.add(rec.pid)
    processes.wait_until(rec, lambda: answers(settings.milvus_uri), timeout, "Milvus Lite")
    return MilvusEndpoint(settings.milvus_uri, rec.pid, True, ddir)


def stop_server(settings: Settings) -> bool:
    """Stop our server by pid (data kept). True when one was running."""
    return processes.stop_process(settings, SERVER_NAME, grace=15.0)


def wait_for_uri(uri: str, timeout: float = 30.0) -> None:
    """Wait for an external Milvus (compose/kube) to answer, or say how to start it."""
    poll_until(
        lambda: answers(uri), timeout=timeout, what=f"a Milvus answering at {uri}",
        timeout_message=f"no Milvus answers at {uri} (waited {timeout:.0f}s)",
        fix="start it (`docker compose up -d` for compose, `kind create cluster --config "
            "kind-config.yaml` + lab 01 for kube), or check MILVUS_LAB_MILVUS_HOST/PORT",
    )
