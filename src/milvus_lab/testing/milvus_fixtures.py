"""Pytest plugin: a real Milvus Lite server, lab homes on free ports, small datasets.

Why a plugin: the project's tests and the learners' checks (`pytest checks`) must exercise
the real thing (a `milvus-lite server` process, real uvicorn replicas, the real router),
never mocks, and must never touch the user's own `.milvus-lab/` or default ports. Every
fixture here works in a temporary home on free ports and stops what it started; a final
session check fails the run if any process started under the session's temp dir survives.

Load with ``pytest_plugins = ["milvus_lab.testing.milvus_fixtures"]``.

Fixtures:
- ``lab_settings``: a Settings in a fresh temp home on free ports (env set too, so
  `Settings.from_env()` and subprocesses agree); everything recorded there is stopped after.
- ``milvus_server`` (session): one shared Milvus Lite server; ``milvus_client`` talks to it.
- ``small_dataset`` / ``small_dataset_v2`` (session): 3,000 x 32 clustered rows, exact truth.
- ``small_collection`` / ``small_collection_v2`` (session): those datasets, loaded (read-only).
- ``make_collection``: build a complete, loaded collection in the shared server (dropped after).
- ``milvus_factory``: extra disposable servers for tests that stop or break Milvus.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from milvus_lab import processes
from milvus_lab.interrupts import interrupt_on_stop_signals
from milvus_lab.milvus import server
from milvus_lab.milvus.collections import IndexSpec, ensure_collection
from milvus_lab.milvus.datasets import Dataset, DatasetSpec, generate
from milvus_lab.processes import pid_running
from milvus_lab.settings import Settings

if TYPE_CHECKING:
    from pymilvus import MilvusClient

SMALL_SPEC = DatasetSpec(name="small-v1", version="v1", n=3_000, dim=32, n_queries=50, k=10,
                         seed=7, n_clusters=16)
SMALL_SPEC_V2 = DatasetSpec(name="small-v2", version="v2", n=3_000, dim=32, n_queries=50, k=10,
                            seed=77, n_clusters=16)


# ---- plain helpers (usable from module-scoped fixtures too) ---------------------------
free_ports = processes.free_ports  # re-exported: tests import it from here


def new_lab_settings(home: Path, **overrides: object) -> Settings:
    """Settings whose state lives in `<home>/.milvus-lab/`, with free Milvus/router ports.

    The home is explicit (not taken from an ambient MILVUS_LAB_HOME, which may point at a
    user's real state), and it is also the processes' working dir, so the final leak check
    finds them.
    """
    milvus, router, control = free_ports(3)
    home.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {"repo_root": home.resolve(), "home": home.resolve(),
                                 "milvus_port": milvus, "router_port": router,
                                 "router_control_port": control}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def lab_env(settings: Settings) -> dict[str, str]:
    """The MILVUS_LAB_* variables that make a subprocess (the CLI, a lab) use `settings`."""
    return {
        "MILVUS_LAB_HOME": str(settings.state_dir.parent),
        "MILVUS_LAB_TARGET": settings.target,
        "MILVUS_LAB_MILVUS_PORT": str(settings.milvus_port),
        "MILVUS_LAB_ROUTER_PORT": str(settings.router_port),
        "MILVUS_LAB_ROUTER_CONTROL_PORT": str(settings.router_control_port),
    }


def stop_all(settings: Settings) -> list[str]:
    """Stop every process recorded under `settings`' home; return the names that were alive."""
    stopped = []
    for rec in processes.list_records(settings):
        if processes.stop_process(settings, rec.name, grace=10.0):
            stopped.append(rec.name)
    return stopped


def processes_under(root: Path) -> list[tuple[int, str]]:
    """Live processes (not us) whose working dir, command line or MILVUS_LAB_HOME is under `root`.

    Everything the fixtures start runs with its cwd in a temp home (replicas, router,
    Locust), names a path there (the Milvus data dir), or inherited MILVUS_LAB_HOME from
    `lab_env` (whatever a CLI subprocess started), so this finds leaks without knowing
    every pid.
    """
    needle = str(root.resolve())
    home_var = f"MILVUS_LAB_HOME={needle}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        if pid == os.getpid() or not pid_running(pid):
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        in_env = any(v == home_var or v.startswith(home_var + b"/") for v in environ)
        if cwd == needle or cwd.startswith(needle + "/") or needle + "/" in cmdline or in_env:
            found.append((pid, cmdline.strip()))
    return found


@dataclass(frozen=True)
class MilvusServer:
    """A running Milvus Lite server that a fixture started (and will stop)."""

    uri: str
    settings: Settings
    pid: int
    data_dir: Path

    def client(self, timeout: float = 10.0) -> MilvusClient:
        """A new MilvusClient; the caller closes it."""
        from pymilvus import MilvusClient

        return MilvusClient(uri=self.uri, timeout=timeout)


def start_milvus(home: Path) -> MilvusServer:
    """Start a fresh Milvus Lite server in `home` on a free port (waits until it answers)."""
    settings = new_lab_settings(home)
    endpoint = server.ensure_server(settings, timeout=90.0)
    assert endpoint.pid is not None and endpoint.data_dir is not None
    return MilvusServer(endpoint.uri, settings, endpoint.pid, endpoint.data_dir)


def unique_name(prefix: str = "t") -> str:
    """A collection name no other test uses (letters, digits, underscores only)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ---- fixtures ------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM ends the session the way Ctrl-C does, so the session fixtures stop their servers.

    Why: pytest handles only Ctrl-C. A `kill`, `timeout(1)` or a CI job's cancel sends SIGTERM,
    whose default ends pytest at once: the shared Milvus Lite server and replicas outlived it,
    holding their ports. As a KeyboardInterrupt, pytest tears the session down first.
    """
    interrupt_on_stop_signals()


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Session-final check: nothing started under this session's temp dir still runs.

    Autouse and session-scoped, so it is set up first and torn down last, after every
    other fixture has stopped its processes. Leaks are killed (they are ours) and reported.
    """
    base = tmp_path_factory.getbasetemp()
    yield
    leaked = processes_under(base)
    for pid, _ in leaked:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if leaked:
        listing = "\n".join(f"  pid {pid}: {cmd[:200]}" for pid, cmd in leaked)
        pytest.fail(f"{len(leaked)} process(es) leaked by the tests (now killed):\n{listing}",
                    pytrace=False)


@pytest.fixture()
def lab_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A lab home in a temp dir on free ports; its processes are stopped after the test.

    The env is set as well (MILVUS_LAB_HOME and the ports), so code that calls
    `Settings.from_env()` and the subprocesses it starts use the same home and ports.
    """
    settings = new_lab_settings(tmp_path / "home")
    for key, value in lab_env(settings).items():
        monkeypatch.setenv(key, value)
    yield settings
    stop_all(settings)


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    """One real Milvus Lite server for the session (temp data dir, free port), stopped at the end."""
    running = start_milvus(tmp_path_factory.mktemp("milvus-session"))
    try:
        yield running
    finally:
        stop_all(running.settings)
        assert not pid_running(running.pid), f"Milvus Lite pid {running.pid} survived stop"


@pytest.fixture(scope="session")
def milvus_client(milvus_server: MilvusServer) -> Iterator[MilvusClient]:
    """A MilvusClient on the session server."""
    client = milvus_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture()
def milvus_factory(tmp_path: Path) -> Iterator[Callable[[], MilvusServer]]:
    """Start extra, disposable Milvus Lite servers (for tests that stop or break one)."""
    started: list[MilvusServer] = []

    def start() -> MilvusServer:
        running = start_milvus(tmp_path / f"milvus-{len(started)}")
        started.append(running)
        return running

    yield start
    for running in started:
        stop_all(running.settings)


@pytest.fixture(scope="session")
def small_dataset() -> Dataset:
    """3,000 x 32 clustered rows, 50 queries with exact top-10 (release "v1")."""
    return generate(SMALL_SPEC)


@pytest.fixture(scope="session")
def small_dataset_v2() -> Dataset:
    """Another seed and release "v2": the green side of a blue-green test."""
    return generate(SMALL_SPEC_V2)


def build_collection(client: MilvusClient, dataset: Dataset, index: IndexSpec | None = None,
                     name: str | None = None) -> str:
    """Create, fill, index and load a collection for `dataset`; return its name."""
    name = name or unique_name()
    status = ensure_collection(client, name, dataset, index or IndexSpec.hnsw(),
                               batch=3_000)
    assert status.complete, status
    return name


@pytest.fixture(scope="session")
def small_collection(milvus_client: MilvusClient, small_dataset: Dataset) -> str:
    """A loaded HNSW collection of `small_dataset` (release v1), shared: do not modify it."""
    return build_collection(milvus_client, small_dataset, name="session_small_v1")


@pytest.fixture(scope="session")
def small_collection_v2(milvus_client: MilvusClient, small_dataset_v2: Dataset) -> str:
    """The same for `small_dataset_v2` (release v2): the green side, shared."""
    return build_collection(milvus_client, small_dataset_v2, name="session_small_v2")


@pytest.fixture()
def make_collection(milvus_client: MilvusClient) -> Iterator[Callable[..., str]]:
    """Build loaded collections in the session server; they are dropped after the test."""
    made: list[str] = []

    def make(dataset: Dataset, index: IndexSpec | None = None, name: str | None = None) -> str:
        made.append(build_collection(milvus_client, dataset, index, name))
        return made[-1]

    yield make
    for name in made:
        with contextlib.suppress(Exception):
            milvus_client.drop_collection(name)
