"""Pytest plugin: the real Milvus 2.3.5 standalone binary in a temp home, on free low ports.

The standalone engine refuses ports in the kernel's ephemeral range (>= 32768);
`processes.free_port_block` finds a run of free ports below it. Tests that need the engine are skipped with the
reason when this platform has no wheel or `milvus==2.3.5` is not installed.

Load with ``pytest_plugins = ["milvus_lab.testing.standalone_fixtures"]``.

Fixtures:
- ``standalone_factory``: start standalone servers (auth / TLS switches per call); every
  one is stopped after the test.
- ``secure_standalone`` (module): one server with authentication and mutual TLS on, for
  tests that only read from it (RBAC, TLS, metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from milvus_lab.milvus import standalone
from milvus_lab.milvus.server import MilvusEndpoint
from milvus_lab.processes import free_port_block, pid_running
from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import lab_env, new_lab_settings, stop_all

PORTS_PER_SERVER = 2 + standalone.INTERNAL_PORT_COUNT  # gRPC, metrics, internal block


def standalone_settings(home: Path, auth: bool = False, tls: int = 0) -> Settings:
    """Settings for the standalone engine in `home`: Lite/router ports free, engine ports free and low."""
    base = free_port_block(PORTS_PER_SERVER, high=standalone.MAX_PORT)
    return new_lab_settings(home, milvus="standalone", standalone_port=base,
                            standalone_metrics_port=base + 1, standalone_internal_ports=base + 2,
                            standalone_auth=auth, standalone_tls=tls)


def standalone_env(settings: Settings) -> dict[str, str]:
    """`lab_env` plus the engine choice and its ports, for a lab or CLI subprocess."""
    return {**lab_env(settings), "MILVUS_LAB_MILVUS": settings.milvus,
            "MILVUS_LAB_STANDALONE_PORT": str(settings.standalone_port),
            "MILVUS_LAB_STANDALONE_METRICS_PORT": str(settings.standalone_metrics_port),
            "MILVUS_LAB_STANDALONE_INTERNAL_PORTS": str(settings.standalone_internal_ports),
            "MILVUS_LAB_STANDALONE_AUTH": "1" if settings.standalone_auth else "0",
            "MILVUS_LAB_STANDALONE_TLS": str(settings.standalone_tls)}


def require_standalone() -> None:
    """Skip (with the reason) where the engine cannot run."""
    ok, label = standalone.platform_supported()
    if not ok:
        pytest.skip(f"no milvus {standalone.VERSION} wheel for {label}")
    ok, detail = standalone.package_installed()
    if not ok:
        pytest.skip(f"milvus=={standalone.VERSION} not installed ({detail})")


@dataclass(frozen=True)
class StandaloneServer:
    """A running standalone Milvus that a fixture started (and will stop)."""

    settings: Settings
    endpoint: MilvusEndpoint

    @property
    def pid(self) -> int:
        assert self.endpoint.pid is not None
        return self.endpoint.pid


def start_standalone(home: Path, auth: bool = False, tls: int = 0) -> StandaloneServer:
    settings = standalone_settings(home, auth, tls)
    return StandaloneServer(settings, standalone.ensure_standalone(settings))


def stop_standalone_home(settings: Settings) -> None:
    standalone.stop_standalone(settings)
    stop_all(settings)  # anything else recorded there


@pytest.fixture()
def standalone_factory(tmp_path: Path) -> Iterator[Callable[..., StandaloneServer]]:
    """Start standalone servers in temp homes; each is stopped after the test."""
    require_standalone()
    started: list[Settings] = []

    def start(auth: bool = False, tls: int = 0, home: Path | None = None) -> StandaloneServer:
        home = home or tmp_path / f"standalone-{len(started)}"
        settings = standalone_settings(home, auth, tls)
        started.append(settings)
        return StandaloneServer(settings, standalone.ensure_standalone(settings))

    yield start
    for settings in started:
        stop_standalone_home(settings)


@pytest.fixture(scope="module")
def secure_standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneServer]:
    """One server with authentication and mutual TLS, shared by a module (do not stop it)."""
    require_standalone()
    running = start_standalone(tmp_path_factory.mktemp("standalone-secure"), auth=True, tls=2)
    try:
        yield running
    finally:
        stop_standalone_home(running.settings)
        assert not pid_running(running.pid), f"Milvus standalone pid {running.pid} survived stop"
