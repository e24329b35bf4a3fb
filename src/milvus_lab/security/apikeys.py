"""API keys for the search API: shown once, stored as peppered HMAC-SHA256, scoped, rotated.

Why HMAC-SHA256 with a server-side pepper and not argon2id: argon2id exists to make
guessing a LOW-entropy secret (a human password) slow; our keys are 256 random bits, which
no guessing attack can cover, so the slow hash buys nothing and would cost ~200 ms of CPU
per request (a denial of service against ourselves). The pepper lives only on the server
(`secrets/apikey-pepper`, 0600), so a leaked key store alone cannot even be checked offline.
A lookup id (public, in the key) finds the record; the digest is compared with
`hmac.compare_digest` (constant time), and an unknown id still costs one HMAC so timing
says nothing about which ids exist.

Key format: ``mlk_<id>_<secret>``. The store is a JSON file (0600) the API replicas watch:
a change (rotation, revocation) reaches every running replica on its next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from milvus_lab.pki import write_private

PREFIX = "mlk"
SCOPES = ("search", "admin")
PEPPER_BYTES = 32
_DUMMY_DIGEST = "0" * 64


@dataclass(frozen=True)
class KeyRecord:
    """What the server keeps about a key: never the key itself."""

    key_id: str
    owner: str
    scopes: tuple[str, ...]
    digest: str  # HMAC-SHA256(pepper, key), hex
    created_at: float
    expires_at: float | None = None  # set on rotation: end of the overlap window
    revoked_at: float | None = None
    replaced_by: str | None = None
    rate_per_s: float = 50.0
    burst: int = 100

    def status(self, now: float) -> str:
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def public(self, now: float) -> dict[str, object]:
        """Metadata safe to show (no digest)."""
        d = asdict(self)
        d.pop("digest")
        d["status"] = self.status(now)
        return d


@dataclass(frozen=True)
class Decision:
    """The outcome of checking one presented key."""

    ok: bool
    status: int  # 200, 401, 403, 429
    reason: str
    key_id: str | None = None
    owner: str | None = None
    retry_after: float = 0.0


def digest(pepper: bytes, key: str) -> str:
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def parse(key: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def load_or_create_pepper(path: Path) -> bytes:
    if not path.is_file():
        write_private(path, secrets.token_bytes(PEPPER_BYTES).hex().encode())
    return bytes.fromhex(path.read_text().strip())


class KeyStore:
    """The key records on disk (0600 JSON) plus the pepper; the admin side of API keys."""

    def __init__(self, path: Path, pepper_path: Path, clock: Callable[[], float] = time.time):
        self.path = path
        self.pepper = load_or_create_pepper(pepper_path)
        self.pepper_path = pepper_path
        self.clock = clock

    def records(self) -> dict[str, KeyRecord]:
        if not self.path.is_file():
            return {}
        raw = json.loads(self.path.read_text())
        return {k: KeyRecord(**{**v, "scopes": tuple(v["scopes"])}) for k, v in raw.items()}

    def _save(self, records: dict[str, KeyRecord]) -> None:
        body = json.dumps({k: asdict(v) for k, v in records.items()}, indent=1, sort_keys=True)
        write_private(self.path, body.encode())

    def create(self, owner: str, scopes: tuple[str, ...], *, rate_per_s: float = 50.0,
               burst: int = 100) -> tuple[str, KeyRecord]:
        """A new random key. The plaintext is returned ONCE; only its digest is stored."""
        bad = [s for s in scopes if s not in SCOPES]
        if not scopes or bad:
            raise ValueError(f"scopes must be a non-empty subset of {SCOPES}, got {scopes}")
        records = self.records()
        key_id = secrets.token_hex(4)
        while key_id in records:
            key_id = secrets.token_hex(4)
        key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        rec = KeyRecord(key_id, owner, tuple(scopes), digest(self.pepper, key), self.clock(),
                        rate_per_s=rate_per_s, burst=burst)
        records[key_id] = rec
        self._save(records)
        return key, rec

    def rotate(self, key_id: str, overlap_s: float) -> tuple[str, KeyRecord]:
        """A new key for the same owner and scopes; the old one works `overlap_s` more seconds
        (clients switch during the window), then is refused as expired."""
        old = self.records()[key_id]
        key, new = self.create(old.owner, old.scopes, rate_per_s=old.rate_per_s, burst=old.burst)
        records = self.records()
        records[key_id] = replace(old, expires_at=self.clock() + overlap_s, replaced_by=new.key_id)
        self._save(records)
        return key, new

    def revoke(self, key_id: str) -> KeyRecord:
        records = self.records()
        rec = replace(records[key_id], revoked_at=self.clock())
        records[key_id] = rec
        self._save(records)
        return rec


class TokenBucket:
    """Per-key rate limit: `rate` tokens per second, up to `burst` saved."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.at = float(burst), now

    def take(self, now: float) -> float:
        """0 when allowed, else seconds until a token is there."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class Verifier:
    """The request-path side: cached records (reloaded when the file changes), HMAC check,
    scope check, per-key rate limit. Thread-safe; about 2-4 microseconds per check."""

    path: Path
    pepper: bytes
    clock: Callable[[], float] = time.time
    _records: dict[str, KeyRecord] = field(default_factory=dict)
    _stamp: tuple[int, int] = (0, 0)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_files(cls, path: Path, pepper_path: Path) -> Verifier:
        return cls(path, bytes.fromhex(pepper_path.read_text().strip()))

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._records, self._stamp = {}, (0, 0)
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            raw = json.loads(self.path.read_text())
            self._records = {k: KeyRecord(**{**v, "scopes": tuple(v["scopes"])})
                             for k, v in raw.items()}
            self._stamp = stamp

    def snapshot(self) -> dict[str, KeyRecord]:
        with self._lock:
            self._refresh()
            return dict(self._records)

    def check(self, presented: str | None, scope: str) -> Decision:
        if not presented:
            return Decision(False, 401, "no API key")
        parsed = parse(presented)
        with self._lock:
            self._refresh()
            rec = self._records.get(parsed[0]) if parsed else None
            # one HMAC whatever happens, compared in constant time
            good = hmac.compare_digest(digest(self.pepper, presented),
                                       rec.digest if rec else _DUMMY_DIGEST)
            if rec is None or not good:
                return Decision(False, 401, "invalid API key", parsed[0] if parsed else None)
            now = self.clock()
            state = rec.status(now)
            if state != "active":
                return Decision(False, 401, f"API key {state}", rec.key_id, rec.owner)
            if scope not in rec.scopes:
                return Decision(False, 403, f"key lacks scope {scope!r}", rec.key_id, rec.owner)
            bucket = self._buckets.get(rec.key_id)
            if bucket is None:
                bucket = self._buckets[rec.key_id] = TokenBucket(rec.rate_per_s, rec.burst, now)
            wait = bucket.take(now)
            if wait:
                return Decision(False, 429, "rate limited", rec.key_id, rec.owner, wait)
            return Decision(True, 200, "ok", rec.key_id, rec.owner)


def bearer(authorization: str | None, x_api_key: str | None) -> str | None:
    """The presented key: `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    if x_api_key:
        return x_api_key.strip()
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None
