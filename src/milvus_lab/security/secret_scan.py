"""Secret scan of the repository with detect-secrets against the committed `.secrets.baseline`.

Why a baseline: a scanner that cries about every known false positive (MinIO's public
default password in docker-compose.yml, a test fixture) gets ignored. The baseline records
those once, audited (`is_secret: false`); the scan then fails only on a NEW finding.
Same as `detect-secrets-hook --baseline .secrets.baseline $(git ls-files)`.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

BASELINE = ".secrets.baseline"
UPDATE_COMMAND = "detect-secrets scan --baseline .secrets.baseline && detect-secrets audit .secrets.baseline"


@dataclass(frozen=True)
class Finding:
    filename: str
    line: int
    type: str


@dataclass(frozen=True)
class ScanResult:
    files: int
    new: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.new


def tracked_files(repo: Path, exclude: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True)
    pattern = re.compile(exclude) if exclude else None
    return [f for f in out.stdout.decode().split("\0")
            if f and (repo / f).is_file() and not (pattern and pattern.search(f))]


def scan(repo: Path, files: list[str] | None = None, baseline_path: Path | None = None) -> ScanResult:
    """Scan `files` (default: the git-tracked files, minus the baseline's exclusions) and
    return the findings the baseline does not already hold."""
    from detect_secrets.core import baseline
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import transient_settings

    path = baseline_path or repo / BASELINE
    loaded = baseline.load_from_file(str(path))
    known = baseline.load(loaded, str(path))
    exclude = loaded.get("filters_used", [])
    file_regex = next((f.get("pattern", [""])[0] for f in exclude
                       if f.get("path") == "detect_secrets.filters.regex.should_exclude_file"), "")
    names = files if files is not None else tracked_files(repo, file_regex)
    audited = {(name, s.secret_hash, s.type) for name, s in known}
    new: list[Finding] = []
    with transient_settings({"plugins_used": loaded["plugins_used"],
                             "filters_used": loaded["filters_used"]}):
        for name in names:
            for secret in scan_file(str(repo / name)):
                if (name, secret.secret_hash, secret.type) not in audited:
                    new.append(Finding(name, secret.line_number or 0, secret.type))
    return ScanResult(len(names), sorted(new, key=lambda f: (f.filename, f.line)))
