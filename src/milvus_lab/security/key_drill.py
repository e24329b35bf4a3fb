"""The API-key lesson's moves: issue the drill's keys, show each once, and exercise the
search API with them (rate limit, revocation, rotation with an overlap window).

The lesson decides what must hold (the `run.verify` calls); this module only makes the
requests and returns HTTP status codes, so the lesson reads as "this key, this answer".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from milvus_lab.app.client import Body
from milvus_lab.pki import write_private
from milvus_lab.security import apikeys
from milvus_lab.security.apikeys import KeyRecord, KeyStore

#: The learner's verifier (solutions/lab05_security.py): (records, pepper, key, scope, now) -> (status, reason)
VerifyKey = Callable[[Mapping[str, KeyRecord], bytes, str | None, str, float], tuple[int, str]]
OWNERS = "load-users,ops,greedy-client,leaked-laptop,rotating-client"


@dataclass
class DrillKeys:
    """The plaintext keys the drill holds (the API stores only their peppered digests)."""

    load: str  # the Locust users' key (generous rate)
    admin: str  # search + admin scopes
    slow: str  # a tiny bucket: meets 429 quickly
    victim: str  # a leaked key, revoked in the lesson
    old: str  # rotated in the lesson
    victim_id: str
    old_id: str
    new: str | None = None  # the rotated key, once rotated

    def named(self) -> dict[str, str | None]:
        return {"load": self.load, "victim": self.victim, "old": self.old, "new": self.new, "none": None}


def open_store(secrets_dir: Path) -> KeyStore:
    """The API's key records (digests only) and the pepper, in the lab's 0700 secrets dir."""
    return KeyStore(secrets_dir / "apikeys.json", secrets_dir / "apikey-pepper")


def issue(store: KeyStore) -> DrillKeys:
    load, _ = store.create("load-users", ("search",), rate_per_s=1000, burst=2000)
    admin, _ = store.create("ops", ("search", "admin"))
    slow, _ = store.create("greedy-client", ("search",), rate_per_s=0.2, burst=2)
    victim, victim_rec = store.create("leaked-laptop", ("search",))
    old, old_rec = store.create("rotating-client", ("search",))
    return DrillKeys(load, admin, slow, victim, old, victim_rec.key_id, old_rec.key_id)


def save_once(keys_dir: Path, name: str, key: str) -> tuple[Path, str]:
    """A new key goes to a 0600 file, ONCE; what may be shown is its id only."""
    path = write_private(keys_dir / f"{name}.key", key.encode())
    parsed = apikeys.parse(key)
    return path, f"mlk_{parsed[0] if parsed else '?'}_…"


class KeyedSearch:
    """POST /search through the router with one key per call; answers are status codes."""

    def __init__(self, url: str, body: Body, timeout: float = 10.0) -> None:
        self.body = body
        self.http = httpx.Client(base_url=url, timeout=timeout)

    def response(self, key: str) -> httpx.Response:
        return self.http.post("/search", json=self.body, headers={"X-API-Key": key})

    def status(self, key: str) -> int:
        return self.response(key).status_code

    def __enter__(self) -> KeyedSearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()


def until_rate_limited(search: KeyedSearch, key: str, tries: int = 20) -> list[int]:
    """Each replica keeps its own bucket (burst 2 + 0.2/s): 2 replicas allow 4 + 0.4/s, so
    `tries` quick requests meet a 429 however slow the machine is."""
    codes: list[int] = []
    while len(codes) < tries and 429 not in codes:
        codes.append(search.status(key))
    return codes


@dataclass(frozen=True)
class Rotation:
    during_overlap: list[int]  # [old key, new key] while both are valid
    replay_after: int  # the old key once the window ended
    new_id: str


def rotate(store: KeyStore, keys: DrillKeys, search: KeyedSearch, overlap_s: float) -> Rotation:
    """Rotate the old key; both work during the overlap, then the old one is replayed.
    The window is the lesson, not a wait for state: we sleep until it ends."""
    keys.new, new_rec = store.rotate(keys.old_id, overlap_s=overlap_s)
    both = [search.status(keys.old), search.status(keys.new)]
    ends = store.records()[keys.old_id].expires_at or time.time()
    time.sleep(max(0.0, ends - time.time()) + 0.2)
    return Rotation(both, search.status(keys.old), new_rec.key_id)


def learner_verdicts(verify_key: VerifyKey, store: KeyStore, keys: DrillKeys) -> dict[str, int]:
    """The learner's verifier judges the same keys the API judged, at the same moment."""
    records, now = store.records(), time.time()
    return {name: verify_key(records, store.pepper, key, "search", now)[0]
            for name, key in keys.named().items()}


def expected_verdicts(victim_revoked: bool) -> dict[str, int]:
    return {"load": 200, "victim": 401 if victim_revoked else 200, "old": 401, "new": 200, "none": 401}
