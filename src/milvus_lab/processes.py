"""Background processes we own (Milvus Lite server, API replicas, router), tracked by pid file.

Each process gets `.milvus-lab/run/<name>.json` (pid, port, argv, extra facts) and a log in
`.milvus-lab/logs/<name>.log`. Stopping only ever signals a pid whose command line still
matches what we started, so a recycled pid never kills someone else's process.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from milvus_lab.errors import PrerequisiteError
from milvus_lab.interrupts import interrupts_deferred
from milvus_lab.polling import poll_until
from milvus_lab.settings import Settings


@dataclass
class ProcessRecord:
    """What we know about one process we started."""

    name: str
    pid: int
    port: int
    argv: list[str]
    log: str
    started: float = field(default_factory=time.time)
    extra: dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return pid_matches(self.pid, self.argv)


def run_dir(settings: Settings) -> Path:
    d = settings.state_dir / "run"
    d.mkdir(parents=True, exist_ok=True)
    return d


def record_path(settings: Settings, name: str) -> Path:
    return run_dir(settings) / f"{name}.json"


def read_record(settings: Settings, name: str) -> ProcessRecord | None:
    path = record_path(settings, name)
    if not path.is_file():
        return None
    try:
        return ProcessRecord(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        path.unlink(missing_ok=True)  # a torn write: nothing to stop, nothing to keep
        return None


def list_records(settings: Settings, prefix: str = "") -> list[ProcessRecord]:
    """Our process records; none when the run directory does not exist (or is not a
    directory: `doctor` reports an unusable state dir instead of crashing on it)."""
    directory = settings.state_dir / "run"
    if not directory.is_dir():
        return []
    records = []
    for path in sorted(directory.glob(f"{prefix}*.json")):
        rec = read_record(settings, path.stem)
        if rec:
            records.append(rec)
    return records


def ports_of_our_processes(settings: Settings) -> dict[int, str]:
    """Ports our live processes hold (port -> process name): each one's main port and every
    port on its command line (the router's control port is only in its argv)."""
    ours: dict[int, str] = {}
    for rec in list_records(settings):
        if not rec.alive():
            continue
        ours[rec.port] = rec.name
        for token in rec.argv:
            value = token.rsplit("=", 1)[-1].rsplit(":", 1)[-1]
            if value.isdigit():
                ours.setdefault(int(value), rec.name)
    return ours


EXEC_SETTLE_S = 2.0  # how long an exec may take to lay out the new command line
PF_KTHREAD = 0x00200000  # /proc/<pid>/stat flags bit of a kernel thread (never ours)


def pid_matches(pid: int, argv: list[str]) -> bool:
    """True when `pid` is alive and runs the command we started (not a recycled pid)."""
    try:
        text = _arguments(pid)
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): trust the pid
    if not text and _may_be_mid_exec(pid):
        text = _arguments_after_exec(pid)
    # the interpreter path may differ (symlinks), and a console script shows up as
    # `python <script> args...`: compare the arguments after the program
    return bool(text) and (text[1:] == argv[1:] or text[2:] == argv[1:])


def _arguments(pid: int) -> list[str]:
    """`pid`'s command line as the kernel shows it (empty: a kernel thread, a zombie, or an
    exec in progress); OSError when there is no such process or no /proc."""
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return [c.decode(errors="replace") for c in cmdline if c]


def _may_be_mid_exec(pid: int) -> bool:
    """True for a live user process whose new command line is not laid out yet.

    Why: `Popen` returns once exec has closed the spawner's pipe, and the kernel writes the
    new argv a moment later; in between `/proc/<pid>/cmdline` is empty. Seen in CI, under
    load: a child recorded that instant looked dead, so a Ctrl-C's clean-up dropped its
    record without stopping it. Zombies and kernel threads also show no command line, for
    good: they are not waited for.
    """
    try:
        fields = stat_fields(Path(f"/proc/{pid}/stat"))
        return fields[0] != "Z" and not int(fields[6]) & PF_KTHREAD
    except (OSError, IndexError, ValueError):
        return False


def stat_fields(stat_file: Path) -> list[str]:
    """The fields of a `/proc/<pid>[/task/<tid>]/stat` file after the command name: the state
    letter first, then ppid, ... (proc(5) field 3 onward).

    Why split at the last ") ": the command name is in parentheses and may hold ") " itself.
    """
    return stat_file.read_text().rsplit(") ", 1)[1].split()


def pid_running(pid: int) -> bool:
    """True when some thread of `pid` is not a zombie.

    Not just the leader's state: a process whose main thread exited shows "Z" while its
    other threads still run (Milvus Lite shuts down that way, port and LOCK still held).
    """
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for task in tasks:
        try:
            if stat_fields(task / "stat")[0] != "Z":
                return True
        except (OSError, IndexError):
            continue  # that thread just ended
    return False


def _arguments_after_exec(pid: int) -> list[str]:
    """The command line once the exec in progress has laid it out; empty if it never does
    (the process ended, or it was not an exec) within `EXEC_SETTLE_S`."""
    try:
        return poll_until(lambda: _arguments(pid), timeout=EXEC_SETTLE_S,
                          what=f"the command line of pid {pid}", fix="none: it is not ours",
                          failed=lambda: None if _may_be_mid_exec(pid) else "it has none",
                          first_interval=0.002, interval=0.05, retry_on=(OSError,))
    except PrerequisiteError:
        return []


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
EPHEMERAL_DEFAULT = (32768, 60999)  # Linux's default; macOS starts at 49152
# above our own pinned ports (Milvus 19530.., the standalone engine 19540..19591, the kube
# testenv 16443..24100 with its largest offset), below the kernel's ephemeral range
PORT_RANGE_LOW = 24_200
_handed_out: set[int] = set()  # ports this process gave out: never twice in one run


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands to outgoing connections (and to bind-to-0)."""
    try:
        low, high = (int(x) for x in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return EPHEMERAL_DEFAULT
    return low, high


def _bindable(port: int) -> bool:
    """Free on every interface, checked by a plain bind (no SO_REUSEADDR), as Milvus's launcher
    checks it: a port still in TIME_WAIT counts as taken; the binary's gRPC servers listen on
    0.0.0.0."""
    for host in ("127.0.0.1", "0.0.0.0"):  # noqa: S104 - only probing, closed at once
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def free_port_block(count: int, avoid: Iterable[int] = (), low: int = PORT_RANGE_LOW,
                    high: int | None = None) -> int:
    """First port of `count` consecutive ports that are free now, below the ephemeral range.

    Why not bind to 0: that port comes from the ephemeral range, which the kernel also gives
    to every outgoing connection, so a port chosen now and listened on a minute later (a
    lab's router) can be taken in between by some client's socket (CI: "port 46811 is in use
    by a process that is not our router"). A port is never handed out twice by one process
    (a Milvus that just stopped leaves its ports in TIME_WAIT), nor is one in `avoid`.
    """
    top = min(high or 65535, ephemeral_range()[0] - 1)
    if top - low < count * 4:
        raise PrerequisiteError(
            f"no room for {count} port(s) between {low} and the kernel's ephemeral range "
            f"({ephemeral_range()[0]}..)",
            fix="raise the start of net.ipv4.ip_local_port_range (e.g. `sysctl -w "
                "net.ipv4.ip_local_port_range='32768 60999'`)",
        )
    if len(_handed_out) > (top - low) // 2:
        _handed_out.clear()  # a very long run: ports handed out long ago are long released
    avoided = _handed_out | set(avoid)
    rng = random.Random()  # noqa: S311 - spreading parallel runs, not security
    for _ in range(1000):
        base = rng.randrange(low, top - count + 1)
        block = range(base, base + count)
        if not avoided.intersection(block) and all(_bindable(p) for p in block):
            _handed_out.update(block)
            return base
    raise PrerequisiteError(f"no {count} consecutive free ports in {low}..{top}",
                            fix="stop some of the services listening on this machine")


def free_port(avoid: Iterable[int] = ()) -> int:
    """One free port below the kernel's ephemeral range (see `free_port_block`)."""
    return free_port_block(1, avoid)


def free_ports(count: int, avoid: Iterable[int] = ()) -> list[int]:
    """`count` distinct free ports, none in `avoid`."""
    avoided = list(avoid)  # read once: `avoid` may be an iterator
    ports: list[int] = []
    for _ in range(count):
        ports.append(free_port([*avoided, *ports]))
    return ports


def log_tail(path: str | Path, lines: int = 12) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_process(
    settings: Settings,
    name: str,
    argv: list[str],
    port: int,
    env: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
    cwd: Path | None = None,
    pass_fds: tuple[int, ...] = (),
) -> ProcessRecord:
    """Start `argv` detached (own session, survives the lab), log to a file, write its record.

    `pass_fds` are inherited by the child (a locked file there stays locked while it runs).
    """
    log = settings.path("logs", f"{name}.log")
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    with interrupts_deferred(), open(log, "wb") as out:  # fresh log per start: its tail explains this run
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=full_env, start_new_session=True, cwd=cwd or settings.repo_root,
            pass_fds=pass_fds,
        )
        rec = ProcessRecord(name=name, pid=proc.pid, port=port, argv=argv, log=str(log), extra=extra or {})
        tmp = record_path(settings, name).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(rec)))
        tmp.replace(record_path(settings, name))
    return rec


def wait_until(
    rec: ProcessRecord, ready: Callable[[], bool], timeout: float, what: str
) -> None:
    """Poll `ready()` until true; a process that exits or a timeout raises with its log tail."""

    def exited() -> str | None:
        if _running(rec.pid):
            return None
        return f"exited during start-up. Last log lines ({rec.log}):\n{log_tail(rec.log)}"

    not_ready = f"{what} did not become ready within {timeout:.0f}s"
    try:
        poll_until(ready, timeout=timeout, what=what, failed=exited, first_interval=0.05,
                   timeout_message=not_ready,
                   fix=f"read {rec.log}; then `milvus-lab down` and try again")
    except PrerequisiteError as exc:
        if exc.message.startswith(not_ready):
            exc.message += f". Last log lines:\n{log_tail(rec.log)}"
        raise


def _running(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    if not Path("/proc/self").exists():
        return True  # no /proc (macOS): the signal check is all there is
    return pid_running(pid)  # stopped only when every thread is a zombie


def stop_process(settings: Settings, name: str, grace: float = 10.0) -> bool:
    """SIGTERM (graceful: in-flight requests finish), then SIGKILL after `grace`; drop the record.

    Returns True when a live process was stopped.
    """
    rec = read_record(settings, name)
    if rec is None:
        return False
    stopped = False
    if rec.alive():
        with contextlib.suppress(OSError):
            os.killpg(rec.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while _running(rec.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _running(rec.pid):
            with contextlib.suppress(OSError):
                os.killpg(rec.pid, signal.SIGKILL)
            while _running(rec.pid):
                time.sleep(0.05)
        stopped = True
    record_path(settings, name).unlink(missing_ok=True)
    return stopped


def python_argv(*args: str) -> list[str]:
    """`python -m ...` with the interpreter running us, so venvs are respected."""
    return [sys.executable, *args]
