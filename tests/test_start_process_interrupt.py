"""Ctrl-C while a lab starts a server: the child is recorded before the interrupt is raised, so
the run's clean-up finds and stops it. Seen in CI: a Ctrl-C in lab 03's step 1 landed between
the spawn and the record, and an untracked Milvus Lite held the port for every later run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from milvus_lab import processes
from milvus_lab.interrupts import Terminated, interrupt_on_stop_signals, interrupts_deferred
from milvus_lab.testing.milvus_fixtures import new_lab_settings

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_right_after_the_spawn_still_leaves_a_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop_signal: signal.Signals) -> None:
    settings = new_lab_settings(tmp_path)
    real_popen = subprocess.Popen

    def popen_then_ctrl_c(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        child = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        os.kill(os.getpid(), stop_signal)  # Ctrl-C or `kill`, the instant the child exists
        return child

    monkeypatch.setattr(processes.subprocess, "Popen", popen_then_ctrl_c)
    interrupt_on_stop_signals()  # what lab_main and the test session do
    try:
        with pytest.raises(KeyboardInterrupt):
            processes.start_process(settings, "sleeper", SLEEPER, port=0)
        rec = processes.read_record(settings, "sleeper")
        assert rec is not None and rec.alive(), "the child outlived the interrupt with no record"
    finally:
        assert processes.stop_process(settings, "sleeper", grace=5.0)


def test_the_held_ctrl_c_is_delivered_when_the_block_ends() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    reached_the_end_of_the_block = False
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        reached_the_end_of_the_block = True
    assert reached_the_end_of_the_block
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_held_sigterm_is_delivered_as_terminated_when_the_block_ends() -> None:
    interrupt_on_stop_signals()
    with pytest.raises(Terminated), interrupts_deferred():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
