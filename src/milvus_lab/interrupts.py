"""Ctrl-C and SIGTERM as exceptions, so a run always gets to clean up after itself.

Why: SIGTERM's default ends Python on the spot. `kill`, `timeout`, systemd and a cancelled CI
job all send it, and the Milvus server, replicas and router a run had started outlived it,
holding their ports. Raised as an exception instead, it unwinds through the same `finally`
clean-up as Ctrl-C; only the exit code tells them apart (130 Ctrl-C, 143 SIGTERM, as a shell
reports a process ended by either signal).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every clean-up that handles one handles both."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


def interrupt_on_stop_signals() -> None:
    """Ctrl-C raises KeyboardInterrupt and SIGTERM raises Terminated (main thread only).

    Ctrl-C is set explicitly too: a shell that starts us in the background (`cmd &`) leaves
    SIGINT ignored, and a learner's Ctrl-C must still interrupt.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _raise_terminated)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a process that signal ended."""
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


def cause(interrupt: KeyboardInterrupt) -> str:
    return "SIGTERM" if isinstance(interrupt, Terminated) else "Ctrl-C"


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then deliver them.

    Why: a child spawned but not yet recorded is invisible to the run's clean-up, so an
    interrupt that lands between the spawn and the record leaves a server running untracked,
    holding its port (CI: every later lab 03 run in that state dir said "port ... is in use").
    Only the main thread receives signals, so elsewhere there is nothing to hold.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: caught.append(signum))
                for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):  # each signal once, in the order they came
            handler = previous[signal.Signals(sig)]
            if callable(handler):
                handler(sig, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), sig)
