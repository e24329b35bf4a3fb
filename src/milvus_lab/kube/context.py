"""Which cluster a lab talks to, and the guard that keeps it off clusters it should not touch.

The rule (DESIGN.md section 7): a lab changes a `kind-*` context freely; any other context
only when `--context` names it explicitly. Without a reachable cluster every error says
how to get one: `kind create cluster --config kind-config.yaml`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from milvus_lab.errors import PrerequisiteError

KIND_CLUSTER = "milvus-lab"
DEFAULT_CONTEXT = f"kind-{KIND_CLUSTER}"
CREATE_CLUSTER = "kind create cluster --config kind-config.yaml"


@dataclass
class KubeConnection:
    """A reachable API server: the client plus what the lab needs to know about it."""

    api_client: Any  # kubernetes.client.ApiClient
    context: str
    is_kind: bool  # pods really run (kind); False for KWOK testenv nodes
    kubeconfig: str | None = None
    server: str = ""
    _versions: dict[str, str] = field(default_factory=dict, repr=False)

    @cached_property
    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api_client)

    @cached_property
    def apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.api_client)

    @cached_property
    def dynamic(self) -> Any:
        """A DynamicClient (discovery on first use): apply/list/delete any kind by apiVersion."""
        from kubernetes.dynamic import DynamicClient

        return DynamicClient(self.api_client)

    def server_version(self) -> str:
        """`major.minor` of the API server, e.g. "1.33" (picks the offline schema too)."""
        if "minor" not in self._versions:
            from kubernetes import client

            info = client.VersionApi(self.api_client).get_code(_request_timeout=10)
            self._versions = {"major": str(info.major), "minor": str(info.minor).rstrip("+"),
                              "git": str(info.git_version)}
        return f"{self._versions['major']}.{self._versions['minor']}"

    def kubectl(self, args: str) -> str:
        """The kubectl command equivalent to what we do, for this context."""
        ctx = "" if self.context == DEFAULT_CONTEXT else f" --context {self.context}"
        return f"kubectl{ctx} {args}"

    def close(self) -> None:
        self.api_client.close()


def default_kubeconfig() -> str:
    return os.environ.get("KUBECONFIG", os.path.expanduser("~/.kube/config"))


def resolve_context(contexts: list[str], current: str | None, requested: str | None) -> tuple[str, bool]:
    """The context to use and whether the user named it explicitly.

    Requested wins; else `kind-milvus-lab` when it exists; else the current context.
    """
    if requested:
        if requested not in contexts:
            raise PrerequisiteError(
                f"kube context {requested!r} is not in your kubeconfig "
                f"(found: {', '.join(contexts) or 'none'})",
                fix=f"kubectl config get-contexts; or create the lab cluster: {CREATE_CLUSTER}",
            )
        return requested, True
    if DEFAULT_CONTEXT in contexts:
        return DEFAULT_CONTEXT, False
    if current:
        return current, False
    raise PrerequisiteError(
        "no Kubernetes context found in your kubeconfig", fix=CREATE_CLUSTER
    )


def guard_context(name: str, explicit: bool) -> None:
    """Refuse a context that is not kind-* unless the user named it with --context."""
    if explicit or name.startswith("kind-"):
        return
    raise PrerequisiteError(
        f"the current kube context {name!r} is not a kind cluster; the lab will not change "
        "it unless you name it explicitly",
        fix=f"pass --context {name} if you mean it, or create the lab cluster: {CREATE_CLUSTER}",
    )


def detect_kind(api_client: Any, context: str) -> bool:
    """True when pods really run on kind nodes (providerID kind://...), False for KWOK."""
    from kubernetes import client

    try:
        nodes = client.CoreV1Api(api_client).list_node(_request_timeout=10).items
    except Exception:  # noqa: BLE001 - no permission to list nodes: trust the name
        return context.startswith("kind-")
    if any((n.metadata.annotations or {}).get("kwok.x-k8s.io/node") for n in nodes):
        return False
    return any((n.spec.provider_id or "").startswith("kind://") for n in nodes)


def from_api_client(
    api_client: Any, context: str, is_kind: bool | None = None, kubeconfig: str | None = None
) -> KubeConnection:
    """Wrap an existing ApiClient (the tests' `kube_api` fixture) as a connection."""
    kind = detect_kind(api_client, context) if is_kind is None else is_kind
    host = getattr(api_client.configuration, "host", "")
    return KubeConnection(api_client, context, kind, kubeconfig, host)


def connect(
    requested: str | None = None, kubeconfig: str | None = None, timeout: float = 5.0
) -> KubeConnection:
    """Load kubeconfig, pick and guard the context, and check the API server answers."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    path = kubeconfig or default_kubeconfig()
    try:
        contexts, current = config.list_kube_config_contexts(config_file=path)
    except (ConfigException, OSError) as exc:
        raise PrerequisiteError(
            f"no usable kubeconfig at {path} ({exc})", fix=CREATE_CLUSTER
        ) from None
    name, explicit = resolve_context([c["name"] for c in contexts], (current or {}).get("name"), requested)
    guard_context(name, explicit)
    try:
        api_client = config.new_client_from_config(config_file=path, context=name, persist_config=False)
    except (ConfigException, OSError) as exc:
        raise PrerequisiteError(f"kube context {name!r} cannot be loaded: {exc}", fix=CREATE_CLUSTER) from None
    host = api_client.configuration.host
    try:
        client.VersionApi(api_client).get_code(_request_timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - refused, TLS, auth: all mean "not usable"
        api_client.close()
        raise PrerequisiteError(
            f"the API server of context {name!r} ({host}) does not answer: {type(exc).__name__}",
            fix=f"start it (docker start {KIND_CLUSTER}-control-plane) or create it: {CREATE_CLUSTER}",
        ) from None
    return from_api_client(api_client, name, kubeconfig=path)
