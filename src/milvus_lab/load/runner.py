"""Run Locust as a subprocess and follow it live (DESIGN.md section 6).

Locust monkey-patches the process with gevent, which breaks asyncio, grpc and the kube
client, so the lab process never imports it: it starts `python -m
milvus_lab.load.locust_main` (Locust plus the timeline recorder), tails the per-second
timeline while the run goes on, and parses the files Locust leaves in `out_dir`.

    with start_locust("loadtests/search_api.py", settings.router_url, users=5,
                      spawn_rate=5, run_time_s=60, out_dir=out) as run:
        ...                       # the lab switches traffic here
        run.mark("switch to green")
        run.wait()
    result = run.result()         # totals, history, marks, result.phases()
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import urlparse

from milvus_lab.errors import PrerequisiteError, VerificationFailed
from milvus_lab.interrupts import interrupts_deferred
from milvus_lab.load.locust_main import PARENT_ENV
from milvus_lab.load.result import LiveStats, LoadFiles, LoadResult, Mark
from milvus_lab.load.timeline import TIMELINE_ENV, TimelineReader
from milvus_lab.polling import poll_until

STARTUP_TIMEOUT_S = 60.0  # Locust import + locustfile load on a busy 2-core laptop
_DEFAULT_PORTS = {"http": 80, "https": 443, "grpc": 19530, "tcp": 19530}
_live_runs: weakref.WeakSet[LocustRun] = weakref.WeakSet()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(log is empty)"


def check_reachable(host: str, timeout_s: float = 2.0) -> None:
    """A TCP connect to the host URL; PrerequisiteError when nothing listens there."""
    url = urlparse(host if "://" in host else f"http://{host}")
    if not url.hostname:
        raise PrerequisiteError(f"load target {host!r} is not a URL",
                                fix="pass a URL such as http://127.0.0.1:8080")
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout_s):
            pass
    except OSError as e:
        raise PrerequisiteError(
            f"nothing answers at {host} ({url.hostname}:{port}: {e.strerror or e})",
            fix="start the services first (`milvus-lab up`), or check the host/port",
        ) from None


def _traceback_summary(lines: list[str], locustfile: Path) -> str | None:
    """`ExcType: message` plus where in the locustfile, from a Python traceback in the log."""
    if not any(ln.startswith("Traceback") for ln in lines):
        return None
    last = next((ln for ln in reversed(lines) if ln.strip() and not ln.startswith(" ")), None)
    if last is None:
        return None
    frames = [ln.strip() for ln in lines if ln.strip().startswith(f'File "{locustfile}"')]
    return f"{last}\n  {frames[-1]}" if frames else last


class LocustRun:
    """A running (or finished) Locust subprocess, its files, and the marks made during it."""

    def __init__(self, process: subprocess.Popen[bytes], argv: list[str], files: LoadFiles,
                 host: str, run_time_s: float | None) -> None:
        self.process = process
        self.argv = argv
        self.files = files
        self.host = host
        self.run_time_s = run_time_s
        self.launched = time.time()
        self._marks: list[Mark] = []
        self._reader = TimelineReader(files.timeline)
        self._lock = threading.Lock()
        _live_runs.add(self)

    # -- state --------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def marks(self) -> list[Mark]:
        return list(self._marks)

    def mark(self, label: str, t: float | None = None) -> Mark:
        """Record an event instant (default: now) for window stats and the plot."""
        mk = Mark(time.time() if t is None else t, label)
        with self._lock:
            self._marks.append(mk)
            with open(self.files.marks, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"t": mk.t, "label": mk.label}) + "\n")
        return mk

    def wait_for_traffic(self, seconds: float, timeout_s: float = 30.0) -> None:
        """Wait for the first answered request, then `seconds` of steady traffic (a baseline)."""
        try:
            poll_until(lambda: self.snapshot().total_requests > 0, timeout=timeout_s, interval=0.2,
                       what="Locust's first answered request",
                       failed=lambda: None if self.running else "Locust exited",
                       fix=f"read {self.files.log}; is {self.host} answering?")
        except PrerequisiteError as exc:
            exc.message += f". Last log lines ({self.files.log}):\n{_tail(self.files.log)}"
            raise
        time.sleep(seconds)

    def wait_for_answers(self, since: float, n: int = 20, timeout_s: float = 30.0) -> int:
        """Wait until this run recorded `n` answers after wall-clock `since`; return how many.

        Evidence instead of a fixed sleep (a busy laptop answers fewer per second): after a
        traffic switch, answers after `since` prove users are served by the new route, and
        requests in flight before it have drained. Raises `VerificationFailed` when Locust
        exits or the answers do not come within `timeout_s`.
        """
        def answered() -> int:
            seen = self.result().window(since, time.time() + 1, "since").requests
            return seen if seen >= n else 0

        return poll_until(answered, timeout=timeout_s, interval=0.25, error=VerificationFailed,
                          what=f"{n} answered searches after the last change",
                          failed=lambda: None if self.running else "Locust exited",
                          timeout_message=f"users got fewer than {n} answers in {timeout_s:g}s "
                                          "after the last change",
                          fix=f"read {self.files.log} and the API's logs: is the live route answering?")

    def snapshot(self, window_s: int = 3) -> LiveStats:
        """The latest per-second stats, read by tailing the timeline (cheap; thread-safe)."""
        with self._lock:
            data = self._reader.poll()
            return LiveStats.from_timeline(data, time.time(), self.running, window_s)

    # -- lifecycle ----------------------------------------------------------------------
    def _wait_started(self, timeout_s: float) -> None:
        def started() -> bool:
            with self._lock:
                return self._reader.poll().started is not None

        def exited() -> str | None:
            return None if self.running else f"exited during start-up (exit code {self.process.returncode})"

        try:
            poll_until(started, timeout=timeout_s, interval=0.1, what="Locust to start its test",
                       failed=exited, fix="")
        except PrerequisiteError as exc:
            self.stop()
            raise self._startup_error(exc.message) from None

    def _startup_error(self, what: str) -> PrerequisiteError:
        """The locustfile's own `error: ... / fix: ...` (config.exit_on_error), else the log tail."""
        lines = _tail(self.files.log, 300).splitlines()
        tail = "\n".join(lines[-15:])
        fix = (f"read {self.files.log}; try the locustfile by hand: "
               f"locust -f {self.argv[self.argv.index('-f') + 1]} --host {self.host} "
               "--headless -u 1 -t 5s")
        for i in range(len(lines) - 1, -1, -1):
            if lines[i].startswith("error: "):
                after = lines[i + 1].strip() if i + 1 < len(lines) else ""
                own_fix = after[len("fix: "):] if after.startswith("fix: ") else None
                return PrerequisiteError(f"{what}: {lines[i][len('error: '):]}", fix=own_fix or fix)
        crash = _traceback_summary(lines, Path(self.argv[self.argv.index("-f") + 1]))
        if crash:
            return PrerequisiteError(f"{what}: {crash}", fix=fix)
        return PrerequisiteError(f"{what}. Last lines of {self.files.log}:\n{tail}", fix=fix)

    def wait(self, timeout_s: float | None = None) -> int:
        """Wait for the run to end by itself (its run time); stop it if that takes too long."""
        if timeout_s is None:
            if self.run_time_s is None:
                raise ValueError("a run without run_time_s never ends by itself: call stop()")
            timeout_s = max(0.0, self.launched + self.run_time_s - time.time()) + 30.0
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return self.stop()

    def stop(self, timeout_s: float = 15.0) -> int:
        """Graceful stop (SIGTERM: Locust writes its stats), then SIGKILL after `timeout_s`."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)  # our own session, see Popen
                self.process.wait(timeout=10)
        _live_runs.discard(self)
        return int(self.process.returncode)

    def result(self) -> LoadResult:
        """Totals, history, marks and files; partial (no `stopped`) while still running."""
        with self._lock:
            data = self._reader.poll()
            return LoadResult.build(data, list(self._marks), self.files, self.process.poll())

    def __enter__(self) -> LocustRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_locust(
    locustfile: str | os.PathLike[str],
    host: str,
    users: int,
    spawn_rate: float,
    run_time_s: float | None,
    out_dir: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    *,
    check_host: bool = True,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
    extra_args: list[str] | None = None,
) -> LocustRun:
    """Start headless Locust in a subprocess; return once its test has started.

    `run_time_s=None` runs until `stop()`. `env` adds variables for the locustfile (e.g.
    MILVUS_LAB_EXPECT_VERSIONS). Files (log, timeline, marks, Locust's JSON and CSV) go to
    `out_dir`, replacing those of an earlier run there. A missing locustfile, a host where
    nothing listens, or a locustfile that fails to load is a PrerequisiteError.
    """
    path = Path(locustfile).resolve()
    if not path.is_file():
        raise PrerequisiteError(f"no locustfile at {path}",
                                fix="pass a file from loadtests/, e.g. loadtests/search_api.py")
    if users < 1 or spawn_rate <= 0 or (run_time_s is not None and run_time_s <= 0):
        raise PrerequisiteError(
            f"bad load shape: users={users}, spawn_rate={spawn_rate}, run_time_s={run_time_s}",
            fix="users >= 1, spawn_rate > 0, run_time_s > 0 (or None to run until stop())")
    if check_host:
        check_reachable(host)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    files = LoadFiles.in_dir(out)
    for old in (files.log, files.timeline, files.marks, files.json,
                *out.glob(f"{files.csv_prefix.name}_*.csv")):
        old.unlink(missing_ok=True)

    argv = [sys.executable, "-m", "milvus_lab.load.locust_main", "-f", str(path), "--headless",
            "--host", host, "--users", str(users), "--spawn-rate", f"{spawn_rate:g}",
            "--only-summary", "--json-file", str(files.json.with_suffix("")),
            "--csv", str(files.csv_prefix), "--stop-timeout", "2"]
    if run_time_s is not None:
        argv += ["--run-time", f"{max(1, round(run_time_s))}s"]
    argv += list(extra_args or [])
    full_env = {**os.environ, **(env or {}), TIMELINE_ENV: str(files.timeline),
                PARENT_ENV: str(os.getpid()), "PYTHONUNBUFFERED": "1"}
    # Ctrl-C is held until the run is registered, so the lab's clean-up can stop it
    with interrupts_deferred(), open(files.log, "ab") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=full_env, cwd=out, start_new_session=True,  # our Ctrl-C is ours to handle
        )
        run = LocustRun(process, argv, files, host, run_time_s)
    try:
        run._wait_started(startup_timeout_s)
    except BaseException:
        run.stop(timeout_s=5)
        raise
    return run


@atexit.register
def _stop_leftovers() -> None:
    """A lab that exits (or crashes) never leaves a Locust process behind."""
    for run in list(_live_runs):
        run.stop(timeout_s=5)
