"""Milvus Lite server lifecycle with real processes: start, reuse, stop, and what gets in the way."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from milvus_lab import cli, processes
from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus import server
from milvus_lab.processes import pid_running
from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import MilvusServer


@pytest.fixture()
def held_port() -> Iterator[int]:
    """A port held by a foreign listening socket (not a Milvus)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_start_reuse_and_stop_by_pid(lab_settings: Settings) -> None:
    first = server.ensure_server(lab_settings)
    assert first.started_now and first.pid is not None
    assert first.uri == lab_settings.milvus_uri and server.answers(first.uri)
    rec = processes.read_record(lab_settings, server.SERVER_NAME)
    assert rec is not None and rec.pid == first.pid and rec.port == lab_settings.milvus_port
    assert Path(rec.log).is_file() and Path(rec.log).is_relative_to(lab_settings.state_dir)
    assert first.data_dir == lab_settings.state_dir / "milvus" / "data"
    assert str(first.data_dir) in Path(f"/proc/{first.pid}/cmdline").read_text().replace("\0", " ")

    second = server.ensure_server(lab_settings)
    assert not second.started_now and second.pid == first.pid  # healthy one reused

    assert server.stop_server(lab_settings) is True
    assert not pid_running(first.pid)
    assert processes.read_record(lab_settings, server.SERVER_NAME) is None
    assert not server.answers(lab_settings.milvus_uri, timeout=0.5)
    assert server.stop_server(lab_settings) is False  # nothing left to stop
    assert first.data_dir.is_dir()  # data kept


def test_restart_keeps_the_data(lab_settings: Settings) -> None:
    from pymilvus import MilvusClient

    server.ensure_server(lab_settings)
    client = MilvusClient(uri=lab_settings.milvus_uri, timeout=10)
    client.create_collection("kept", dimension=4)
    client.insert("kept", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
    client.flush("kept")
    client.close()
    assert server.stop_server(lab_settings)
    # stopped means stopped: port and data-dir LOCK free at once, so a restart cannot race
    assert not processes.port_in_use(lab_settings.milvus_port)
    with open(server.data_dir(lab_settings) / "LOCK", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(lock, fcntl.LOCK_UN)
    again = server.ensure_server(lab_settings)
    assert again.started_now
    client = MilvusClient(uri=lab_settings.milvus_uri, timeout=10)
    try:
        assert "kept" in client.list_collections()
    finally:
        client.close()


def test_port_held_by_a_foreign_socket(lab_settings: Settings, held_port: int) -> None:
    settings = lab_settings.with_(milvus_port=held_port)
    with pytest.raises(PrerequisiteError) as err:
        server.ensure_server(settings, timeout=10)
    assert err.value.exit_code == 2
    assert f"port {held_port} is in use" in err.value.message
    assert err.value.fix and "MILVUS_LAB_MILVUS_PORT" in err.value.fix and "ss -ltnp" in err.value.fix
    assert processes.list_records(settings) == []  # nothing started


def test_stale_pid_file_from_an_earlier_run_is_cleared_and_milvus_restarts(lab_settings: Settings) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    argv = server.server_argv(lab_settings)
    path = processes.record_path(lab_settings, server.SERVER_NAME)
    path.write_text(json.dumps({"name": server.SERVER_NAME, "pid": dead.pid,
                                "port": lab_settings.milvus_port, "argv": argv, "log": "x.log"}))
    endpoint = server.ensure_server(lab_settings)  # a killed earlier run is no reason to refuse
    assert endpoint.started_now and endpoint.pid != dead.pid
    assert processes.read_record(lab_settings, server.SERVER_NAME).pid == endpoint.pid  # type: ignore[union-attr]
    assert cli.main(["down"]) == 0


def test_milvus_lost_mid_run_is_a_failure_saying_what_and_when(lab_settings: Settings) -> None:
    endpoint = server.ensure_server(lab_settings)
    assert endpoint.pid is not None
    os.kill(endpoint.pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while pid_running(endpoint.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with pytest.raises(server.DependencyLost) as err:
        server.ensure_server(lab_settings, timeout=10)
    assert err.value.exit_code == 1 and err.value.lost == "milvus"
    assert f"pid {endpoint.pid}" in err.value.message and "lost mid-run" in err.value.message
    assert "noticed at" in err.value.message and "milvus-lab down" in (err.value.fix or "")
    assert cli.main(["down"]) == 0


def test_other_port_than_the_running_one(milvus_server: MilvusServer) -> None:
    other = milvus_server.settings.with_(milvus_port=milvus_server.settings.milvus_port + 1)
    with pytest.raises(PrerequisiteError) as err:
        server.ensure_server(other, timeout=5)
    assert f"runs on port {milvus_server.settings.milvus_port}" in err.value.message
    assert pid_running(milvus_server.pid)  # nothing stopped


def test_reuse_of_the_session_server(milvus_server: MilvusServer) -> None:
    endpoint = server.ensure_server(milvus_server.settings)
    assert not endpoint.started_now and endpoint.pid == milvus_server.pid


@pytest.fixture()
def lock_holder(lab_settings: Settings) -> Iterator[Callable[[], int]]:
    """Another process holding flock on `<data_dir>/LOCK` (as a second Milvus Lite would)."""
    procs: list[subprocess.Popen[str]] = []

    def hold() -> int:
        ddir = server.data_dir(lab_settings)
        ddir.mkdir(parents=True, exist_ok=True)
        code = ("import fcntl, sys, time\n"
                f"fd = open({str(ddir / 'LOCK')!r}, 'a')\n"
                "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
                "print('locked', flush=True)\n"
                "time.sleep(120)\n")
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        return proc.pid

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def test_locked_data_dir_names_the_holder(lab_settings: Settings,
                                           lock_holder: Callable[[], int]) -> None:
    holder = lock_holder()
    with pytest.raises(PrerequisiteError) as err:
        server.ensure_server(lab_settings, timeout=10)
    assert err.value.exit_code == 2
    assert err.value.message.endswith(f"is locked by pid {holder}")  # the holder, not us
    assert "MILVUS_LAB_HOME" in (err.value.fix or "")
    assert processes.read_record(lab_settings, server.SERVER_NAME) is None  # nothing started
    assert not processes.port_in_use(lab_settings.milvus_port)


def test_wait_for_an_absent_uri_says_how_to_start_it() -> None:
    port = processes.free_port()
    with pytest.raises(PrerequisiteError) as err:
        server.wait_for_uri(f"http://127.0.0.1:{port}", timeout=1.0)
    assert f"no Milvus answers at http://127.0.0.1:{port}" in err.value.message
    assert "docker compose up -d" in (err.value.fix or "")



def test_lab_settings_keep_state_and_ports_away_from_the_user(lab_settings: Settings,
                                                               tmp_path: Path) -> None:
    assert lab_settings.state_dir.is_relative_to(tmp_path)
    from_env = Settings.from_env()  # what the CLI and a lab see in a subprocess
    assert from_env.state_dir == lab_settings.state_dir
    assert (from_env.milvus_port, from_env.router_port, from_env.router_control_port) == \
        (lab_settings.milvus_port, lab_settings.router_port, lab_settings.router_control_port)


def test_a_settings_keeps_its_home_when_the_env_changes(
        lab_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MILVUS_LAB_HOME", str(tmp_path / "someone-else"))
    assert lab_settings.state_dir == tmp_path / "home" / ".milvus-lab"
    assert Settings.from_env().state_dir == tmp_path / "someone-else" / ".milvus-lab"
    ports = {lab_settings.milvus_port, lab_settings.router_port, lab_settings.router_control_port}
    assert len(ports) == 3 and 19530 not in ports and 8080 not in ports
    assert not any(processes.port_in_use(p) for p in ports)
