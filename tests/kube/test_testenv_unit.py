"""Unit tests of the testenv plumbing that need no API server.

Why: a wrong pid must never be killed, a missing build or busy port must give one
clear message with the fix, and the version in Python must match the Go module.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from milvus_lab.errors import PrerequisiteError
from milvus_lab.testing import kube_fixtures
from milvus_lab.testing import kube_testenv as testenv

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools" / "kube-testenv"


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the testenv at empty temp dirs so nothing real is touched."""
    monkeypatch.setenv("MILVUS_LAB_KUBE_TESTENV_BIN", str(tmp_path / "bin"))
    monkeypatch.setenv("MILVUS_LAB_KUBE_TESTENV_RUN", str(tmp_path / "run"))
    (tmp_path / "bin").mkdir()
    return tmp_path


def test_python_version_matches_go_module() -> None:
    gomod = (TOOLS / "k8s" / "go.mod").read_text()
    assert f"k8s.io/kubernetes {testenv.K8S_VERSION}" in gomod
    minor = testenv.K8S_VERSION.removeprefix("v1.")
    for line in gomod.splitlines():
        if "=>" in line:  # every staging module pinned to the matching v0.x tag
            assert line.strip().endswith(f"v0.{minor}"), line


def test_build_script_cache_dir_matches_python(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MILVUS_LAB_KUBE_TESTENV_CACHE", str(isolated / "cache"))
    monkeypatch.delenv("MILVUS_LAB_KUBE_TESTENV_BIN")
    out = subprocess.run(
        ["bash", str(TOOLS / "build.sh"), "--print-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert Path(out) / "bin" == testenv.bin_dir()


def test_up_without_build_names_the_build_command(isolated: Path) -> None:
    with pytest.raises(PrerequisiteError) as err:
        testenv.up(verbose=False)
    assert "not built" in err.value.message
    assert testenv.BUILD_COMMAND in (err.value.fix or "")


def test_up_with_port_in_use_names_the_port(isolated: Path) -> None:
    for name in testenv.BINARIES:
        fake = isolated / "bin" / name
        fake.write_text("#!/bin/sh\nexit 1\n")
        fake.chmod(0o755)
    with socket.socket() as sock:
        try:  # hold the port unless the real testenv already does
            sock.bind((testenv.HOST, testenv.ports().apiserver))
            sock.listen()
        except OSError:
            pass
        with pytest.raises(PrerequisiteError) as err:
            testenv.up(verbose=False)
    assert str(testenv.ports().apiserver) in err.value.message
    assert "down" in (err.value.fix or "")


def test_pki_and_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILVUS_LAB_KUBE_TESTENV_RUN", str(tmp_path))
    pki = tmp_path / "pki"
    testenv._make_pki(pki)
    serving = x509.load_pem_x509_certificate((pki / "apiserver.crt").read_bytes())
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    admin = x509.load_pem_x509_certificate((pki / "admin.crt").read_bytes())
    assert "O=system:masters" in admin.subject.rfc4514_string()

    path = tmp_path / "kubeconfig"
    testenv._write_kubeconfig(path, pki, "admin", "admin", testenv.CONTEXT)
    cfg = yaml.safe_load(path.read_text())
    assert cfg["current-context"] == testenv.CONTEXT
    assert (
        cfg["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{testenv.ports().apiserver}"
    )
    assert path.stat().st_mode & 0o077 == 0, "kubeconfig holds a key: owner-only"


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_stop_kills_exactly_the_recorded_process() -> None:
    target, bystander = _sleeper(), _sleeper()
    try:
        stat = testenv._proc_stat(target.pid)
        assert stat is not None
        proc = testenv.Proc("sleeper", target.pid, stat[1], sys.executable, "")
        assert testenv.is_alive(proc)
        assert testenv._stop([proc], timeout=10) == []
        assert target.poll() is not None
        assert bystander.poll() is None
    finally:
        for p in (target, bystander):
            p.kill()
            p.wait()


def test_stop_never_kills_a_reused_pid() -> None:
    other = _sleeper()
    try:
        stat = testenv._proc_stat(other.pid)
        assert stat is not None
        stale = testenv.Proc("old", other.pid, stat[1] - 1, sys.executable, "")
        assert not testenv.is_alive(stale)
        testenv._stop([stale], timeout=1)
        assert other.poll() is None, "a pid with another start time is someone else's"
    finally:
        other.kill()
        other.wait()


def test_unknown_kube_mode_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILVUS_LAB_KUBE", "bogus")
    api, why = kube_fixtures.find_kube_api()
    assert api is None and "bogus" in why


def test_cli_kubeconfig_prints_path(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert testenv.main(["kubeconfig"]) == 0
    assert capsys.readouterr().out.strip() == str(isolated / "run" / "kubeconfig")


def test_require_kind_skips_where_pods_do_not_run() -> None:
    fake = kube_fixtures.KubeAPI(
        api_client=None,
        context="milvus-lab-testenv",
        kubeconfig=Path("x"),
        is_kind=False,
        source="testenv",
    )
    with pytest.raises(pytest.skip.Exception, match="pods that really run"):
        kube_fixtures.require_kind(fake)
    kube_fixtures.require_kind(
        kube_fixtures.KubeAPI(None, "kind-milvus-lab", Path("x"), True, "kind")
    )
