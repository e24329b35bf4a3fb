"""Lab 05's Milvus layout and its workloads: who may do what, tried for real.

The served collection is reached through an alias; the data pipeline writes to a staging
collection and never touches the served data; the search API gets its own least-privileged
user. Each workload's allowed calls and the forbidden ones are made as that user, so the
lesson shows Milvus's own refusals rather than our idea of them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from milvus_lab.milvus import collections, datasets
from milvus_lab.pki import write_private
from milvus_lab.progress import OnProgress, ignore
from milvus_lab.security import lab_engine, milvus_rbac
from milvus_lab.security.audit import AuditLog
from milvus_lab.security.milvus_rbac import Attempt, Grant, Role
from milvus_lab.settings import Settings

if TYPE_CHECKING:
    from pymilvus import MilvusClient

DATA = datasets.DatasetSpec(name="lab05-products", version="v1", n=3_000, dim=32, n_queries=50, k=10)
COLLECTION, ALIAS = "lab05_products_v1", "lab05_products"
STAGING = "lab05_products_staging"  # where the data pipeline writes (the served data is never touched)
API_USER, PIPELINE_USER, INTERN = "lab05_search_api", "lab05_pipeline", "lab05_intern"
PROBE = [1.0] + [0.0] * (DATA.dim - 1)  # a query vector for permission probes
PROBE_ID = 10**9  # the row the pipeline's allowed insert writes into STAGING
# a complete products row: a refused insert must be refused by RBAC, not by pymilvus's schema check
PROBE_ROW = {"id": PROBE_ID, "vector": PROBE, "category": "x", "price": 1.0, "title": "t", "release": "v1"}
#: What the search API's role may do and nothing more (the exercise's role is judged against it).
API_GRANTS = tuple(Grant("Collection", ALIAS, p) for p in ("Search", "Query"))


def prepare_served(admin: MilvusClient, ds: datasets.Dataset,
                   on_progress: OnProgress = ignore) -> collections.CollectionStatus:
    """The served collection (HNSW), the pipeline's staging collection, the alias on top."""
    status = collections.ensure_collection(admin, COLLECTION, ds, collections.IndexSpec.hnsw(),
                                           on_progress=on_progress)
    if not admin.has_collection(STAGING):  # the pipeline's landing table (quick setup)
        admin.create_collection(STAGING, dimension=DATA.dim)
    collections.point_alias(admin, ALIAS, COLLECTION)
    return status


@dataclass(frozen=True)
class WorkloadTokens:
    """The "user:password" tokens the lab's workloads log in with (never printed)."""

    api: str
    pipeline: str


def create_users(admin: MilvusClient, api_role: Role, token_file: Path) -> WorkloadTokens:
    """Roles and users for the search API and the pipeline, fresh random passwords; the API's
    token goes to a 0600 file (the API reads it from there, like a mounted Secret)."""
    milvus_rbac.ensure_role(admin, api_role)
    milvus_rbac.ensure_role(admin, milvus_rbac.pipeline_role(STAGING))
    api_password, pipe_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    milvus_rbac.ensure_user(admin, API_USER, api_password, [api_role.name])
    milvus_rbac.ensure_user(admin, PIPELINE_USER, pipe_password, ["lab05_pipeline"])
    write_private(token_file, f"{API_USER}:{api_password}".encode())
    return WorkloadTokens(f"{API_USER}:{api_password}", f"{PIPELINE_USER}:{pipe_password}")


def wait_until_api_may_search(api: MilvusClient) -> Attempt:
    """Grants apply through Milvus's privilege cache (~1 s): poll instead of sleeping."""
    return milvus_rbac.wait_for_privilege(
        lambda: milvus_rbac.attempt(API_USER, "search", True, lambda: api.search(ALIAS, [PROBE], limit=1)),
        want_allowed=True)


def attempts(api: MilvusClient, pipeline: MilvusClient) -> list[Attempt]:
    """Each workload's allowed calls and the forbidden ones, made for real as that user."""
    probe, row, a = [PROBE], [PROBE_ROW], milvus_rbac.attempt
    return [
        a(API_USER, f"search {ALIAS} (alias)", True, lambda: api.search(ALIAS, probe, limit=1)),
        a(API_USER, f"query {ALIAS} (alias)", True, lambda: api.query(ALIAS, filter="id >= 0", limit=1)),
        a(API_USER, f"search {COLLECTION} (real name)", False, lambda: api.search(COLLECTION, probe, limit=1)),
        a(API_USER, f"insert into {ALIAS}", False, lambda: api.insert(ALIAS, row)),
        a(API_USER, f"drop {COLLECTION}", False, lambda: api.drop_collection(COLLECTION)),
        a(API_USER, "create a user", False, lambda: api.create_user("x_evil", "Evil-pass-123")),
        a(PIPELINE_USER, f"insert into {STAGING}", True, lambda: pipeline.insert(STAGING, row)),
        a(PIPELINE_USER, f"insert into {COLLECTION} (served)", False, lambda: pipeline.insert(COLLECTION, row)),
        a(PIPELINE_USER, f"search {ALIAS}", False, lambda: pipeline.search(ALIAS, probe, limit=1)),
    ]


def record(log: AuditLog, tried: list[Attempt]) -> None:
    """Every attempt in the audit chain: who called what, and whether Milvus allowed it."""
    for t in tried:
        log.append(t.user, f"milvus.{t.operation.split()[0]}", "allowed" if t.allowed else "denied",
                   operation=t.operation)


def describe(t: Attempt) -> str:
    """One console line per attempt: who, what, and Milvus's words when refused."""
    return f"{t.user}: {t.operation}: {'allowed' if t.allowed else 'refused: ' + t.error}"[:150]


@dataclass(frozen=True)
class PrivilegeVerdict:
    """Did every call go as expected, refused with PERMISSION_DENIED, with no extra grant?"""

    held: bool
    observed: str


def judge(role: Role, tried: list[Attempt]) -> PrivilegeVerdict:
    extra = milvus_rbac.too_broad(role, list(API_GRANTS))
    denied_right = all(milvus_rbac.is_permission_denied(t.error) for t in tried if not t.allowed)
    observed = (f"{sum(t.as_expected for t in tried)}/{len(tried)} calls as expected"
                + (f"; too broad: {', '.join(map(str, extra))}" if extra else ""))
    return PrivilegeVerdict(all(t.as_expected for t in tried) and denied_right and not extra, observed)


def password_lifecycle(admin: MilvusClient, settings: Settings, pipeline_token: str) -> list[tuple[bool, str]]:
    """Rotate the pipeline's password (the old one must then be refused at login) and remove a
    user who left; (held, what happened) per check."""
    user, old_password = pipeline_token.split(":", 1)
    admin.update_password(user, old_password, secrets.token_urlsafe(18))
    old = milvus_rbac.attempt(user, "login with the old password", False,
                              lambda: lab_engine.login(settings, pipeline_token))
    milvus_rbac.ensure_user(admin, INTERN, secrets.token_urlsafe(18), [])
    milvus_rbac.drop_user(admin, INTERN)
    return [(not old.allowed and milvus_rbac.is_auth_failure(old.error),
             f"password rotated: the old one is refused ({old.error[:70]})"),
            (INTERN not in admin.list_users(), f"user {INTERN} removed")]
