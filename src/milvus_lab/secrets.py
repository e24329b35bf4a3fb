"""Generated secrets under `.milvus-lab/secrets/`: created 0600 in a 0700 directory, never printed.

One place writes them, so no caller can forget the mode or leave a readable temp file.
"""

from __future__ import annotations

import os
import secrets as _random
from pathlib import Path

from milvus_lab.settings import Settings


def secrets_dir(settings: Settings, *parts: str) -> Path:
    """`.milvus-lab/secrets/<parts>` (mode 0700 on every level we create)."""
    path = settings.state_dir / "secrets"
    for part in ("", *parts):
        path = path / part if part else path
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    return path


def write_secret(path: Path, data: bytes) -> Path:
    """Write `data` to `path` with mode 0600 from the first byte (atomic replace)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
    tmp.replace(path)
    return path


def read_or_create_password(path: Path, length: int = 24) -> str:
    """The password stored at `path`, or a new random one written there (0600)."""
    if path.is_file():
        value = path.read_text().strip()
        if value:
            return value
    value = _random.token_urlsafe(length)
    write_secret(path, value.encode())
    return value
