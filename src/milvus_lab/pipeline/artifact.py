"""The build stage: one wheel, named by the sha256 of its bytes (the content-addressed artifact).

SOURCE_DATE_EPOCH is the commit time, so rebuilding the same commit gives the same bytes and
the same digest: what was tested is provably what gets deployed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Artifact:
    path: Path
    digest: str  # "sha256:<hex>"
    size: int

    @property
    def short(self) -> str:
        return self.digest.split(":", 1)[1][:12]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def git(repo: Path, *args: str, default: str = "") -> str:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return default


def build_wheel(repo: Path, out_dir: Path) -> tuple[Artifact, subprocess.CompletedProcess[str]]:
    """`pip wheel` the package (no deps, no network) into `out_dir`; the wheel and the run."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": git(repo, "log", "-1", "--format=%ct", default="315532800")}
    with tempfile.TemporaryDirectory(prefix="wheel-") as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
             "--quiet", "--wheel-dir", tmp, str(repo)],
            capture_output=True, text=True, env=env,
        )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise BuildFailed(proc)
        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / wheels[0].name
        shutil.copyfile(wheels[0], dest)
    return Artifact(dest, sha256_file(dest), dest.stat().st_size), proc


class BuildFailed(Exception):
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        super().__init__(f"pip wheel exited {proc.returncode}")
        self.proc = proc
