"""`milvus-lab doctor`: every prerequisite of every target, each with the command that fixes it."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass

from milvus_lab import processes
from milvus_lab.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    targets: str
    ok: bool
    detail: str
    fix: str


def _module(name: str, extra: str = "") -> tuple[bool, str]:
    found = importlib.util.find_spec(name) is not None
    return found, "importable" if found else "not installed"


def _tool(cmd: str, version_args: list[str]) -> tuple[bool, str]:
    path = shutil.which(cmd)
    if not path:
        return False, "not on PATH"
    try:
        out = subprocess.run([path, *version_args], capture_output=True, text=True, timeout=10)
        first = (out.stdout or out.stderr).strip().splitlines()
        if out.returncode != 0:  # e.g. `docker compose` without the plugin
            return False, (first[-1][:60] if first else f"exit {out.returncode}")
        return True, first[0][:60] if first else path
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{path} does not run: {exc}"


def _port(settings: Settings, port: int, owner: str) -> tuple[bool, str]:
    if not processes.port_in_use(port):
        return True, "free"
    owner = processes.ports_of_our_processes(settings).get(port)
    return (True, f"in use by our {owner}") if owner else (False, "in use by another process")


def _state_dir(settings: Settings) -> tuple[bool, str]:
    from milvus_lab.errors import PrerequisiteError
    from milvus_lab.preflight import check_state_dir

    try:
        return True, str(check_state_dir(settings))
    except PrerequisiteError as exc:
        return False, exc.message


def _docker_engine() -> tuple[bool, str]:
    """Does an engine answer where the docker CLI looks (DOCKER_HOST / the current context)?

    Why separate from the client row: a `docker` binary with no daemon behind it used to
    pass as "docker ok", and the compose target then failed much later.
    """
    path = shutil.which("docker")
    if not path:
        return False, "no docker client"
    try:
        out = subprocess.run([path, "version", "--format", "{{.Server.Version}}"],
                             capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"no answer ({type(exc).__name__})"
    version = out.stdout.strip()
    if out.returncode == 0 and version:
        return True, f"engine {version}"
    last = (out.stderr.strip().splitlines() or ["no answer"])[-1]
    return False, last[:70]


def _kube_context() -> tuple[bool, str]:
    try:
        from kubernetes import config

        contexts, current = config.list_kube_config_contexts()
    except Exception as exc:  # no kubeconfig, or the kube extra is missing
        return False, f"no kubeconfig ({type(exc).__name__})"
    names = [c["name"] for c in contexts]
    if "kind-milvus-lab" in names:
        return True, "kind-milvus-lab"
    return False, f"no kind-milvus-lab context (current: {current['name'] if current else 'none'})"


def _monitoring_checks() -> list[Check]:
    """Lab 06 runs a real Prometheus and Alertmanager (Debian names the latter
    prometheus-alertmanager); Sloth is only needed to regenerate the SLO rules."""
    from milvus_lab.monitoring import tools

    checks = []
    for tool in ("prometheus", "promtool", "alertmanager", "amtool"):
        path = tools.find(tool)
        ok, detail = _tool(path, ["--version"]) if path else (False, "not found")
        checks.append(Check(tool, "lab 06", ok, detail, tools.fix_for(tool)))
    sloth = tools.sloth_path()
    checks.append(Check("sloth", "lab 06 (regenerate SLO rules)", sloth.is_file(),
                        str(sloth) if sloth.is_file() else "not built", "bash tools/sloth/build.sh"))
    return checks


def run_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    py_ok = sys.version_info >= (3, 10)
    checks.append(Check("Python >= 3.10", "all", py_ok, sys.version.split()[0],
                        "install Python 3.10+"))
    for mod, label in [("pymilvus", "pymilvus"), ("milvus_lite", "milvus-lite"), ("locust", "locust"),
                       ("fastapi", "fastapi"), ("uvicorn", "uvicorn"), ("matplotlib", "matplotlib")]:
        ok, detail = _module(mod)
        checks.append(Check(label, "all", ok, detail, 'pip install -e .'))
    for mod, label in [("kubernetes", "kubernetes client"), ("kubernetes_validate", "kubernetes-validate")]:
        ok, detail = _module(mod)
        checks.append(Check(label, "kube", ok, detail, 'pip install -e .'))
    for port, owner, env in [(settings.milvus_port, "milvus", "MILVUS_LAB_MILVUS_PORT"),
                             (settings.router_port, "router", "MILVUS_LAB_ROUTER_PORT"),
                             (settings.router_control_port, "router control", "MILVUS_LAB_ROUTER_CONTROL_PORT")]:
        ok, detail = _port(settings, port, owner)
        checks.append(Check(f"port {port} ({owner})", "local", ok, detail,
                            f"stop what holds it (`ss -ltnp 'sport = :{port}'`) or set {env}"))
    checks += standalone_checks(settings)
    for cmd, args, targets, fix in [
        ("docker", ["--version"], "compose, kube", "install Docker: https://docs.docker.com/get-docker/"),
        ("docker", ["compose", "version"], "compose",
         "Docker Desktop has it; Linux: install docker-compose-plugin, or bash tools/compose-plugin/build.sh"),
        ("kind", ["version"], "kube", "go install sigs.k8s.io/kind@v0.29.0"),
        ("kubectl", ["version", "--client"], "kube", "https://kubernetes.io/docs/tasks/tools/"),
        ("helm", ["version", "--short"], "kube (--installer helm)", "https://helm.sh/docs/intro/install/"),
    ]:
        ok, detail = _tool(cmd, args)
        name = "docker client" if args == ["--version"] and cmd == "docker" else (
            "docker compose" if args[:1] == ["compose"] else cmd)
        checks.append(Check(name, targets, ok, detail, fix))
        if name == "docker client":
            ok, detail = _docker_engine()
            checks.append(Check("docker engine", "compose, kube", ok, detail,
                                "start Docker (Docker Desktop, or `sudo systemctl start docker`); CI/root "
                                "Debian: `python -m milvus_lab.dockerenv up` and export the DOCKER_HOST it prints"))
    ok, detail = _state_dir(settings)
    checks.append(Check("state directory", "all", ok, detail,
                        "export MILVUS_LAB_HOME=<a writable directory>"))
    checks += _monitoring_checks()
    ok, detail = _kube_context()
    checks.append(Check("kube context", "kube", ok, detail, "kind create cluster --config kind-config.yaml"))
    return checks


def standalone_checks(settings: Settings) -> list[Check]:
    """The standalone engine (`--milvus standalone`): platform, package, its pinned ports."""
    from milvus_lab.milvus import standalone

    who = "local --milvus standalone"
    ok, label = standalone.platform_supported()
    checks = [Check("platform with a Milvus 2.3.5 wheel", who, ok, label,
                    "no wheel here: use --target compose (Docker) or --target kube")]
    ok, detail = standalone.package_installed()
    checks.append(Check(f"milvus=={standalone.VERSION} (standalone engine)", who, ok, detail,
                        f'pip install -e . (or pip install "milvus=={standalone.VERSION}")'))
    ports = standalone.StandalonePorts.from_settings(settings)
    ours = {r.port for r in processes.list_records(settings) if r.name == standalone.NAME and r.alive()}
    if ours:
        checks.append(Check("standalone ports", who, True, f"in use by our Milvus standalone ({ports.proxy})", ""))
        return checks
    busy = [f"{name} {port}" for name, port in ports.named().items() if processes.port_in_use(port)]
    checks.append(Check(f"standalone ports {ports.proxy}, {ports.metrics}, "
                        f"{ports.etcd_client}-{ports.data_node}", who, not busy,
                        "free" if not busy else "in use: " + ", ".join(busy),
                        "stop what holds them (`ss -ltnp`) or set MILVUS_LAB_STANDALONE_PORT / "
                        "_METRICS_PORT / _INTERNAL_PORTS"))
    return checks
