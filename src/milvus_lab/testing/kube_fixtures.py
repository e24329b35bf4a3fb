"""Pytest plugin: a real Kubernetes API for tests of the kube path (DESIGN.md section 7).

Why a plugin: tests/ and checks/ share one way of finding a cluster, in this order:
the user's kind context (pods really run), else the local testenv from
``tools/kube-testenv`` (real control plane, KWOK nodes; started here if it is built
but not running, and then stopped at the end of the session), else skip with the
build command in the reason.

Load with ``pytest_plugins = ["milvus_lab.testing.kube_fixtures"]``. Tests marked
``kind`` are skipped automatically unless pods really run (see ``require_kind``).

Environment:
- ``MILVUS_LAB_KUBE``: ``auto`` (default), ``kind`` or ``testenv`` to force one source.
- ``MILVUS_LAB_KUBE_CONTEXT``: use this context (from KUBECONFIG) whatever its name.
- ``MILVUS_LAB_REQUIRE_KUBE=1``: fail instead of skip when no API is found (CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from milvus_lab.errors import LabError
from milvus_lab.polling import poll_until
from milvus_lab.testing import ci_setup
from milvus_lab.testing import kube_testenv as testenv

SKIP_HINT = (
    f"build the local control plane with `{testenv.BUILD_COMMAND}` "
    f"(then optionally `{testenv.UP_COMMAND}`), or create a kind cluster"
)


@dataclass
class KubeAPI:
    """A reachable API server and how it was found."""

    api_client: Any  # kubernetes.client.ApiClient
    context: str
    kubeconfig: Path
    is_kind: bool  # True when pods really run (kind); False for KWOK nodes
    source: str  # "kind", "context" or "testenv"
    started_here: bool = False

    def close(self) -> None:
        """Release the client's connection pool."""
        self.api_client.close()


def require_kind(kube_api: KubeAPI) -> None:
    """Skip the calling test unless pods really run (KWOK pods never do)."""
    if not kube_api.is_kind:
        pytest.skip(
            f"needs pods that really run (a kind cluster); context {kube_api.context!r} "
            "has KWOK nodes whose pods never run"
        )


def _client(kubeconfig: str | None, context: str) -> Any:
    from kubernetes import config

    return config.new_client_from_config(config_file=kubeconfig, context=context)


def _reachable(api_client: Any, timeout: float = 3.0) -> bool:
    """One GET /version to the API server, with a short timeout."""
    from kubernetes import client

    try:
        client.VersionApi(api_client).get_code(_request_timeout=timeout)
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False
    return True


def _has_kwok_nodes(api_client: Any) -> bool:
    from kubernetes import client

    nodes = client.CoreV1Api(api_client).list_node(_request_timeout=10).items
    return any(
        (n.metadata.annotations or {}).get(testenv.KWOK_NODE_ANNOTATION) == "fake" for n in nodes
    )


def _user_contexts() -> tuple[list[str], str | None]:
    """Context names in the user's KUBECONFIG (or ~/.kube/config) and the current one."""
    from kubernetes import config

    try:
        contexts, current = config.list_kube_config_contexts()
    except Exception:  # noqa: BLE001 - no or broken kubeconfig: no contexts
        return [], None
    return [c["name"] for c in contexts], (current or {}).get("name")


def _user_kubeconfig() -> Path:
    first = os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]
    return Path(first).expanduser()


def _find_context_api(reasons: list[str]) -> KubeAPI | None:
    """An explicit MILVUS_LAB_KUBE_CONTEXT, else a kind-* context, if it answers."""
    names, current = _user_contexts()
    explicit = os.environ.get("MILVUS_LAB_KUBE_CONTEXT")
    if explicit:
        candidates = [explicit]
    else:
        kinds = [n for n in names if n.startswith("kind-")]
        candidates = sorted(kinds, key=lambda n: n != current)  # current context first
        if not candidates:
            reasons.append("no kind-* context in KUBECONFIG")
    for name in candidates:
        try:
            api_client = _client(None, name)
        except Exception as err:  # noqa: BLE001
            reasons.append(f"context {name!r} unusable: {err}")
            continue
        if not _reachable(api_client):
            api_client.close()
            reasons.append(f"context {name!r} does not answer")
            continue
        is_kind = name.startswith("kind-") and not explicit
        if explicit:
            is_kind = not _has_kwok_nodes(api_client)
        return KubeAPI(
            api_client, name, _user_kubeconfig(), is_kind, "kind" if is_kind else "context"
        )
    return None


def _find_testenv_api(reasons: list[str]) -> KubeAPI | None:
    """The local testenv: reuse a running one, else start it if built."""
    started = False
    if not testenv.is_running():
        if not testenv.is_built():
            reasons.append(
                f"kube-testenv {testenv.K8S_VERSION} not built "
                f"(missing {', '.join(testenv.missing_binaries())})"
            )
            return None
        testenv.up(verbose=False)
        started = True
    kubeconfig = testenv.kubeconfig_path()
    api_client = _client(str(kubeconfig), testenv.CONTEXT)
    return KubeAPI(api_client, testenv.CONTEXT, kubeconfig, False, "testenv", started)


def find_kube_api() -> tuple[KubeAPI | None, str]:
    """Find an API server per MILVUS_LAB_KUBE; return it or the reason there is none."""
    mode = os.environ.get("MILVUS_LAB_KUBE", "auto").strip().lower() or "auto"
    if mode not in ("auto", "kind", "testenv"):
        return None, f"MILVUS_LAB_KUBE={mode!r} is not one of auto, kind, testenv"
    reasons: list[str] = []
    if mode in ("auto", "kind"):
        found = _find_context_api(reasons)
        if found or mode == "kind":
            return found, "; ".join(reasons)
    return _find_testenv_api(reasons), "; ".join(reasons)


@pytest.fixture(scope="session")
def kube_api() -> Iterator[KubeAPI]:
    """A real Kubernetes API: kind if present, else the testenv, else skip (or fail in CI)."""
    ci_setup.await_part("kube")  # under .ci/run the testenv may still be building
    try:
        api, why = find_kube_api()
    except LabError as err:  # built but would not start: say why, loudly
        pytest.fail(f"kube-testenv failed to start: {err}")
    if api is None:
        message = f"no Kubernetes API ({why}); {SKIP_HINT}"
        if os.environ.get("MILVUS_LAB_REQUIRE_KUBE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield api
    finally:
        api.close()
        if api.started_here:
            testenv.down(verbose=False)


@pytest.fixture(autouse=True)
def _kind_marker_gate(request: pytest.FixtureRequest) -> None:
    """Tests marked ``kind`` get ``kube_api`` and are skipped where pods don't run."""
    if request.node.get_closest_marker("kind") is not None:
        require_kind(request.getfixturevalue("kube_api"))


@pytest.fixture
def kube_namespace(kube_api: KubeAPI, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test (labelled per DESIGN.md section 7), deleted afterwards.

    Waits for the ``default`` ServiceAccount, without which pods are rejected.
    """
    from kubernetes import client

    core = client.CoreV1Api(kube_api.api_client)
    stem = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:40]
    name = f"t-{stem.strip('-')}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name=name,
                labels={
                    "app.kubernetes.io/part-of": "milvus-lab",
                    "app.kubernetes.io/managed-by": "milvus-lab",
                    "milvus-lab/test": "true",
                },
            )
        )
    )
    try:
        wait_for(
            lambda: core.read_namespaced_service_account("default", name) is not None,
            timeout=60,
            what=f"ServiceAccount default in namespace {name}",
        )
        yield name
    finally:
        from kubernetes.client.rest import ApiException

        try:
            core.delete_namespace(name, propagation_policy="Background")
        except ApiException as err:
            if err.status != 404:
                raise


def wait_for(
    check: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
) -> Any:
    """Poll ``check`` until it returns a truthy value (returned); exceptions count as "not yet"."""
    return poll_until(check, timeout=timeout, what=what, interval=interval, retry_on=(Exception,),
                      fix="see the test's namespace with kubectl")
