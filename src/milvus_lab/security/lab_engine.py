"""Lab 05's Milvus: the real standalone engine with authentication and TLS switched on.

The lab moves the same engine from one-way TLS (mode 1) to mutual TLS (mode 2), logs in as
root to set things up and as each workload to prove what it may do. Those moves are
plumbing; the lesson only says which mode it wants and as whom it connects. The standalone
module is imported when a function runs, not at import, so a dry run or a Lite refusal
never touches it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Set
from typing import TYPE_CHECKING

from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus.client import connect
from milvus_lab.security.milvus_rbac import close_quietly
from milvus_lab.settings import Settings
from milvus_lab.targets import Capability

if TYPE_CHECKING:
    from pymilvus import MilvusClient


def settings_for(settings: Settings, tls_mode: int) -> Settings:
    """`settings` with the standalone engine, authentication on and TLS `tls_mode` (1 or 2)."""
    return settings.with_(milvus="standalone", standalone_auth=True, standalone_tls=tls_mode)


def refuse_lite(settings: Settings, needs: Set[Capability], command: str) -> None:
    """Exit 2 before anything starts when the local target would run Milvus Lite (no auth, no
    TLS); never a silent engine switch: the learner picks the engine."""
    if settings.target == "local" and settings.milvus != "standalone":
        lacking = ", ".join(sorted(c.value for c in needs))
        raise PrerequisiteError(
            f"Milvus Lite (the local target's default engine) lacks {lacking}",
            fix=f"{command} --milvus standalone   (the real Milvus 2.3.5 on 127.0.0.1; "
                "or MILVUS_LAB_MILVUS=standalone, or --target compose)")


def switch_to(settings: Settings) -> None:
    """Run our standalone Milvus with these auth/TLS settings (restart it if it runs otherwise)."""
    from milvus_lab.milvus import standalone

    running = standalone.status(settings)
    if running.state != "stopped" and (running.tls, running.auth) != (settings.standalone_tls,
                                                                      settings.standalone_auth):
        standalone.stop_standalone(settings)
    standalone.ensure_standalone(settings)


def stop(settings: Settings) -> None:
    from milvus_lab.milvus import standalone

    standalone.stop_standalone(settings)


def client_as(settings: Settings, token: str | None = None) -> MilvusClient:
    """A client over the engine's TLS as `token` ("user:password"); root when None."""
    from milvus_lab.milvus import standalone

    return connect(standalone.uri(settings), token=token or standalone.root_token(settings),
                   tls=standalone.client_tls(settings))


@contextlib.contextmanager
def session(settings: Settings, token: str | None = None) -> Iterator[MilvusClient]:
    """`client_as` for one block, closed after it (a refused call must not leak a channel)."""
    client = client_as(settings, token)
    try:
        yield client
    finally:
        close_quietly(client)


def login(settings: Settings, token: str) -> list[str]:
    """Log in as `token` with a fresh client and list collections: the login is what is tested."""
    with session(settings, token) as client:
        return client.list_collections()
