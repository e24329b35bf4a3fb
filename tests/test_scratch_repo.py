"""The scratch copy that act and gitlab-ci-local run in: made with git and Python alone (a
brand-new machine has no rsync, and act must not need it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from milvus_lab.pipeline import ci_local


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.invalid", "-c", "user.name=t",
                           *args], capture_output=True, text=True, check=True).stdout


def test_scratch_copy_holds_the_work_tree_not_the_ignored_files(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    (repo / "src").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "feature")
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "src" / "tool.sh").write_text("echo hi\n")
    (repo / "src" / "tool.sh").chmod(0o755)
    (repo / "gone.txt").write_text("deleted after the commit\n")
    (repo / "link").symlink_to("src/tool.sh")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    (repo / "gone.txt").unlink()
    (repo / "new.txt").write_text("not yet committed\n")
    (repo / "run.log").write_text("ignored\n")

    dest = ci_local.scratch_repo(repo, tmp_path / "scratch", "main")

    files = sorted(git(dest, "ls-files").split())
    assert files == [".gitignore", "link", "new.txt", "src/tool.sh"]
    assert os.access(dest / "src" / "tool.sh", os.X_OK)
    assert (dest / "link").is_symlink() and os.readlink(dest / "link") == "src/tool.sh"
    assert git(dest, "branch", "--show-current").strip() == "main"
    assert git(dest, "rev-list", "--count", "HEAD").strip() == "1"
    assert not (dest / "run.log").exists()
