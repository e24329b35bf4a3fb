# Exercise generated from solutions/lab05_security.py by `python -m milvus_lab.exercises`.
"""Lab 05 exercise: three security decisions, each one a real control in the lab.

1. `search_api_role`: the least-privileged Milvus role of the search API.
2. `verify_key`: accept or refuse a presented API key (hash, constant time, revocation,
   rotation overlap, scope).
3. `first_broken_line`: walk an HMAC hash chain and name the first line that breaks it.

The lab calls these inside the real flow (`--impl labs` runs yours): your role is granted
on the real Milvus, your verifier judges the same keys the API judged, your chain walker
judges the real audit log. `pytest checks -k lab05` tests them.
"""

from __future__ import annotations

# what the solutions use (the exercise file keeps them for you)
import hashlib  # noqa: F401
import hmac  # noqa: F401
import json  # noqa: F401
from collections.abc import Mapping

from milvus_lab.security.apikeys import KeyRecord, parse  # noqa: F401
from milvus_lab.security.audit import GENESIS, canonical  # noqa: F401
from milvus_lab.security.milvus_rbac import Grant, Role  # noqa: F401


def search_api_role(alias: str) -> Role:
    """The Milvus role of the search API, named "lab05_search_api".

    The API only searches and queries the served collection, and only through its alias
    (`alias`): grant "Search" and "Query" on object type "Collection", object name `alias`.
    Nothing on "*", no Load/Insert/Delete/Drop: a stolen API password must not change data.
    """
    # TODO: return Role("lab05_search_api", (Grant(...), ...)) with exactly two grants
    raise NotImplementedError('return Role("lab05_search_api", (Grant(...), ...)) with exactly two grants')


def verify_key(records: Mapping[str, KeyRecord], pepper: bytes, presented: str | None,
               scope: str, now: float) -> tuple[int, str]:
    """Judge one presented API key: (HTTP status, reason), checked in this order:

    - no key: (401, "no API key")
    - malformed, unknown id, or its HMAC-SHA256(pepper, key) hex digest != record.digest:
      (401, "invalid API key"); compare digests with `hmac.compare_digest`, never `==`
    - record.revoked_at is set and <= now: (401, "API key revoked")
    - record.expires_at is set and <= now (the old key after a rotation's overlap window):
      (401, "API key expired")
    - scope not in record.scopes: (403, f"key lacks scope {scope!r}")
    - else (200, "ok")

    Keys look like "mlk_<id>_<secret>": `parse(key)` gives (id, secret) or None.
    """
    # TODO: follow the order above; one compare_digest per well-formed key
    raise NotImplementedError('follow the order above; one compare_digest per well-formed key')


def first_broken_line(lines: list[str], key: bytes) -> int | None:
    """The 1-based number of the first line that breaks the audit chain, or None if intact.

    Each line is a JSON object with "mac" and "prev". It is intact when
    - its "mac" equals HMAC-SHA256(key, canonical(entry)).hexdigest() (`canonical` from
      milvus_lab.security.audit covers every field but "mac"), compared in constant time,
    - and its "prev" equals the previous line's "mac" (GENESIS for the first line).
    A line that is not JSON breaks the chain too.
    """
    # TODO: walk the lines keeping the previous MAC
    raise NotImplementedError('walk the lines keeping the previous MAC')
