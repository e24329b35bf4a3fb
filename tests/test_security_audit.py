"""The audit chain: an intact log verifies; edits, deletions, reorders and a cut tail are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from milvus_lab.security import audit


@pytest.fixture
def log(tmp_path: Path) -> tuple[Path, bytes]:
    writer = audit.AuditLog.open(tmp_path / "audit.jsonl", tmp_path / "secrets" / "audit.key")
    for i in range(5):
        writer.append(f"user{i % 2}", "key.create", "ok", key_id=f"k{i}")
    return writer.path, writer.key


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def test_intact_chain_verifies(log: tuple[Path, bytes]) -> None:
    path, key = log
    verdict = audit.verify(path, key)
    assert verdict.ok and verdict.lines == 5, verdict.summary()
    assert (path.stat().st_mode & 0o777) == 0o600
    assert ((path.parent / "secrets" / "audit.key").stat().st_mode & 0o777) == 0o600


def test_edited_line_is_named(log: tuple[Path, bytes]) -> None:
    path, key = log
    lines = _lines(path)
    entry = json.loads(lines[2])
    entry["outcome"] = "denied"
    lines[2] = json.dumps(entry, sort_keys=True)
    _write(path, lines)
    verdict = audit.verify(path, key)
    assert not verdict.ok
    assert [(p.line, p.kind) for p in verdict.problems] == [(3, "edited")]


def test_deleted_line_is_named(log: tuple[Path, bytes]) -> None:
    path, key = log
    lines = _lines(path)
    del lines[1]
    _write(path, lines)
    verdict = audit.verify(path, key)
    assert [(p.line, p.kind) for p in verdict.problems] == [(2, "deleted")]
    assert "seq 2..2 missing" in verdict.problems[0].message


def test_reordered_lines_are_named(log: tuple[Path, bytes]) -> None:
    path, key = log
    lines = _lines(path)
    lines[1], lines[2] = lines[2], lines[1]
    _write(path, lines)
    verdict = audit.verify(path, key)
    kinds = {p.kind for p in verdict.problems}
    assert kinds == {"reordered"} and verdict.problems[0].line == 2, verdict.summary()


def test_cut_tail_is_caught_by_the_head(log: tuple[Path, bytes]) -> None:
    path, key = log
    _write(path, _lines(path)[:-1])
    verdict = audit.verify(path, key)
    assert [p.kind for p in verdict.problems] == ["truncated"]


def test_forged_mac_without_the_key_fails(log: tuple[Path, bytes]) -> None:
    path, key = log
    assert not audit.verify(path, b"another key").ok


def test_who_did_what(log: tuple[Path, bytes]) -> None:
    path, _ = log
    table = audit.who_did_what(audit.read_entries(path))
    assert table == {"user0": {"key.create ok": 3}, "user1": {"key.create ok": 2}}
