"""Docker fixtures: a real engine, the images built here, and containers by testcontainers.

Which engine: ``DOCKER_HOST`` when it is set (the user's engine, through its normal API),
else the project's private engine (``python -m milvus_lab.dockerenv up``) when it runs.
The system socket is never used behind the user's back. No engine: the test skips with
the command that starts one; ``MILVUS_LAB_REQUIRE_DOCKER=1`` (CI) fails instead.

Containers use host networking (the CI engine has no bridge) and testcontainers'
Ryuk reaper is disabled (its image cannot be pulled here): every container is removed
by the fixture that started it.
"""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from milvus_lab.dockerenv import engine, images
from milvus_lab.testing import ci_setup

SKIP_HINT = (f"start one with `{engine.UP_COMMAND}` (root, Debian) and export the DOCKER_HOST it "
             "prints, or point DOCKER_HOST at your engine; MILVUS_LAB_REQUIRE_DOCKER=1 fails instead")


def _missing(message: str) -> None:
    if os.environ.get("MILVUS_LAB_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{message} (MILVUS_LAB_REQUIRE_DOCKER=1)", pytrace=False)
    pytest.skip(message)


def find_docker_host() -> tuple[str | None, str]:
    """(DOCKER_HOST to use, or None; why)."""
    try:
        import docker  # noqa: F401
        import testcontainers  # noqa: F401
    except ImportError:
        return None, 'the docker extra is not installed: pip install -e ".[docker]"'
    env_host = os.environ.get("DOCKER_HOST")
    if env_host:
        version = engine.answers(env_host)
        return (env_host, f"DOCKER_HOST engine {version}") if version else (
            None, f"DOCKER_HOST={env_host} does not answer")
    ours = engine.paths().docker_host
    version = engine.answers(ours)
    if version:
        return ours, f"milvus-lab engine {version}"
    return None, "no Docker engine: DOCKER_HOST is unset and the milvus-lab engine is not running"


def start_private_engine() -> tuple[str | None, str]:
    """Start the project's own engine (root Debian: installs docker.io when missing).

    Why: the Docker tests skip only when no engine can be started at all, not merely
    because nobody started one before pytest.
    """
    from milvus_lab.errors import PrerequisiteError

    try:
        return engine.up(timeout=120).docker_host, "milvus-lab engine started for this session"
    except PrerequisiteError as err:
        return None, f"{err.message} (fix: {err.fix})"


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    """The engine's DOCKER_HOST, exported for testcontainers for the session; Ryuk off.

    No engine answers and DOCKER_HOST is unset: the private engine is started here and
    stopped at the end of the session (with everything it ran).
    """
    ci_setup.await_part("docker")  # under .ci/run the engine and images may still be building
    host, why = find_docker_host()
    started = False
    if host is None and not os.environ.get("DOCKER_HOST") and why.startswith("no Docker engine"):
        host, why = start_private_engine()
        started = host is not None
    if host is None:
        _missing(f"{why}; {SKIP_HINT}")
    saved = {k: os.environ.get(k) for k in ("DOCKER_HOST", "TESTCONTAINERS_RYUK_DISABLED")}
    os.environ["DOCKER_HOST"] = host
    os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"
    from testcontainers.core.config import testcontainers_config

    testcontainers_config.ryuk_disabled = True
    try:
        yield host
    finally:
        if started:
            engine.down()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def docker_client(docker_host: str):  # -> docker.DockerClient
    """A docker SDK client on the engine in use."""
    client = images.client(docker_host)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def base_image(docker_host: str) -> str:
    """The Debian bookworm + Python base (mmdebstrap + import; cached by content)."""
    tag, _how = images.ensure_base(docker_host)
    return tag


@pytest.fixture(scope="session")
def search_api_image(docker_host: str, base_image: str) -> str:
    """The project's Dockerfile built on the local base (layer cache makes it cheap when warm)."""
    images.build_search_api(docker_host, base_image)
    return images.api_image()


@pytest.fixture(scope="session")
def milvus_pypi_image(docker_host: str, base_image: str) -> str:
    """milvus-lab/milvus-pypi:2.3.5: the real Milvus 2.3.5 binary (PyPI `milvus`), NOT the official image."""
    images.build_milvus(docker_host, base_image)
    return images.MILVUS_IMAGE


def wait_http(url: str, timeout: float, container=None) -> None:  # container: docker SDK Container
    """Poll ``url`` until 200; a container that exits fails at once with its log tail."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if container is not None:
            container.reload()
            if container.status in ("exited", "dead"):
                raise AssertionError(f"container exited ({container.attrs['State'].get('ExitCode')}):\n"
                                     + container.logs(tail=40).decode(errors="replace"))
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                if resp.status == 200:
                    return
                last = str(resp.status)
        except OSError as err:
            last = str(err)
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s (last: {last})")


@dataclass(frozen=True)
class MilvusContainer:
    """A running milvus-pypi container: gRPC and /healthz on 127.0.0.1."""

    uri: str
    metrics_url: str
    container_id: str


def start_milvus_container(image: str, port: int, metrics_port: int, internal_base: int,
                           timeout: float = 240.0):  # -> testcontainers DockerContainer
    """Start the Milvus image with testcontainers and wait for /healthz (its wait strategy)."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HealthcheckWaitStrategy

    container = (DockerContainer(image)
                 .with_envs(MILVUS_PORT=str(port), MILVUS_METRICS_PORT=str(metrics_port),
                            MILVUS_INTERNAL_PORT_BASE=str(internal_base))
                 .with_kwargs(network_mode="host", labels={"app.kubernetes.io/part-of": "milvus-lab"})
                 .waiting_for(HealthcheckWaitStrategy().with_startup_timeout(int(timeout))))
    container.start()
    return container


@pytest.fixture(scope="session")
def milvus_container(milvus_pypi_image: str) -> Iterator[MilvusContainer]:
    """A real Milvus 2.3.5 standalone in a container (testcontainers), removed at the end."""
    from milvus_lab.processes import free_port_block, free_ports

    port, metrics = free_ports(2)
    internal = free_port_block(10)
    container = start_milvus_container(milvus_pypi_image, port, metrics, internal)
    try:
        yield MilvusContainer(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics}",
                              container.get_wrapped_container().id)
    finally:
        container.stop()


