"""The environment variables the locustfiles read, parsed and checked in one place.

Locustfiles run under the plain `locust` CLI too, so their knobs are env vars. A bad value
is one clear message and exit code 2 (`exit_on_error`), never a traceback from deep in
a greenlet.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from milvus_lab.errors import LabError, PrerequisiteError
from milvus_lab.load.queries import DATASET_DIR_ENV, default_dataset_dir
from milvus_lab.load.timeline import TIMELINE_ENV
from milvus_lab.load.validate import EXPECT_VERSIONS_ENV, expected_versions

#: every env var a locustfile reads, with what it does (printed in docs and errors)
ENV_VARS: dict[str, str] = {
    DATASET_DIR_ENV: "dataset directory with meta.json + queries.npy "
                     "(default <repo>/.milvus-lab/datasets/products-v1)",
    "MILVUS_LAB_K": "top-k per search (default 10)",
    "MILVUS_LAB_FILTER_RATIO": "fraction of searches with a category filter, 0..1 (default 0.1)",
    EXPECT_VERSIONS_ENV: "comma list of app versions allowed to answer, e.g. v1,v2 (unset = any)",
    "MILVUS_LAB_STICKY_USERS": "1 = each Locust user sends its own stable X-User-Id",
    "MILVUS_LAB_USER_POOL": "N = each request sends X-User-Id of one of N simulated end users "
                            "(user-0..user-N-1); wins over STICKY_USERS; 0 = off (default)",
    "MILVUS_LAB_USER_RPS": "requests/s per Locust user (constant throughput; 0 = no wait; default 5)",
    "MILVUS_LAB_COLLECTION": "collection or alias for the direct gRPC scenario (default products)",
    "MILVUS_LAB_SEARCH_PARAMS": "JSON search params for the gRPC scenario, e.g. {\"ef\": 64} or "
                                "{\"params\": {\"nprobe\": 8}} (default: the index's)",
    "MILVUS_LAB_MILVUS_TOKEN": "token (user:password) for the gRPC scenario when Milvus has auth "
                               "(default none; never printed)",
    "MILVUS_LAB_AB_SESSION": "lab 04: searches per simulated end user before the next user id (default 2)",
    "MILVUS_LAB_AB_RECORDS": "lab 04: JSON-lines file of every request (user, variant, status, latency, "
                             "query, ids); unset = not written",
    TIMELINE_ENV: "path of the per-second timeline (JSON lines); unset = not recorded",
}

T = TypeVar("T", int, float)


def _number(name: str, default: T, kind: Callable[[str], T], low: float, high: float) -> T:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        value = None
    if value is None or not (low <= value <= high):
        what = "an integer" if kind is int else "a number"
        raise PrerequisiteError(
            f"{name}={raw!r} is not {what} in [{low:g}, {high:g}]",
            fix=f"export {name}=<{kind.__name__}> or unset it ({ENV_VARS.get(name, '')})",
        )
    return value


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class LoadConfig:
    """Knobs shared by the locustfiles."""

    dataset_dir: Path
    k: int = 10
    filter_ratio: float = 0.1
    expect_versions: frozenset[str] = frozenset()
    sticky_users: bool = False
    user_pool: int = 0
    user_rps: float = 5.0
    collection: str = "products"
    search_params: dict[str, object] | None = None

    @classmethod
    def from_env(cls, locustfile_dir: Path | None = None) -> LoadConfig:
        import json

        raw_params = os.environ.get("MILVUS_LAB_SEARCH_PARAMS", "").strip()
        try:
            params = json.loads(raw_params) if raw_params else None
        except ValueError:
            params = "bad"
        if params is not None and not isinstance(params, dict):
            raise PrerequisiteError(
                f"MILVUS_LAB_SEARCH_PARAMS={raw_params!r} is not a JSON object",
                fix='export MILVUS_LAB_SEARCH_PARAMS=\'{"ef": 64}\' or unset it')
        return cls(
            dataset_dir=default_dataset_dir(locustfile_dir),
            k=_number("MILVUS_LAB_K", 10, int, 1, 16_384),
            filter_ratio=_number("MILVUS_LAB_FILTER_RATIO", 0.1, float, 0.0, 1.0),
            expect_versions=expected_versions(),
            sticky_users=_flag("MILVUS_LAB_STICKY_USERS"),
            user_pool=_number("MILVUS_LAB_USER_POOL", 0, int, 0, 10_000_000),
            user_rps=_number("MILVUS_LAB_USER_RPS", 5.0, float, 0.0, 100_000.0),
            collection=os.environ.get("MILVUS_LAB_COLLECTION", "").strip() or "products",
            search_params=params,
        )


@contextmanager
def exit_on_error() -> Iterator[None]:
    """In a locustfile's setup: a LabError becomes one message on stderr and exit code 2."""
    try:
        yield
    except LabError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        raise SystemExit(e.exit_code) from None
