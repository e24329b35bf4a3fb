"""The standalone engine's life cycle and the labs on it, against the real Milvus 2.3.5 binary.

Start/stop leave no process, port or lock behind; a restart keeps the data; a `kill -9`
is reported like a killed Milvus Lite; anything in the way is exit 2 with the fix. (Lab 03
on the engine: tests/test_labs.py.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from milvus_lab import processes
from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus import server, standalone
from milvus_lab.milvus.server import DependencyLost, _data_dir_holder
from milvus_lab.processes import pid_running
from milvus_lab.testing.labs import ROOT
from milvus_lab.testing.standalone_fixtures import (
    StandaloneServer,
    require_standalone,
    standalone_env,
    standalone_settings,
)

pytestmark = pytest.mark.slow


def _ports(server: StandaloneServer) -> list[int]:
    return list(standalone.StandalonePorts.from_settings(server.settings).named().values())


def test_stop_leaves_nothing_restart_keeps_data_kill9_is_reported(
        standalone_factory: Callable[..., StandaloneServer], tmp_path: Path) -> None:
    first = standalone_factory(home=tmp_path / "home")
    client = first.endpoint.client()
    client.create_collection("kept", dimension=4)
    client.insert("kept", [{"id": i, "vector": [float(i), 1.0, 0.0, 0.0]} for i in range(7)])
    client.flush("kept")
    client.close()

    assert standalone.stop_standalone(first.settings)
    assert not pid_running(first.pid)
    busy = [p for p in _ports(first) if processes.port_in_use(p)]
    assert not busy, f"ports still listening after stop: {busy}"
    assert _data_dir_holder(standalone.base_dir(first.settings)) is None, "LOCK still held"
    assert processes.read_record(first.settings, standalone.NAME) is None

    again = standalone.ensure_standalone(first.settings)  # same home, same ports
    assert again.started_now and again.pid != first.pid
    client = again.client()
    try:
        # our stop releases every loaded collection first (a loaded one can hang the stop in
        # QueryCoord), so the restarted server has it on disk but not in memory: load it
        client.load_collection("kept")
        assert client.query("kept", filter="id >= 0", output_fields=["id"], limit=100).__len__() == 7
    finally:
        client.close()

    assert again.pid is not None
    os.kill(again.pid, signal.SIGKILL)
    # SIGKILL is delivered asynchronously: a many-threaded binary takes a moment to die on a
    # busy machine, and until then it is still "running" (then it reads as a failed start)
    deadline = time.monotonic() + 30
    while pid_running(again.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_running(again.pid), "the binary outlived kill -9 by 30 s"
    with pytest.raises(DependencyLost) as lost:  # this process relied on it: lost mid-run, exit 1
        standalone.ensure_standalone(first.settings)
    assert lost.value.exit_code == 1 and f"pid {again.pid}" in lost.value.message
    assert "lost mid-run" in lost.value.message and "milvus-lab down" in (lost.value.fix or "")
    server.RELIED_ON.discard(again.pid)  # as a new run would see it: a leftover of a killed run
    with pytest.raises(PrerequisiteError) as stale:
        standalone.ensure_standalone(first.settings)
    assert "no longer running" in stale.value.message and "milvus-lab down" in (stale.value.fix or "")


def test_ports_in_the_way_and_a_locked_data_dir_are_exit_2(tmp_path: Path) -> None:
    require_standalone()
    settings = standalone_settings(tmp_path / "home")
    with socket.socket() as s:  # a stranger holds the metrics port
        s.bind(("127.0.0.1", settings.standalone_metrics_port))
        s.listen()
        with pytest.raises(PrerequisiteError) as busy:
            standalone.ensure_standalone(settings)
    assert "not our standalone Milvus" in busy.value.message and str(settings.standalone_metrics_port) in busy.value.message
    assert processes.read_record(settings, standalone.NAME) is None, "nothing may start"

    high = settings.with_(standalone_port=40_000)
    with pytest.raises(PrerequisiteError) as out_of_range:
        standalone.ensure_standalone(high)
    assert "out of range" in out_of_range.value.message

    base = standalone.base_dir(settings)
    base.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c",  # another process holds the data dir's LOCK
                               "import fcntl,sys,time; f=open(sys.argv[1],'w'); fcntl.flock(f, fcntl.LOCK_EX); "
                               "print('locked', flush=True); time.sleep(120)", str(base / "LOCK")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(PrerequisiteError) as locked:
            standalone.ensure_standalone(settings)
        assert "is locked by" in locked.value.message and str(holder.pid) in locked.value.message
    finally:
        holder.kill()
        holder.wait()


def test_cli_status_and_doctor_show_the_engine_without_secrets(
        standalone_factory: Callable[..., StandaloneServer]) -> None:
    server = standalone_factory(auth=True)
    env = {**os.environ, **standalone_env(server.settings), "COLUMNS": "200"}
    status = subprocess.run([sys.executable, "-m", "milvus_lab.cli", "status"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert "standalone (selected)" in status.stdout and "running" in status.stdout and "auth on" in status.stdout
    doctor = subprocess.run([sys.executable, "-m", "milvus_lab.cli", "doctor"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert "milvus==2.3.5" in doctor.stdout and "in use by our Milvus standalone" in doctor.stdout, doctor.stdout
    password = server.endpoint.token.split(":", 1)[1]
    assert password not in status.stdout + status.stderr + doctor.stdout + doctor.stderr


def test_every_category_filter_finds_hits_on_the_hnsw_candidate(
        standalone_factory: Callable[..., StandaloneServer]) -> None:
    """Lab 03's filtered searches on v2 (HNSW) never come back empty on Milvus 2.3.5
    (the defect and the probe: milvus_lab/testing/hnsw_probe.py)."""
    from milvus_lab.milvus.client import connect
    from milvus_lab.testing.hnsw_probe import probe_filtered_hnsw

    server = standalone_factory()
    probe = probe_filtered_hnsw(connect(standalone.uri(server.settings)))
    assert sum(probe.empty.values()) == 0, probe.message()


def test_a_stop_after_a_drop_is_a_clean_sigterm_stop(
        standalone_factory: Callable[..., StandaloneServer]) -> None:
    """Dropping a loaded collection on 2.3.5 left QueryCoord unable to stop: the next SIGTERM
    hung until our SIGKILL 30 s later. Our drop releases first, so the binary stops by itself
    (its clean stop ends with "panic: context canceled" after every component stopped)."""
    from milvus_lab.milvus import collections
    from milvus_lab.milvus.client import connect

    server = standalone_factory()
    client = connect(standalone.uri(server.settings))
    client.create_collection("drop_probe", dimension=4)  # created loaded
    assert collections.drop_collection(client, "drop_probe")
    client.close()
    assert standalone.stop_standalone(server.settings)
    log = server.settings.path("logs", f"{standalone.NAME}.log").read_text(errors="replace")
    assert "panic: context canceled" in log, "the binary did not stop by itself: killed after the grace period"
