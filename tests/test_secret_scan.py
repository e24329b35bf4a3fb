"""The repository carries no unbaselined secret (detect-secrets), and the scan can fail."""

from __future__ import annotations

import shutil
from pathlib import Path

from milvus_lab.security import secret_scan
from milvus_lab.settings import find_repo_root

REPO = find_repo_root(Path(__file__).parent)


def test_repository_has_no_new_secret() -> None:
    result = secret_scan.scan(REPO)
    assert result.files > 100  # it really scanned the tracked files
    listing = "\n".join(f"  {f.filename}:{f.line} {f.type}" for f in result.new)
    assert result.ok, (
        f"new secrets found (not in {secret_scan.BASELINE}):\n{listing}\n"
        f"remove them; if one is a false positive: {secret_scan.UPDATE_COMMAND}"
    )


def test_a_new_secret_is_caught(tmp_path: Path) -> None:
    shutil.copy(REPO / secret_scan.BASELINE, tmp_path / secret_scan.BASELINE)
    fake = "AKIA" + "Q3EGRIF5ZLXV7M2P"  # built at run time so this file holds no key
    (tmp_path / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{fake}"\n')
    (tmp_path / "clean.py").write_text("x = 1\n")
    result = secret_scan.scan(tmp_path, files=["settings.py", "clean.py"])
    assert not result.ok
    assert [(f.filename, f.line, f.type) for f in result.new] == [
        ("settings.py", 1, "AWS Access Key")
    ]
