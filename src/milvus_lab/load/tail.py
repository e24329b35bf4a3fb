"""Follow a file another process appends lines to (a Locust timeline, a request log)."""

from __future__ import annotations

from pathlib import Path


class LineTail:
    """Each `new_lines()` returns the complete lines appended since the last call.

    An unfinished last line (the writer is mid-write) waits for the next call; a missing
    file is simply nothing yet.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def new_lines(self) -> list[bytes]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        return [line for line in lines if line.strip()]
