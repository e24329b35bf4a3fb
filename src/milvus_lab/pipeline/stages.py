"""Each stage of the pipeline: a real tool run (ruff, pytest, bandit, detect-secrets,
osv-scanner, cyclonedx-py, pip wheel) or a real release step (registry, replicas, gates).

`run_stage(name, ...)` is what the local runner and every emitted CI job call
(`python -m milvus_lab.pipeline stage NAME`), so all three run the same thing.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from pymilvus.exceptions import MilvusException

from milvus_lab.errors import PrerequisiteError
from milvus_lab.pipeline import backend, deploy, drills, envconfig, health
from milvus_lab.pipeline.artifact import BuildFailed, build_wheel, git
from milvus_lab.pipeline.context import RunContext
from milvus_lab.pipeline.definition import Pipeline, Stage
from milvus_lab.pipeline.registry import Registry, RegistryError
from milvus_lab.settings import Settings

ENV_DIR = Path("deploy/pipeline/environments")


@dataclass
class StageResult:
    name: str
    status: str  # passed | failed | skipped | blocked
    seconds: float = 0.0
    detail: str = ""
    commands: list[str] = field(default_factory=list)
    output: str = ""  # tail of the failing tool's output
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> digest or path

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "skipped", "blocked")


class StageFailed(Exception):
    def __init__(self, detail: str, output: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.output = output


@dataclass
class StageRun:
    """Everything a stage can touch."""

    settings: Settings
    pipeline: Pipeline
    ctx: RunContext
    impl: ModuleType
    commands: list[str] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def repo(self) -> Path:
        return self.settings.repo_root

    @property
    def registry(self) -> Registry:
        return Registry(self.settings.path("pipeline", "registry", "x").parent)

    def paths(self, key: str) -> list[str]:
        value = self.pipeline.paths[key]
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    def tool(self, argv: list[str], ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        """Run one tool in the repo; a non-zero exit fails the stage with the tool's own output."""
        self.commands.append(shlex.join(_display(argv)))
        env = {**os.environ, "NO_COLOR": "1"}
        proc = subprocess.run(argv, cwd=self.repo, capture_output=True, text=True, env=env)
        if proc.returncode not in ok_codes:
            out = (proc.stdout + proc.stderr).strip().splitlines()
            name = argv[2] if argv[0] == sys.executable and len(argv) > 2 else Path(argv[0]).name
            raise StageFailed(f"{name.split('.')[0]} exited {proc.returncode}", "\n".join(out[-25:]))
        return proc


def _display(argv: list[str]) -> list[str]:
    """`python -m ruff` reads better than the venv's interpreter path."""
    return ["python", *argv[1:]] if argv and argv[0] == sys.executable else argv


def py(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def osv_scanner(repo: Path) -> str:
    """The pinned osv-scanner binary (built by tools/osv-scanner/build.sh, cached outside the repo)."""
    explicit = os.environ.get("MILVUS_LAB_OSV_SCANNER")
    if explicit:
        return explicit
    path = subprocess.run(["bash", str(repo / "tools/osv-scanner/build.sh"), "--print-path"],
                          capture_output=True, text=True, check=False).stdout.strip()
    if not path or not Path(path).is_file():
        raise PrerequisiteError("osv-scanner is not built", fix="bash tools/osv-scanner/build.sh  (Go, ~8 min cold, cached)")
    return path


# --- check stages --------------------------------------------------------------------------
def lint(run: StageRun) -> str:
    extra = drills.fault_files(run.settings, run.ctx.inject, "lint")
    run.tool(py("ruff", "check", "--no-cache", *run.paths("lint"), *extra))
    return f"ruff: clean ({len(run.paths('lint')) + len(extra)} paths)"


def unit_tests(run: StageRun) -> str:
    extra = drills.fault_files(run.settings, run.ctx.inject, "test")
    # its own basetemp in the state dir: pytest prunes old /tmp/pytest-of-<user>/pytest-N dirs,
    # which may be the caller's (a test running this lab keeps its Milvus data there)
    basetemp = run.settings.path("pipeline", "pytest-tmp")
    proc = run.tool(py("pytest", "-q", "-p", "no:cacheprovider", "--no-header", f"--basetemp={basetemp}",
                       *run.paths("tests"), *extra))
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "pytest passed"


def security(run: StageRun) -> str:
    targets = run.paths("security")
    run.tool(py("bandit", "-q", "-r", "-ll", *targets))
    secret_files = [str(p) for p in (run.repo / t for t in targets) for p in
                    ([p for p in sorted(Path(p).rglob("*.py"))] if Path(p).is_dir() else [p])]
    secret_files += drills.fault_files(run.settings, run.ctx.inject, "secret")
    run.tool(py("detect_secrets.pre_commit_hook", *secret_files))
    db = fixture_db(run)
    lockfiles = [*run.paths("lockfile"), *drills.fault_files(run.settings, run.ctx.inject, "vuln")]
    args = [a for lf in lockfiles for a in ("--lockfile", f"requirements.txt:{lf}")]
    run.tool([osv_scanner(run.repo), "scan", "source", "--offline-vulnerabilities",
              "--local-db-path", str(db), *args])
    return f"bandit, detect-secrets ({len(secret_files)} files), osv-scanner ({len(lockfiles)} lockfile): clean"


def fixture_db(run: StageRun) -> Path:
    """The fixture OSV records zipped into the layout osv-scanner reads offline."""
    src = run.repo / str(run.pipeline.paths["osv_db"]) / "PyPI"
    db = run.settings.path("pipeline", "osv-db", "x").parent
    zpath = db / "osv-scanner" / "PyPI" / "all.zip"
    zpath.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zpath, "w") as zf:
        for record in sorted(src.glob("*.json")):
            zf.write(record, record.name)
    return db


def sbom(run: StageRun) -> str:
    out = run.settings.path("pipeline", "sbom.cdx.json")
    run.tool(py("cyclonedx_py", "requirements", "--of", "JSON", "--output-reproducible",
                "-o", str(out), run.paths("lockfile")[0]))
    from milvus_lab.pipeline.artifact import sha256_file

    digest = sha256_file(out)
    run.ctx.sbom = {"path": str(out), "digest": digest}
    run.artifacts["sbom"] = digest
    import json

    components = len(json.loads(out.read_text()).get("components", []))
    return f"CycloneDX SBOM: {components} components, {digest[:19]}"


# --- release stages ------------------------------------------------------------------------
def build(run: StageRun) -> str:
    run.commands.append("python -m pip wheel --no-deps --no-build-isolation .  (SOURCE_DATE_EPOCH=commit time)")
    try:
        art, _ = build_wheel(run.repo, run.settings.path("pipeline", "dist", "x").parent)
    except BuildFailed as exc:
        raise StageFailed(str(exc), (exc.proc.stdout + exc.proc.stderr)[-2000:]) from exc
    run.ctx.artifact = {"path": str(art.path), "digest": art.digest, "size": art.size, "name": art.path.name}
    run.ctx.git_sha = run.ctx.git_sha or git(run.repo, "rev-parse", "HEAD", default="0" * 40)
    from milvus_lab import __version__

    run.ctx.version = run.ctx.version or __version__
    run.artifacts[art.path.name] = art.digest
    return f"{art.path.name} {art.size // 1024} KiB {art.digest[:19]}"


def _need_artifact(run: StageRun) -> str:
    if not run.ctx.digest:
        raise StageFailed("no artifact in this run: the build stage has not run")
    return run.ctx.digest


def tag(run: StageRun) -> str:
    _need_artifact(run)
    try:
        run.ctx.tags = run.impl.release_tags(run.ctx.version, run.ctx.git_sha, run.ctx.branch)
    except ValueError as exc:
        raise StageFailed(f"tag scheme refused the build: {exc}") from exc
    return ", ".join(run.ctx.tags)


def push(run: StageRun) -> str:
    digest = _need_artifact(run)
    reg = run.registry
    pushed = reg.push(Path(str(run.ctx.artifact["path"])))
    if pushed != digest:
        raise StageFailed(f"pushed {pushed} but built {digest}: the artifact changed after the build")
    for t in run.ctx.tags:
        reg.tag(t, digest)
        if reg.resolve(t) != digest:
            raise StageFailed(f"tag {t} does not resolve to {digest}")
    run.artifacts["registry"] = digest
    return f"{digest[:19]} <- {', '.join(run.ctx.tags)}"


# --- deploy, gates, promotion --------------------------------------------------------------
def _configs(run: StageRun) -> dict[str, envconfig.Config]:
    return envconfig.validate(run.repo / ENV_DIR, run.ctx.overrides)


def _passed(run: StageRun) -> dict[str, str]:
    """env -> the digest that last passed its smoke test and watch there."""
    return {p.env: p.digest for p in run.registry.promotions()}


def _deploy(run: StageRun, env: str) -> str:
    digest = _need_artifact(run)
    decision = run.impl.can_promote(digest, env, _passed(run), run.ctx.approve)
    if not decision.passed:
        raise StageFailed(f"{decision.name} refused: {decision.observed} (required {decision.required})")
    cfg = _configs(run)[env]
    search = cfg["search"]
    assert isinstance(search, dict)
    fault = drills.release_fault(run.ctx.inject, env, run.ctx.fail_env)
    try:
        run.ctx.milvus_uri = backend.ensure_backend(run.settings, str(search["collection"]), run.ctx.target_milvus)
        if other := drills.fault_collection(fault):  # the smoke drill's release searches its own
            backend.ensure_backend(run.settings, other[0], run.ctx.milvus_uri, dim=other[1])
    except MilvusException as exc:  # the environment's backing service is down: the deploy fails, no crash
        raise StageFailed(f"Milvus at {run.ctx.target_milvus or run.settings.milvus_uri} unusable: {exc.message}",
                          "check that Milvus runs (milvus-lab doctor) and re-run") from exc
    release = deploy.Release(env, digest, cfg, fault)
    run.commands.append(f"deploy {digest[:19]} -> {env} x{cfg['replicas']}")
    done = deploy.deploy(run.settings, run.registry, release, run.ctx.milvus_uri)
    if str(deploy.unpack(run.registry, digest, run.settings)) not in done.imported_from:
        raise StageFailed(f"{env} replicas import milvus_lab from {done.imported_from}, not from the release")
    run.ctx.deployed[env] = {"digest": digest, "urls": done.urls, "replicas": len(done.urls),
                             "fault": release.fault, "seconds": round(done.seconds, 2)}
    return f"{env}: {len(done.urls)} replica(s) of {digest[:19]} up in {done.seconds:.1f}s"


def _rollback(run: StageRun, env: str, reason: str) -> str:
    current = deploy.current(run.settings, env)
    target = deploy.previous_good(run.settings, env, current) if current else None
    if target is None:
        deploy.stop(run.settings, env)
        to = "nothing (no earlier verified release): replicas stopped"
    else:
        deploy.deploy(run.settings, run.registry, target, run.ctx.milvus_uri)
        deploy.mark_verified(run.settings, env)
        to = target.digest
    run.ctx.rollbacks.append({"env": env, "from": current.digest if current else None,
                              "to": None if target is None else target.digest, "reason": reason})
    return f"rolled back {env} to {to}"


def _smoke(run: StageRun, env: str) -> str:
    cfg = _configs(run)[env]
    urls = deploy.urls(run.settings, env)
    gates = cfg["gates"]
    assert isinstance(gates, dict)
    result = health.smoke(urls, _need_artifact(run).split(":", 1)[1][:12], int(gates["smoke_requests"]))
    if not result.passed:
        back = _rollback(run, env, f"smoke test: {result.detail}")
        raise StageFailed(f"smoke test failed: {result.detail}; {back}")
    return f"{env}: {result.detail} ({result.requests} searches)"


def _watch(run: StageRun, env: str) -> str:
    cfg = _configs(run)[env]
    gates = cfg["gates"]
    assert isinstance(gates, dict)
    result = health.watch(deploy.urls(run.settings, env), int(gates["watch_requests"]),
                          float(gates["max_error_ratio"]))
    run.ctx.deployed.setdefault(env, {})["watch"] = {"error_ratio": round(result.error_ratio, 4),
                                                     "statuses": result.statuses}
    if not result.passed:
        back = _rollback(run, env, f"post-deploy watch: {result.detail}")
        raise StageFailed(f"post-deploy watch failed: {result.detail}; {back}")
    deploy.mark_verified(run.settings, env)
    promo = run.registry.record_promotion(env, _need_artifact(run))
    run.ctx.promotions.append({"env": env, "digest": promo.digest, "at": promo.at, "tags": list(promo.tags)})
    return f"{env}: {result.detail}; {promo.digest[:19]} promoted"


def deploy_dev(run: StageRun) -> str:
    return _deploy(run, "dev")


def smoke_dev(run: StageRun) -> str:
    return _smoke(run, "dev")


def watch_dev(run: StageRun) -> str:
    return _watch(run, "dev")


def _promote(run: StageRun, env: str) -> str:
    return "; ".join([_deploy(run, env), _smoke(run, env), _watch(run, env)])


def promote_staging(run: StageRun) -> str:
    return _promote(run, "staging")


def promote_prod(run: StageRun) -> str:
    return _promote(run, "prod")


ACTIONS = {
    "lint": lint, "unit-tests": unit_tests, "security": security, "sbom": sbom,
    "build": build, "tag": tag, "push": push,
    "deploy-dev": deploy_dev, "smoke-dev": smoke_dev, "watch-dev": watch_dev,
    "promote-staging": promote_staging, "promote-prod": promote_prod,
}


def run_stage(stage: Stage, settings: Settings, pipeline: Pipeline, ctx: RunContext,
              impl: ModuleType) -> StageResult:
    """Run one stage; a tool failure or a refused gate is a failed StageResult, never a crash."""
    run = StageRun(settings, pipeline, ctx, impl)
    t0 = time.monotonic()
    try:
        detail = ACTIONS[stage.name](run)
        status, output = "passed", ""
    except StageFailed as exc:
        status, detail, output = "failed", exc.detail, exc.output
    except RegistryError as exc:  # a missing prerequisite (PrerequisiteError) propagates: exit 2
        status, detail, output = "failed", str(exc), ""
    return StageResult(stage.name, status, round(time.monotonic() - t0, 2), detail, run.commands,
                       output, run.artifacts)
