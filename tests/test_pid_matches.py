"""`pid_matches` right after a spawn: an exec in progress shows an empty command line.

Seen in CI, under load: `Popen` had returned, `/proc/<pid>/cmdline` was still empty, and a
child recorded that instant looked dead, so the clean-up of a Ctrl-C dropped its record and
left it running. An exec cannot be paused at that point from a test, so the empty reads are
faked here (pure logic); the processes are real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from milvus_lab import processes
from milvus_lab.polling import poll_until

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture()
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen(SLEEPER)
    poll_until(lambda: processes._arguments(child.pid), timeout=30, what="the sleeper's exec",
               fix="none", first_interval=0.01)
    yield child
    child.kill()
    child.wait()


def test_an_empty_command_line_of_a_live_process_is_waited_out(
        sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    real = processes._arguments
    reads = iter([[], [], []])  # the exec has not laid out argv yet, three reads in a row
    monkeypatch.setattr(processes, "_arguments", lambda pid: next(reads, None) or real(pid))
    assert processes.pid_matches(sleeper.pid, SLEEPER)


def test_a_command_line_that_never_appears_is_not_ours(
        sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "_arguments", lambda pid: [])
    monkeypatch.setattr(processes, "EXEC_SETTLE_S", 0.2)
    assert not processes.pid_matches(sleeper.pid, SLEEPER)


def test_a_zombie_is_not_waited_for() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        poll_until(lambda: _state(child.pid) == "Z", timeout=30, what="the child's exit",
                   fix="none", first_interval=0.01)
        assert not processes._may_be_mid_exec(child.pid)
        assert not processes.pid_matches(child.pid, [sys.executable, "-c", "pass"])
    finally:
        child.wait()


def test_a_live_process_may_be_mid_exec_and_a_gone_one_is_not(
        sleeper: subprocess.Popen[bytes]) -> None:
    assert processes._may_be_mid_exec(sleeper.pid)
    sleeper.kill()
    sleeper.wait()
    assert not processes._may_be_mid_exec(sleeper.pid)
    assert not processes.pid_matches(sleeper.pid, SLEEPER)


def _state(pid: int) -> str:
    return processes.stat_fields(Path(f"/proc/{pid}/stat"))[0]


def test_stat_fields_split_after_a_command_name_holding_a_parenthesis(tmp_path: Path) -> None:
    odd = tmp_path / "a) b) c"  # the kernel shows the name as `(a) b) c)` in /proc/<pid>/stat
    odd.symlink_to(sys.executable)
    child = subprocess.Popen([str(odd), "-c", "import time; time.sleep(60)"])
    try:
        poll_until(lambda: processes._arguments(child.pid), timeout=30, what="the child's exec",
                   fix="none", first_interval=0.01)
        fields = processes.stat_fields(Path(f"/proc/{child.pid}/stat"))
        assert fields[0] in ("R", "S", "D"), fields[:3]
        assert int(fields[1]) == os.getpid()  # ppid: the field after the state
    finally:
        child.kill()
        child.wait()


LEADER_EXITS = """
import ctypes, threading, time
threading.Thread(target=time.sleep, args=(60,)).start()
ctypes.CDLL(None).pthread_exit(None)  # the main thread ends; the process lives on
"""


def test_a_process_whose_main_thread_exited_still_runs() -> None:
    """Milvus Lite shuts down this way (leader "Z", port still held): not yet stopped."""
    child = subprocess.Popen([sys.executable, "-c", LEADER_EXITS])
    try:
        poll_until(lambda: _state(child.pid) == "Z", timeout=30, what="the main thread's exit",
                   fix="none", first_interval=0.01)
        assert processes.pid_running(child.pid)
        child.kill()
        child.wait()
        assert not processes.pid_running(child.pid)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
