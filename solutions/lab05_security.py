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
    # BEGIN SOLUTION: return Role("lab05_search_api", (Grant(...), ...)) with exactly two grants
    return Role("lab05_search_api", tuple(
        Grant("Collection", alias, privilege) for privilege in ("Search", "Query")
    ))
    # END SOLUTION


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
    # BEGIN SOLUTION: follow the order above; one compare_digest per well-formed key
    if not presented:
        return 401, "no API key"
    parsed = parse(presented)
    rec = records.get(parsed[0]) if parsed else None
    digest = hmac.new(pepper, presented.encode(), hashlib.sha256).hexdigest()
    if rec is None or not hmac.compare_digest(digest, rec.digest):
        return 401, "invalid API key"
    if rec.revoked_at is not None and rec.revoked_at <= now:
        return 401, "API key revoked"
    if rec.expires_at is not None and rec.expires_at <= now:
        return 401, "API key expired"
    if scope not in rec.scopes:
        return 403, f"key lacks scope {scope!r}"
    return 200, "ok"
    # END SOLUTION


def first_broken_line(lines: list[str], key: bytes) -> int | None:
    """The 1-based number of the first line that breaks the audit chain, or None if intact.

    Each line is a JSON object with "mac" and "prev". It is intact when
    - its "mac" equals HMAC-SHA256(key, canonical(entry)).hexdigest() (`canonical` from
      milvus_lab.security.audit covers every field but "mac"), compared in constant time,
    - and its "prev" equals the previous line's "mac" (GENESIS for the first line).
    A line that is not JSON breaks the chain too.
    """
    # BEGIN SOLUTION: walk the lines keeping the previous MAC
    prev = GENESIS
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            stored = str(entry["mac"])
        except (ValueError, KeyError, TypeError):
            return number
        expected = hmac.new(key, canonical(entry), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, stored) or entry.get("prev") != prev:
            return number
        prev = stored
    return None
    # END SOLUTION
