"""Milvus RBAC, least privilege: users, roles and grants on the real standalone engine (2.3.5).

Why roles per workload: the search API only ever searches and queries the served
collection (through its alias), so its user gets exactly those grants; the data pipeline
may insert; only the admin may create, drop or grant. A stolen search-API password then
cannot drop data or read another collection.

Milvus applies grants through a privilege cache (about 1 s on 2.3.5), so callers wait
for a grant to take effect by polling (`wait_for_privilege`), never by sleeping blindly.
What 2.3.5 cannot show: privilege groups and `grant_privilege_v2` (Milvus 2.4+/2.5+).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from pymilvus import MilvusClient


@dataclass(frozen=True)
class Grant:
    """One privilege on one object (`Collection`/<name> or `Global`/*)."""

    object_type: str
    object_name: str
    privilege: str

    def __str__(self) -> str:
        return f"{self.privilege} on {self.object_type} {self.object_name}"


@dataclass(frozen=True)
class Role:
    name: str
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class Attempt:
    """One call made as some user: did Milvus allow it, and its own words if not."""

    user: str
    operation: str
    expected_allowed: bool
    allowed: bool
    error: str = ""

    @property
    def as_expected(self) -> bool:
        return self.allowed == self.expected_allowed


#: Privileges that make a role an admin role: never in a workload's role.
DANGEROUS = frozenset({"All", "DropCollection", "CreateCollection", "CreateOwnership",
                       "DropOwnership", "ManageOwnership", "Delete", "Release", "Load",
                       "DropIndex", "CreateIndex", "Insert", "Upsert"})


def pipeline_role(collection: str) -> Role:
    """The data pipeline: write rows into one collection (by its real name, not the alias)."""
    return Role("lab05_pipeline", (Grant("Collection", collection, "Insert"),))


def too_broad(role: Role, allowed: Sequence[Grant]) -> list[Grant]:
    """Grants beyond `allowed` (a `*` object or a dangerous privilege is always too broad)."""
    extra = [g for g in role.grants if g not in allowed]
    return [g for g in role.grants
            if g in extra or g.object_name == "*" and g.object_type != "Global"]


def ensure_role(admin: MilvusClient, role: Role) -> None:
    """Create the role (if needed) and grant exactly `role.grants`: extra grants are revoked."""
    if role.name not in admin.list_roles():
        admin.create_role(role.name)
    current = {Grant(g["object_type"], g["object_name"], g["privilege"])
               for g in admin.describe_role(role.name).get("privileges", [])}
    for g in current - set(role.grants):
        admin.revoke_privilege(role.name, g.object_type, g.privilege, g.object_name)
    for g in set(role.grants) - current:
        admin.grant_privilege(role.name, g.object_type, g.privilege, g.object_name)


def ensure_user(admin: MilvusClient, user: str, password: str, roles: Sequence[str]) -> None:
    """Create the user (or reset its password) and give it exactly `roles`."""
    if user in admin.list_users():
        admin.drop_user(user)  # 2.3 cannot reset a password without the old one
    admin.create_user(user, password)
    for role in roles:
        admin.grant_role(user, role)


def drop_user(admin: MilvusClient, user: str) -> None:
    """Remove a user: revoke its roles first (Milvus keeps role bindings otherwise)."""
    info = admin.describe_user(user)
    for role in info.get("roles", []) or []:
        admin.revoke_role(user, role)
    admin.drop_user(user)


def drop_role(admin: MilvusClient, role: str) -> None:
    """A role with grants cannot be dropped on 2.3.5: revoke every grant first."""
    if role not in admin.list_roles():
        return
    for g in admin.describe_role(role).get("privileges", []):
        admin.revoke_privilege(role, g["object_type"], g["privilege"], g["object_name"])
    admin.drop_role(role)


@contextlib.contextmanager
def expected_refusals() -> Iterator[None]:
    """Silence pymilvus's error log (a traceback per refused call) while calls are MEANT to be
    refused: the caller records Milvus's own message instead."""
    log = logging.getLogger("pymilvus")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def attempt(user: str, operation: str, expected: bool, call: Callable[[], object]) -> Attempt:
    """Run `call`; a refusal is recorded with Milvus's own message (first line)."""
    try:
        with expected_refusals():
            call()
    except Exception as exc:  # noqa: BLE001 - pymilvus raises MilvusException subclasses
        return Attempt(user, operation, expected, False, milvus_error(exc))
    return Attempt(user, operation, expected, True)


def milvus_error(exc: BaseException) -> str:
    """Milvus's own words: gRPC `details()` (e.g. "PrivilegeInsert: permission deny to bob"),
    else pymilvus's message, first line. pymilvus wraps a refused login in a generic "Fail
    connecting to server": the gRPC error it was raised from (its cause) says why."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:  # pymilvus raises `e from e`
        visited.add(id(seen))
        details = getattr(seen, "details", None)
        if callable(details) and details():
            return (str(details()).strip().splitlines() or [type(seen).__name__])[0][:200]
        seen = seen.__cause__ or seen.__context__
    text = getattr(exc, "message", "") or str(exc)
    return (str(text).strip().splitlines() or [type(exc).__name__])[0][:200]


def is_permission_denied(error: str) -> bool:
    return "permission deny" in error.lower() or "PERMISSION_DENIED" in error


def is_auth_failure(error: str) -> bool:
    """A refused login (wrong or rotated password), not a refused operation or a dead server."""
    return "auth check failure" in error.lower() or "UNAUTHENTICATED" in error


def wait_for_privilege(check: Callable[[], Attempt], want_allowed: bool,
                       timeout: float = 15.0) -> Attempt:
    """Poll until the privilege cache agrees (grants and revokes take ~1 s on 2.3.5)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result.allowed == want_allowed or time.monotonic() >= deadline:
            return result
        time.sleep(0.25)


def close_quietly(client: MilvusClient) -> None:
    with contextlib.suppress(Exception):
        client.close()
