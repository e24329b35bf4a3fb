"""Where the monitoring binaries are: Debian's prometheus (+ promtool) and
prometheus-alertmanager (+ amtool), and Sloth built by tools/sloth/build.sh.

A missing one is a PrerequisiteError that names the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from milvus_lab.errors import PrerequisiteError

SLOTH_VERSION = "v0.12.0"

# binary -> (other names it goes by, the fix)
_TOOLS: dict[str, tuple[tuple[str, ...], str]] = {
    "prometheus": ((), "apt-get install prometheus   (macOS: brew install prometheus)"),
    "promtool": ((), "apt-get install prometheus   (promtool comes with it)"),
    "alertmanager": (("prometheus-alertmanager",),
                     "apt-get install prometheus-alertmanager   (macOS: brew install alertmanager)"),
    "amtool": ((), "apt-get install prometheus-alertmanager   (amtool comes with it)"),
}


def fix_for(tool: str) -> str:
    return _TOOLS[tool][1]


def find(tool: str) -> str | None:
    """The path of `tool` (or its Debian name), or None."""
    aliases, _ = _TOOLS[tool]
    for name in (tool, *aliases):
        path = shutil.which(name)
        if path:
            return path
    return None


def require(tool: str) -> str:
    path = find(tool)
    if path is None:
        raise PrerequisiteError(f"{tool} is not installed (lab 06 runs a real one on 127.0.0.1)",
                                fix=fix_for(tool))
    return path


def sloth_path() -> Path:
    """Where tools/sloth/build.sh caches the binary (MILVUS_LAB_SLOTH_CACHE overrides)."""
    root = os.environ.get("MILVUS_LAB_SLOTH_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "milvus-lab" / "sloth")
    return Path(root) / SLOTH_VERSION / "sloth"


def require_sloth() -> Path:
    path = sloth_path()
    if not os.access(path, os.X_OK):
        raise PrerequisiteError(f"Sloth {SLOTH_VERSION} is not built ({path} missing)",
                                fix="bash tools/sloth/build.sh   (needs Go; several minutes, cached)")
    return path


def check_rules(paths: Sequence[Path]) -> subprocess.CompletedProcess[str]:
    """`promtool check rules` on `paths` (the dry run's proof that the scaled rules load)."""
    return subprocess.run([require("promtool"), "check", "rules", *map(str, paths)],
                          capture_output=True, text=True, timeout=120, check=False)
