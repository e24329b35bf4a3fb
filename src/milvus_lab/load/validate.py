"""What counts as a successful search under load (DESIGN.md section 6).

A 200 with no hits, or an answer from a version nobody expected, is a failure: a
cutover that silently serves an empty collection must show up red, not green.
Pure functions, so the rule is unit-tested without Locust.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from typing import Any

from milvus_lab.load.timeline import version_of

EXPECT_VERSIONS_ENV = "MILVUS_LAB_EXPECT_VERSIONS"


def expected_versions(raw: str | None = None) -> frozenset[str]:
    """Parse `v1,v2` (default: env MILVUS_LAB_EXPECT_VERSIONS); empty set = any version."""
    text = os.environ.get(EXPECT_VERSIONS_ENV, "") if raw is None else raw
    return frozenset(v.strip() for v in text.split(",") if v.strip())


def search_failure(
    status: int,
    body: bytes | str | None,
    served_by: str | None,
    expect: Collection[str] = (),
) -> str | None:
    """Why a /search response is a failure, or None when it is a success."""
    if status != 200:
        return f"HTTP {status}{_error_detail(body)}"
    if expect:
        version = version_of(served_by or "")
        if version not in expect:
            return f"unexpected version {version!r} (expected {','.join(sorted(expect))})"
    try:
        payload: Any = json.loads(body or b"")
    except ValueError:
        return "response is not JSON"
    hits = payload.get("hits") if isinstance(payload, dict) else None
    if not isinstance(hits, list):
        return "response has no 'hits' list"
    if not hits:
        return "empty hits"
    return None


def _error_detail(body: bytes | str | None) -> str:
    if not body:
        return ""
    try:
        payload = json.loads(body)
    except ValueError:
        return ""
    if isinstance(payload, dict):
        detail = payload.get("error") or payload.get("detail")
        if detail:
            return f": {str(detail).splitlines()[0][:80]}"
    return ""
