"""Checks that can be made before anything changes, made before anything changes.

The kit calls `preflight(settings)` before a lesson: a bad state directory or a port taken
by someone else is one message and exit 2 while nothing has moved
(no alias, no replica, no router).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from milvus_lab import processes
from milvus_lab.errors import PrerequisiteError
from milvus_lab.settings import Settings


def check_state_dir(settings: Settings) -> Path:
    """The state directory exists (or can be made) as a writable directory."""
    state = settings.state_dir
    fix = f"point MILVUS_LAB_HOME at a writable directory (now {state.parent})"
    for parent in (state, *state.parents):
        if parent.exists() and not parent.is_dir():
            raise PrerequisiteError(f"{parent} is a file, not a directory (state dir {state})", fix=fix)
        if parent.exists():
            break
    try:
        state.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise PrerequisiteError(f"state directory {state} is not writable ({exc.strerror})", fix=fix) from None
    if not os.access(state, os.W_OK | os.X_OK):
        raise PrerequisiteError(f"state directory {state} is not writable", fix=fix)
    return state


def check_ports(settings: Settings) -> None:
    """Each port we will listen on is free, or already held by our own process for it."""
    if settings.target != "local":
        return
    if settings.milvus == "standalone":
        wanted = {"standalone": settings.standalone_port, "standalone metrics": settings.standalone_metrics_port}
    else:
        wanted = {"milvus": settings.milvus_port}
    wanted |= {"router": settings.router_port, "router control": settings.router_control_port}
    ours = processes.ports_of_our_processes(settings)
    for owner, port in wanted.items():
        if port in ours or not processes.port_in_use(port):
            continue
        var = "MILVUS_LAB_" + owner.upper().replace(" ", "_") + "_PORT"
        raise PrerequisiteError(
            f"port {port} is in use by another process (wanted for the {owner})",
            fix=f"stop that process (`ss -ltnp 'sport = :{port}'` shows who), or export {var}=<a free port>",
        )


def preflight(settings: Settings) -> None:
    """Everything checkable before a lesson changes anything (PrerequisiteError = exit 2).

    (The exercise is checked by the kit when it loads it: `labkit.check_exercise`.)
    """
    settings.validate()
    check_state_dir(settings)
    check_ports(settings)
