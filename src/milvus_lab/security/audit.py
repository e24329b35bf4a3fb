"""A tamper-evident audit log: JSON lines in an HMAC hash chain.

Why a chain: each line carries the MAC of the line before it (`prev`) and its own MAC over
everything it says, keyed with a secret only the writer holds (`secrets/audit.key`). Edit
a line and its MAC no longer matches; delete one and the next line's `prev` (and `seq`)
no longer follow; swap two and both break. A separate head file (last seq and MAC) catches
a truncated tail. Several processes (API replicas, the lab) append to one file under an
exclusive `flock`, so the chain never forks.

Never put a secret in an entry: callers log key ids, user names and outcomes only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from milvus_lab.pki import write_private

GENESIS = "0" * 64
KEY_BYTES = 32


def load_or_create_key(path: Path) -> bytes:
    if not path.is_file():
        write_private(path, secrets.token_bytes(KEY_BYTES).hex().encode())
    return bytes.fromhex(path.read_text().strip())


def canonical(entry: dict[str, object]) -> bytes:
    """The bytes the MAC covers: every field but `mac`, sorted keys, no spaces."""
    body = {k: v for k, v in entry.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def mac(key: bytes, entry: dict[str, object]) -> str:
    return hmac.new(key, canonical(entry), hashlib.sha256).hexdigest()


def head_path(log: Path) -> Path:
    return log.with_name(log.name + ".head")


@contextlib.contextmanager
def _locked(log: Path) -> Iterator[None]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log.with_name(log.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _last_line(log: Path) -> str | None:
    if not log.is_file() or log.stat().st_size == 0:
        return None
    with open(log, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        block = min(size, 8192)
        while True:
            fh.seek(size - block)
            lines = fh.read(block).rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or block == size:
                return lines[-1].decode()
            block = min(size, block * 2)


@dataclass
class AuditLog:
    """Append-only writer. `append` returns the entry written (with seq, prev, mac)."""

    path: Path
    key: bytes

    @classmethod
    def open(cls, path: Path, key_path: Path) -> AuditLog:
        return cls(path, load_or_create_key(key_path))

    def append(self, actor: str, action: str, outcome: str, **detail: object) -> dict[str, object]:
        with _locked(self.path):
            last = _last_line(self.path)
            prev_entry = json.loads(last) if last else None
            entry: dict[str, object] = {
                "seq": int(prev_entry["seq"]) + 1 if prev_entry else 1,
                "ts": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                "actor": actor,
                "action": action,
                "outcome": outcome,
                "detail": detail,
                "prev": prev_entry["mac"] if prev_entry else GENESIS,
            }
            entry["mac"] = mac(self.key, entry)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
            write_private(head_path(self.path),
                          json.dumps({"seq": entry["seq"], "mac": entry["mac"]}).encode())
        return entry


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based line number in the file (0: the file as a whole)
    kind: str  # edited, deleted, reordered, truncated, malformed
    message: str


@dataclass
class Verdict:
    ok: bool
    lines: int
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return f"chain intact: {self.lines} lines"
        return "; ".join(f"line {p.line}: {p.kind}: {p.message}" for p in self.problems)


def read_entries(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def verify(path: Path, key: bytes) -> Verdict:
    """Walk the chain; name each line that was edited, deleted around, reordered or cut off."""
    problems: list[Problem] = []
    raw = path.read_text().splitlines() if path.is_file() else []
    entries: list[dict[str, object] | None] = []
    for line in raw:
        try:
            entries.append(json.loads(line))
        except ValueError:
            entries.append(None)
    all_macs = {str(e.get("mac")) for e in entries if isinstance(e, dict)}
    prev_mac, expected_seq = GENESIS, 1
    for n, entry in enumerate(entries, 1):
        try:
            if not isinstance(entry, dict):
                raise TypeError("not an object")
            seq, stored = int(str(entry["seq"])), str(entry["mac"])
        except (ValueError, KeyError, TypeError):
            problems.append(Problem(n, "malformed", "not a JSON audit entry"))
            continue
        if not hmac.compare_digest(mac(key, entry), stored):
            problems.append(Problem(n, "edited", f"seq {seq}: MAC does not match its content"))
        elif entry.get("prev") != prev_mac:
            if entry.get("prev") in all_macs or seq < expected_seq:
                problems.append(Problem(n, "reordered",
                                        f"seq {seq} found where seq {expected_seq} belongs"))
            else:
                problems.append(Problem(n, "deleted",
                                        f"seq {expected_seq}..{seq - 1} missing before seq {seq}"))
        prev_mac, expected_seq = stored, seq + 1
    head_file = head_path(path)
    if head_file.is_file():
        head = json.loads(head_file.read_text())
        if int(head["seq"]) != expected_seq - 1 or head["mac"] != prev_mac:
            problems.append(Problem(len(raw), "truncated",
                                    f"log ends at seq {expected_seq - 1}, head says seq {head['seq']}"))
    return Verdict(not problems, len(raw), problems)


def who_did_what(entries: list[dict[str, object]]) -> dict[str, dict[str, int]]:
    """actor -> {"action outcome": count}: the report's table."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for e in entries:
        table[str(e["actor"])][f"{e['action']} {e['outcome']}"] += 1
    return {actor: dict(sorted(c.items())) for actor, c in sorted(table.items())}


def tamper(path: Path, line: int = 2, actor: str = "nobody") -> None:
    """An insider rewrites who did something on `line` (1-based) of the REAL log: the
    `tampered-log` weakness, which `verify` must then name."""
    lines = path.read_text().splitlines()
    entry = json.loads(lines[line - 1])
    entry["actor"] = actor
    lines[line - 1] = json.dumps(entry, sort_keys=True)
    path.write_text("\n".join(lines) + "\n")
