"""Target `compose`: docker-compose.yml and its configs, validated for real without Docker.

- The compose file is loaded by tools/compose-validate: the compose-spec loader that
  `docker compose` itself uses (schema, interpolation, override merging, consistency),
  built from Go modules into ~/.cache. Broken copies must fail with a clear message.
- Policy on the resolved project: pinned tags, loopback-only ports, the same Milvus as
  target `kube`, Prometheus/Grafana wired to what compose runs.
- deploy/compose/prometheus/prometheus.yml passes `promtool check config`.
- ComposeTarget's refusals, with the real code: no Docker, nothing at the Milvus URI, our
  own Milvus Lite in the way; and the same through the lab 03 CLI.

No Docker needed. Missing Go or promtool skips with the command that installs it;
MILVUS_LAB_REQUIRE_COMPOSE_TOOLS=1 (CI) turns those skips into failures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from milvus_lab.errors import PrerequisiteError
from milvus_lab.kube.manifests import MILVUS_IMAGE, NodePorts
from milvus_lab.settings import Settings, find_repo_root
from milvus_lab.targets.compose import ComposeTarget
from milvus_lab.testing.milvus_fixtures import MilvusServer, free_ports, lab_env, new_lab_settings

pytestmark = pytest.mark.tools  # compose-validate: built by .ci/run in the background

ROOT = find_repo_root()
COMPOSE = ROOT / "docker-compose.yml"
LINUX_OVERRIDE = ROOT / "deploy" / "compose" / "linux-host-network.yml"
PYPI_OVERRIDE = ROOT / "deploy" / "compose" / "local-milvus-pypi.yml"
LOCAL_MILVUS_IMAGE = "milvus-lab/milvus-pypi:2.3.5"
PROMETHEUS_YML = ROOT / "deploy" / "compose" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "compose" / "grafana"
BUILD_SH = ROOT / "tools" / "compose-validate" / "build.sh"
LAB03 = ROOT / "step05_production" / "03_blue_green_deployment.py"
SERVICES = {"etcd", "minio", "standalone", "prometheus", "grafana"}
APT_PROMTOOL = "sudo apt-get update && sudo apt-get install -y prometheus  # provides promtool"


def _missing(reason: str) -> None:
    """Skip, or fail when CI says these tools must be there."""
    if os.environ.get("MILVUS_LAB_REQUIRE_COMPOSE_TOOLS") == "1":
        pytest.fail(f"{reason} (MILVUS_LAB_REQUIRE_COMPOSE_TOOLS=1)", pytrace=False)
    pytest.skip(reason)


# ---- the validator ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def validator() -> Path:
    """tools/compose-validate, built (or found cached) by its build.sh."""
    if shutil.which("go") is None:
        _missing(f"Go is not installed; install Go >= 1.24 (https://go.dev/dl/), then `bash {BUILD_SH}`")
    proc = subprocess.run(["bash", str(BUILD_SH)], capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"{BUILD_SH} failed:\n{proc.stdout}\n{proc.stderr}"
    path = Path(subprocess.run(["bash", str(BUILD_SH), "--print-path"], capture_output=True, text=True,
                               check=True).stdout.strip())
    assert os.access(path, os.X_OK), path
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The process env without the variables docker-compose.yml interpolates, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"MILVUS_LAB_MILVUS_PORT", "MILVUS_LAB_HOME", "MILVUS_LAB_GRAFANA_PASSWORD",
                        "MILVUS_LAB_MILVUS_IMAGE", "MILVUS_LAB_MILVUS_METRICS_PORT",
                        "MILVUS_LAB_MILVUS_INTERNAL_PORT_BASE"}}
    env.update(extra)
    return env


def validate(validator: Path, *files: Path, env: dict[str, str] | None = None,
             cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(validator), "-json", *map(str, files)], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=60, check=False)


def resolved(validator: Path, *files: Path, **env: str) -> dict[str, Any]:
    """The project as `docker compose config --format json` would print it."""
    proc = validate(validator, *(files or (COMPOSE,)), env=clean_env(**env))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_compose_file_is_valid(validator):
    proc = validate(validator, COMPOSE)
    assert proc.returncode == 0, proc.stderr
    assert "compose-validate: ok: docker-compose.yml" in proc.stderr
    assert "compose-go/v2" in proc.stderr, "the validator must say which loader checked the file"
    project = json.loads(proc.stdout)
    assert project["name"] == "milvus-lab"
    assert set(project["services"]) == SERVICES
    assert set(project["volumes"]) == {"etcd-data", "minio-data", "milvus-data", "prometheus-data",
                                       "grafana-data"}


def test_start_order_is_gated_on_healthchecks(validator):
    services = resolved(validator)["services"]
    assert services["standalone"]["depends_on"] == {
        "etcd": {"condition": "service_healthy", "required": True},
        "minio": {"condition": "service_healthy", "required": True},
    }
    assert services["prometheus"]["depends_on"]["standalone"]["condition"] == "service_healthy"
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert services["standalone"]["healthcheck"]["test"] == ["CMD", "curl", "-f", "http://localhost:9091/healthz"]
    for name, svc in services.items():
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_milvus_standalone_follows_upstream(validator):
    """The env and command of the official standalone compose file (Milvus 2.6)."""
    milvus = resolved(validator)["services"]["standalone"]
    assert milvus["command"] == ["milvus", "run", "standalone"]
    assert milvus["environment"]["ETCD_ENDPOINTS"] == "etcd:2379"
    assert milvus["environment"]["MINIO_ADDRESS"] == "minio:9000"
    assert milvus["environment"]["MQ_TYPE"] == "woodpecker"
    assert any(v["type"] == "volume" and v["target"] == "/var/lib/milvus" for v in milvus["volumes"])


def test_linux_override_is_valid_and_keeps_loopback(validator):
    proc = validate(validator, COMPOSE, LINUX_OVERRIDE)
    assert proc.returncode == 0, proc.stderr
    services = json.loads(proc.stdout)["services"]
    prom, grafana = services["prometheus"], services["grafana"]
    assert prom["network_mode"] == "host" and grafana["network_mode"] == "host"
    assert not prom.get("ports") and not grafana.get("ports"), "host networking publishes nothing"
    assert "--web.listen-address=127.0.0.1:9090" in prom["command"]
    assert grafana["environment"]["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"
    # prometheus.yml's names resolve to the host's loopback; the defaults were replaced.
    assert sorted(prom["extra_hosts"]) == ["host.docker.internal=127.0.0.1", "standalone=127.0.0.1"]
    assert grafana["extra_hosts"] == ["prometheus=127.0.0.1"]
    # The Milvus side is unchanged (still on the project network, ports on 127.0.0.1).
    assert services["standalone"] == resolved(validator)["services"]["standalone"]


def test_milvus_image_variable_defaults_to_the_official_pinned_image(validator):
    """Users get the official image; only MILVUS_LAB_MILVUS_IMAGE (CI) points elsewhere."""
    assert resolved(validator)["services"]["standalone"]["image"] == MILVUS_IMAGE
    assert resolved(validator, MILVUS_LAB_MILVUS_IMAGE=LOCAL_MILVUS_IMAGE)["services"]["standalone"][
        "image"] == LOCAL_MILVUS_IMAGE


def test_local_milvus_override_runs_only_the_built_milvus(validator):
    """CI's override: Milvus 2.3.5 from the local image, host network, nothing it cannot build."""
    project = resolved(validator, COMPOSE, PYPI_OVERRIDE, MILVUS_LAB_MILVUS_IMAGE=LOCAL_MILVUS_IMAGE,
                       MILVUS_LAB_MILVUS_PORT="24530")
    services = project["services"]
    # The validator loads every profile; `docker compose up` starts only services without one.
    assert {name for name, svc in services.items() if not svc.get("profiles")} == {"standalone"}
    assert all(services[name]["profiles"] == ["official-stack"] for name in SERVICES - {"standalone"})
    milvus = services["standalone"]
    assert milvus["image"] == LOCAL_MILVUS_IMAGE
    assert milvus["network_mode"] == "host" and not milvus.get("ports")
    assert not milvus.get("depends_on") and not milvus.get("command")
    assert milvus["environment"]["MILVUS_PORT"] == "24530"
    assert milvus["healthcheck"]["test"][-1] == "--healthcheck"


def test_local_milvus_override_needs_the_image_variable(validator):
    """Without MILVUS_LAB_MILVUS_IMAGE the override refuses: never the official name on a local image."""
    proc = validate(validator, COMPOSE, PYPI_OVERRIDE)
    assert proc.returncode != 0
    assert "MILVUS_LAB_MILVUS_IMAGE" in proc.stderr, proc.stderr


# ---- broken copies must fail, each with a message that names the problem ---------------
BROKEN = {
    "bad depends_on condition": (
        "      etcd:\n        condition: service_healthy",
        "      etcd:\n        condition: service_healty",
        "services.standalone.depends_on.etcd.condition value must be one of 'service_started', "
        "'service_healthy', 'service_completed_successfully'",
    ),
    "unknown key": (
        "    image: quay.io/coreos/etcd:",
        "    imgae: quay.io/coreos/etcd:",
        'services.etcd: unknown key "imgae"',
    ),
    "depends_on an undefined service": (
        "      minio:\n        condition: service_healthy",
        "      mino:\n        condition: service_healthy",
        'service "standalone" depends on undefined service "mino"',
    ),
    "service_healthy without a healthcheck": (
        '      test: ["CMD", "etcdctl", "endpoint", "health"]',
        '      test: ["NONE"]',
        'depends_on "etcd" with condition service_healthy, but "etcd" declares no healthcheck',
    ),
    "mistyped bind mount source": (
        "./deploy/compose/prometheus/prometheus.yml:",
        "./deploy/compose/prometheus/prometheus.yaml:",
        "prometheus/prometheus.yaml does not exist (Docker would create an empty directory",
    ),
    "variable without default": (
        "${MILVUS_LAB_MILVUS_PORT:-19530}",
        "${MILVUS_LAB_MILVUS_PORT}",
        'The "MILVUS_LAB_MILVUS_PORT" variable is not set',
    ),
    "port that is not a number": (
        '"127.0.0.1:9091:9091"',
        '"127.0.0.1:9o91:9091"',
        "Invalid hostPort: 9o91",
    ),
}


@pytest.fixture()
def project_copy(tmp_path: Path) -> Path:
    """A copy of the compose project (file + the configs it mounts) in a temp dir."""
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    shutil.copytree(ROOT / "deploy" / "compose", tmp_path / "deploy" / "compose")
    return tmp_path


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_copy_fails_with_a_clear_message(validator, project_copy, case):
    old, new, expected = BROKEN[case]
    original = COMPOSE.read_text()
    assert original.count(old) == 1, f"the mutation for {case!r} no longer matches docker-compose.yml"
    broken = project_copy / "broken.yml"
    broken.write_text(original.replace(old, new))
    # The untouched copy is valid, so the failure below comes from the mutation alone.
    assert validate(validator, project_copy / "docker-compose.yml", cwd=project_copy).returncode == 0
    proc = validate(validator, broken, cwd=project_copy)
    assert proc.returncode == 1, f"{case}: the broken file passed:\n{proc.stderr}"
    assert proc.stdout == "", "nothing is printed for an invalid project"
    assert proc.stderr.startswith("compose-validate: INVALID broken.yml:"), proc.stderr
    assert expected in proc.stderr, proc.stderr


def test_usage_errors_exit_2(validator, tmp_path):
    proc = subprocess.run([str(validator)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "usage: compose-validate" in proc.stderr
    proc = subprocess.run([str(validator), str(tmp_path / "nope.yml")], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "nope.yml: no such file" in proc.stderr


# ---- policy on the resolved project ---------------------------------------------------
PINNED = {
    "etcd": r"quay\.io/coreos/etcd:v3\.5\.\d+",
    "minio": r"minio/minio:RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z",
    "standalone": r"milvusdb/milvus:v2\.6\.\d+",
    "prometheus": r"prom/prometheus:v\d+\.\d+\.\d+",
    "grafana": r"grafana/grafana:\d+\.\d+\.\d+",
}


@pytest.mark.parametrize("files", [(COMPOSE,), (COMPOSE, LINUX_OVERRIDE)], ids=["base", "linux-override"])
def test_every_image_is_pinned(validator, files):
    services = resolved(validator, *files)["services"]
    for name, svc in services.items():
        image = svc.get("image", "")
        assert "build" not in svc, f"{name}: builds an image; the compose target runs released images only"
        assert ":" in image.rsplit("/", 1)[-1], f"{name}: image {image!r} has no tag (means latest)"
        assert not image.endswith(":latest"), f"{name}: image {image!r} is latest"
        assert re.fullmatch(PINNED[name], image), f"{name}: {image!r} is not an exact release tag"
    # And nothing in the file itself says latest (comments included would be fine, keys not).
    assert not re.search(r"^\s*image:.*latest", COMPOSE.read_text(), re.M)


@pytest.mark.parametrize("env", [{}, {"MILVUS_LAB_MILVUS_PORT": "29530"}], ids=["default", "moved"])
def test_published_ports_bind_loopback_only(validator, env):
    services = resolved(validator, **env)["services"]
    published = {}
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name}: port {port} is published on every interface"
            assert port.get("published"), f"{name}: port {port} gets a random host port"
            published[int(port["published"])] = (name, port["target"])
    milvus_port = int(env.get("MILVUS_LAB_MILVUS_PORT", "19530"))
    assert published == {milvus_port: ("standalone", 19530), 9091: ("standalone", 9091),
                         9090: ("prometheus", 9090), 3000: ("grafana", 3000)}
    assert "ports" not in services["etcd"] and "ports" not in services["minio"]


def test_milvus_port_variable_is_the_one_the_labs_read(validator, monkeypatch):
    """MILVUS_LAB_MILVUS_PORT moves the published port and the labs' URI together."""
    project = resolved(validator, MILVUS_LAB_MILVUS_PORT="29530")
    grpc = [p for p in project["services"]["standalone"]["ports"] if p["target"] == 19530]
    monkeypatch.setenv("MILVUS_LAB_MILVUS_PORT", "29530")
    settings = Settings.from_env(target="compose")
    assert [int(p["published"]) for p in grpc] == [settings.milvus_port]
    assert settings.milvus_uri == "http://127.0.0.1:29530"


def test_milvus_is_the_same_release_as_target_kube(validator):
    """One Milvus release everywhere: compose = kube manifests = pinned Helm values."""
    compose_image = resolved(validator)["services"]["standalone"]["image"]
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "milvus-values.yaml").read_text())
    helm_image = f"{values['image']['all']['repository']}:{values['image']['all']['tag']}"
    assert compose_image == MILVUS_IMAGE == helm_image, (
        f"docker-compose.yml runs {compose_image}, target kube runs {MILVUS_IMAGE} "
        f"(src/milvus_lab/kube/manifests.py), Helm values pin {helm_image}: keep them equal"
    )


# ---- Prometheus and Grafana configs ----------------------------------------------------
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        _missing(f"promtool is not installed; {APT_PROMTOOL}")
    return str(path)


def test_prometheus_config_passes_promtool():
    proc = subprocess.run([promtool(), "check", "config", str(PROMETHEUS_YML)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr


def test_promtool_rejects_a_broken_prometheus_config(tmp_path):
    broken = tmp_path / "prometheus.yml"
    broken.write_text(PROMETHEUS_YML.read_text().replace("scrape_interval: 5s", "scrape_interval: 5 seconds"))
    proc = subprocess.run([promtool(), "check", "config", str(broken)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert "5 seconds" in proc.stdout + proc.stderr


def _jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in yaml.safe_load(PROMETHEUS_YML.read_text())["scrape_configs"]}


def test_prometheus_scrapes_what_compose_runs(validator):
    services = resolved(validator)["services"]
    jobs = _jobs()
    # Milvus: a compose service on the project network, at the port of its /healthz + /metrics.
    (milvus,) = jobs["milvus"]["static_configs"][0]["targets"]
    host, port = milvus.split(":")
    assert host in services and services[host]["image"].startswith("milvusdb/milvus:"), milvus
    assert f"localhost:{port}/healthz" in " ".join(services[host]["healthcheck"]["test"]), milvus
    # Router: the host, on the default control port (that is where /metrics lives).
    assert jobs["router"]["static_configs"][0]["targets"] == [f"host.docker.internal:{Settings().router_control_port}"]
    assert "host.docker.internal=host-gateway" in services["prometheus"]["extra_hosts"]
    # Search API replicas: file_sd files live in the mounted runtime dir.
    files = jobs["search-api"]["file_sd_configs"][0]["files"]
    mounts = {v["target"]: v for v in services["prometheus"]["volumes"]}
    assert [str(Path(f).parent) for f in files] == ["/etc/prometheus/targets"]
    assert mounts["/etc/prometheus/targets"]["source"] == str(ROOT / ".milvus-lab" / "prometheus")
    assert mounts["/etc/prometheus/prometheus.yml"]["source"] == str(PROMETHEUS_YML)
    assert mounts["/etc/prometheus/prometheus.yml"]["read_only"] is True


def test_search_api_targets_follow_milvus_lab_home(validator, tmp_path):
    mounts = {v["target"]: v["source"] for v in
              resolved(validator, MILVUS_LAB_HOME=str(tmp_path))["services"]["prometheus"]["volumes"]}
    assert mounts["/etc/prometheus/targets"] == str(tmp_path / ".milvus-lab" / "prometheus")


def test_grafana_is_provisioned_with_the_prometheus_datasource(validator):
    services = resolved(validator)["services"]
    mounts = {v["target"]: v["source"] for v in services["grafana"]["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == str(GRAFANA / "provisioning")
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (ds,) = datasources["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090" and ds["isDefault"] is True
    assert any(p["target"] == 9090 for p in services["prometheus"]["ports"])
    # Dashboards: the provider's path is the mount, and every panel queries that datasource.
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "milvus-lab.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert mounts[path] == str(GRAFANA / "dashboards")
    for dashboard in (GRAFANA / "dashboards").glob("*.json"):
        data = json.loads(dashboard.read_text())
        for panel in data["panels"]:
            assert panel["datasource"]["uid"] == ds["uid"], (dashboard.name, panel["title"])
            assert all(t["expr"] for t in panel["targets"]), (dashboard.name, panel["title"])


def test_dashboard_queries_are_valid_promql(tmp_path):
    """Each panel's query parses (promtool evaluates it as a recording rule)."""
    exprs = [t["expr"] for d in (GRAFANA / "dashboards").glob("*.json")
             for p in json.loads(d.read_text())["panels"] for t in p["targets"]]
    assert exprs
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    proc = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_ports_do_not_collide_with_kind_node_ports(validator):
    """Both targets can be up at once: compose's host ports differ from kind's mappings."""
    published = {int(p["published"]) for s in resolved(validator)["services"].values() for p in s.get("ports", [])}
    assert not published & set(vars(NodePorts()).values())


# ---- ComposeTarget, the real code -----------------------------------------------------
@pytest.fixture()
def no_docker_path(tmp_path: Path) -> str:
    """A PATH with no `docker` on it (an empty dir and this Python's bin dir).

    Returned, not applied: a test sets it only after starting its Milvus Lite, so how the
    fixtures start Milvus does not depend on it.
    """
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    path = os.pathsep.join([str(empty), str(Path(sys.executable).parent)])
    if shutil.which("docker", path=path):
        pytest.skip(f"`docker` is in {Path(sys.executable).parent}; cannot hide it")
    return path


@pytest.fixture()
def fake_docker_path(tmp_path: Path) -> str:
    """A PATH whose `docker` is there but has no daemon behind it (it always fails)."""
    bindir = tmp_path / "fake-bin"
    bindir.mkdir()
    docker = bindir / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    return os.pathsep.join([str(bindir), str(Path(sys.executable).parent)])


def compose_target(settings: Settings) -> ComposeTarget:
    return ComposeTarget(settings.with_(target="compose"), "03")


def test_no_docker_and_no_milvus_is_a_prerequisite_error(lab_settings, no_docker_path, monkeypatch):
    monkeypatch.setenv("PATH", no_docker_path)
    started = time.monotonic()
    with pytest.raises(PrerequisiteError) as info:
        compose_target(lab_settings).ensure_milvus()
    assert time.monotonic() - started < 10, "no Docker: fail at once, do not wait for Milvus"
    err = info.value
    assert err.exit_code == 2
    assert "needs Docker" in err.message and "`docker` is not on PATH" in err.message
    assert "https://docs.docker.com/get-docker/" in err.fix and "--target local" in err.fix


def test_docker_but_no_milvus_names_docker_compose_up(lab_settings, fake_docker_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_docker_path)
    started = time.monotonic()
    with pytest.raises(PrerequisiteError) as info:
        compose_target(lab_settings).ensure_milvus()
    assert time.monotonic() - started < 30
    err = info.value
    assert err.exit_code == 2
    assert f"no Milvus answers at {lab_settings.milvus_uri}" in err.message
    assert "docker compose up -d --wait" in err.fix


def test_our_milvus_lite_is_refused_and_other_milvus_is_used(monkeypatch, milvus_factory, tmp_path):
    """Milvus Lite started by `local` in this home: refused (it would test the wrong Milvus).
    The same server seen from another home is just "a Milvus at the URI": accepted."""
    monkeypatch.delenv("MILVUS_LAB_HOME", raising=False)  # state dirs follow each Settings' home
    running: MilvusServer = milvus_factory()
    with pytest.raises(PrerequisiteError) as info:
        compose_target(running.settings).ensure_milvus()
    err = info.value
    assert err.exit_code == 2
    assert f"our Milvus Lite (target local) is running on port {running.settings.milvus_port}" in err.message
    assert "`milvus-lab down`" in err.fix and "docker compose up -d --wait" in err.fix

    elsewhere = new_lab_settings(tmp_path / "elsewhere", milvus_port=running.settings.milvus_port)
    target = compose_target(elsewhere)
    assert target.ensure_milvus() == running.uri
    assert target.describe()["milvus"] == running.uri


# ---- the same through the lab CLI -----------------------------------------------------
def run_lab03(settings: Settings, path: str, timeout: float = 120) -> tuple[int, str, float]:
    env = {**os.environ, **lab_env(settings), "MILVUS_LAB_TARGET": "compose", "PATH": path,
           "COLUMNS": "200"}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(LAB03), "--target", "compose"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def assert_one_clear_message(out: str, message: str, fix: str) -> None:
    assert "Traceback" not in out, out
    assert out.count("cannot run:") == 1, out
    line = next(line for line in out.splitlines() if "cannot run:" in line)
    assert message in line, out
    assert fix in out.split("cannot run:", 1)[1], out


def test_lab03_without_docker_exits_2_at_once(tmp_path, no_docker_path):
    settings = new_lab_settings(tmp_path / "home")  # free ports: nothing listens on its Milvus port
    code, out, seconds = run_lab03(settings, no_docker_path)
    assert code == 2, out
    assert_one_clear_message(out, "target compose needs Docker", "https://docs.docker.com/get-docker/")
    assert seconds < 60, f"took {seconds:.0f}s"


def test_lab03_with_docker_but_no_milvus_exits_2(tmp_path, fake_docker_path):
    settings = new_lab_settings(tmp_path / "home")
    code, out, seconds = run_lab03(settings, fake_docker_path)
    assert code == 2, out
    assert_one_clear_message(out, f"no Milvus answers at {settings.milvus_uri}", "docker compose up -d --wait")
    assert seconds < 60, f"took {seconds:.0f}s"


def test_lab03_refuses_our_milvus_lite(monkeypatch, milvus_factory, fake_docker_path):
    monkeypatch.delenv("MILVUS_LAB_HOME", raising=False)
    running: MilvusServer = milvus_factory()
    router, control = free_ports(2)
    settings = running.settings.with_(router_port=router, router_control_port=control)
    code, out, _ = run_lab03(settings, fake_docker_path)
    assert code == 2, out
    assert_one_clear_message(out, "our Milvus Lite (target local) is running", "milvus-lab down")
