"""One run at a time per state directory.

Two labs sharing one Milvus, one router and one load directory both "pass" with
meaningless reports. The lock is an `fcntl.flock` on `.milvus-lab/run.lock`: the kernel
releases it when the holder dies (kill -9 included), so a killed run's lock is stale by
construction and the next run takes it over; the file's contents (pid, lab, since) name
the holder for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from milvus_lab.errors import PrerequisiteError
from milvus_lab.settings import Settings


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) the lock."""

    pid: int
    lab: str
    since: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"pid {self.pid} (lab {self.lab}, since {when})"


def lock_path(settings: Settings) -> Path:
    return settings.state_dir / "run.lock"


def read_holder(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text() or "null")
        return Holder(int(data["pid"]), str(data["lab"]), float(data["since"])) if data else None
    except (OSError, ValueError, TypeError, KeyError):
        return None


class RunLock:
    """Held while a lab (or `milvus-lab up`) uses the state directory."""

    def __init__(self, settings: Settings, lab: str) -> None:
        self.path = lock_path(settings)
        self.lab = lab
        self._fh: IO[str] | None = None
        self.took_over: Holder | None = None  # a killed run's lock we took over

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 (held open for the lock's lifetime)
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            holder = read_holder(self.path)
            who = holder.describe() if holder else "another run"
            raise PrerequisiteError(
                f"{self.path.parent} is in use by {who}",
                fix="wait for it to finish (or stop it), or give this run its own MILVUS_LAB_HOME",
            ) from None
        previous = read_holder(self.path)
        if previous is not None and previous.pid != os.getpid():
            self.took_over = previous  # its holder died without releasing: the kernel did it
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "lab": self.lab, "since": time.time()}))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is None:
            return
        with contextlib.suppress(OSError):
            self._fh.seek(0)
            self._fh.truncate()
            self._fh.flush()
        self._fh.close()  # closing the file releases the flock
        self._fh = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def run_lock(settings: Settings, lab: str) -> Iterator[RunLock]:
    """`with run_lock(settings, "03"):` the whole run; exit 2 naming the holder if taken."""
    with RunLock(settings, lab) as lock:
        yield lock
