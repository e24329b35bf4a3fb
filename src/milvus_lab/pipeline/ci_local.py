"""Check the emitted CI files and run them here, for real, with the CI systems' local runners.

- lint: actionlint (+ shellcheck on every `run:`), check-jsonschema's bundled GitHub workflow
  and GitLab CI schemas
- act (GitHub Actions): self-hosted platform (`run:` steps on this host), no cache server,
  remote actions other than checkout replaced by deploy/pipeline/act-stubs/
- gitlab-ci-local (GitLab CI, pinned 4.70.0): shell executor, the manual prod job started

Both run in a scratch copy of the repository (a fresh git repo on the branch being
simulated), never in the checkout, with the ready venv (MILVUS_LAB_CI_PYTHON) so the jobs
run the pipeline's stages, not a package install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from milvus_lab.errors import PrerequisiteError
from milvus_lab.pipeline.emit import GITHUB_PATH, GITLAB_PATH

STUBS = Path("deploy/pipeline/act-stubs")
REMOTE_ACTIONS = {"actions/setup-python@v5": "setup-python", "actions/upload-artifact@v4": "upload-artifact",
                  "actions/download-artifact@v4": "download-artifact"}


@dataclass
class ToolRun:
    tool: str
    argv: list[str]
    returncode: int
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def built_tool(repo: Path, tool: str) -> str:
    """The cached binary of tools/<tool>/build.sh, or exit 2 saying how to build it."""
    path = subprocess.run(["bash", str(repo / "tools" / tool / "build.sh"), "--print-path"],
                          capture_output=True, text=True, check=False).stdout.strip()
    if not path or not Path(path).is_file():
        raise PrerequisiteError(f"{tool} is not built", fix=f"bash tools/{tool}/build.sh")
    return path


def _run(tool: str, argv: list[str], cwd: Path, timeout: float = 900, env: dict[str, str] | None = None) -> ToolRun:
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
        code, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, out = 124, f"timed out after {timeout:.0f}s\n{exc.stdout or ''}"
    return ToolRun(tool, argv, code, round(time.monotonic() - t0, 2), out if isinstance(out, str) else str(out))


def schemas(repo: Path) -> list[ToolRun]:
    """check-jsonschema's bundled GitHub workflow and GitLab CI schemas on the emitted files."""
    jsonschema = [sys.executable, "-m", "check_jsonschema"]
    return [
        _run("check-jsonschema github", [*jsonschema, "--builtin-schema", "vendor.github-workflows",
                                         str(GITHUB_PATH)], repo),
        _run("check-jsonschema gitlab", [*jsonschema, "--builtin-schema", "vendor.gitlab-ci", str(GITLAB_PATH)], repo),
    ]


def lint(repo: Path) -> list[ToolRun]:
    """actionlint (+shellcheck on every `run:`), then both bundled schemas."""
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        raise PrerequisiteError("shellcheck is not on PATH", fix="apt-get install shellcheck")
    actionlint = built_tool(repo, "actionlint")
    return [_run("actionlint", [actionlint, f"-shellcheck={shellcheck}", str(GITHUB_PATH)], repo), *schemas(repo)]


CHECK_NAMES = {"actionlint": "actionlint + shellcheck", "check-jsonschema github": "GitHub workflow schema",
               "check-jsonschema gitlab": "GitLab CI schema"}
"""The verification each tool's run becomes in lab 02's report."""


def lint_or_schemas(repo: Path) -> tuple[list[ToolRun], str | None]:
    """actionlint and both schemas; without a built actionlint, both schemas and the reason
    (the lab then shows actionlint as skipped, not passed)."""
    try:
        return lint(repo), None
    except PrerequisiteError as exc:
        return schemas(repo), f"{exc.message}: {exc.fix}"


def scratch_repo(repo: Path, dest: Path, branch: str) -> Path:
    """The checkout's tracked and new (not ignored) files as a fresh one-commit repo on `branch`."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    files = subprocess.run(["git", "-C", str(repo), "ls-files", "-co", "--exclude-standard", "-z"],
                           capture_output=True, check=True).stdout
    for name in filter(None, os.fsdecode(files).split("\0")):
        copy_entry(repo / name, dest / name)
    git = ["git", "-C", str(dest), "-c", "user.email=ci@example.invalid", "-c", "user.name=ci"]
    subprocess.run([*git, "init", "-q", "-b", branch], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "scratch copy for a local CI run"], check=True)
    return dest


def copy_entry(source: Path, target: Path) -> None:
    """One file of the checkout into the scratch copy: a symlink stays a link, a file keeps its
    mode; a tracked file deleted from the checkout is left out (it is not in the work tree)."""
    if not source.is_symlink() and not source.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        target.symlink_to(os.readlink(source))
    else:
        shutil.copy2(source, target)


def run_act(repo: Path, work: Path, milvus_port: int, branch: str = "main", event: str = "push") -> ToolRun:
    """The emitted GitHub workflow under act (self-hosted platform, no cache server)."""
    scratch = scratch_repo(repo, work / "repo", branch)
    artifacts = work / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    argv = [built_tool(repo, "act"), event, "-W", str(GITHUB_PATH), "-P", "ubuntu-latest=-self-hosted",
            "--no-cache-server", "--env", f"ACT_ARTIFACTS={artifacts}",
            "--env", f"MILVUS_LAB_CI_PYTHON={sys.executable}", "--env", f"MILVUS_LAB_MILVUS_PORT={milvus_port}"]
    for action, stub in REMOTE_ACTIONS.items():
        argv += ["--local-repository", f"{action}={repo / STUBS / stub}"]
    return _run("act", argv, scratch, env={"ACT_DISABLE_VERSION_CHECK": "1"})


def run_gitlab(repo: Path, work: Path, milvus_port: int, branch: str = "main") -> ToolRun:
    """The emitted .gitlab-ci.yml under gitlab-ci-local (shell executor; the manual prod job run)."""
    if not shutil.which("rsync"):
        raise PrerequisiteError("gitlab-ci-local needs rsync", fix="apt-get install rsync")
    scratch = scratch_repo(repo, work / "repo", branch)
    argv = [built_tool(repo, "gitlab-ci-local"), "--variable", f"MILVUS_LAB_CI_PYTHON={sys.executable}",
            "--variable", f"MILVUS_LAB_MILVUS_PORT={milvus_port}", "--manual", "production"]
    return _run("gitlab-ci-local", argv, scratch)


def job_results(run: ToolRun) -> dict[str, str]:
    """Job -> passed/failed, read from the runner's own summary lines."""
    out: dict[str, str] = {}
    for line in run.output.splitlines():
        text = line.strip()
        if run.tool == "act" and "🏁" in text and text.startswith("[") and "/" in text:
            job = text[1:].split("]", 1)[0].split("/", 1)[1].split(" (", 1)[0]
            out[job] = "passed" if "succeeded" in text else "failed"
        elif run.tool == "gitlab-ci-local" and text[:6] in ("PASS  ", "FAIL  "):
            out[text[6:].split()[0]] = "passed" if text.startswith("PASS") else "failed"
    return out
