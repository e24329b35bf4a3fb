"""`.ci/run`'s background set-up: tests run before it ends, and each waits for what it needs.

Real pytest runs (pytester) of a small suite against a set-up directory whose lanes "finish"
while the suite runs: the order of the tests, the waits, the env a lane exports and a lane
that failed.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest

from milvus_lab.testing import ci_setup

pytest_plugins = ["pytester"]

SUITE = '''
import os
import pytest

pytest_plugins = ["milvus_lab.testing.ci_setup"]
ORDER = []

@pytest.mark.tools
def test_needs_tools():
    ORDER.append("tools")

@pytest.mark.kube
def test_needs_kube():
    ORDER.append("kube")
    assert os.environ.get("FROM_KUBE_LANE") == "yes"

def test_needs_nothing():
    ORDER.append("nothing")

@pytest.mark.docker
def test_needs_docker():
    ORDER.append("docker")

def test_zz_order():
    print("ORDER=" + ",".join(ORDER))
'''


@pytest.fixture(autouse=True)
def _marks(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmarkers =\n    tools\n    kube\n    docker\n")


def _finish_later(root: Path, part: str, after_s: float = 0.0, env: str = "", failed: bool = False,
                  when_awaited: bool = False) -> threading.Thread:
    """A lane that reports after ``after_s``, or (``when_awaited``) once a test waits for it."""
    def finish() -> None:
        deadline = time.monotonic() + 120
        while when_awaited and not (root / f"{part}.awaited").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(after_s)
        if env:
            (root / f"{part}.env").write_text(env)
        (root / f"{part}.log").write_text(f"building {part}\nerror: no space left\n")
        (root / f"{part}.{'failed' if failed else 'ready'}").touch()
    thread = threading.Thread(target=finish, daemon=True)
    thread.start()
    return thread


def test_tests_needing_nothing_run_first_and_the_others_wait(pytester: pytest.Pytester, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "setup"
    root.mkdir()
    monkeypatch.setenv(ci_setup.SETUP_DIR_ENV, str(root))
    monkeypatch.delenv("FROM_KUBE_LANE", raising=False)
    pytester.makepyfile(test_suite=SUITE)
    lanes = [_finish_later(root, "docker", when_awaited=True),
             _finish_later(root, "kube", 0.2, "export FROM_KUBE_LANE=yes\n", when_awaited=True),
             _finish_later(root, "tools", when_awaited=True)]
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    for lane in lanes:
        lane.join()
    result.assert_outcomes(passed=5)
    # the test needing nothing ran first, and the ones needing a part waited for it (in lane order)
    out = result.stdout.str()
    for part in ci_setup.PARTS:
        assert f"[ci set-up] waiting for {part}" in out, out
        assert f"[ci set-up] {part} ready after" in out, out
        assert (root / f"{part}.awaited").exists()
    assert re.findall(r"ORDER=(\S*)", out) == ["nothing"], out  # test_zz_order needs nothing: it ran second


def _run_order(pytester: pytest.Pytester) -> tuple[list[str], str]:
    """Run SUITE verbosely: the tests in the order they passed, and the output."""
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    ran = [line.split("::")[1].split()[0] for line in result.stdout.lines if "::test_" in line and "PASSED" in line]
    return ran, result.stdout.str()


def test_the_order_puts_parts_last(pytester: pytest.Pytester, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ci_setup.SETUP_DIR_ENV, str(tmp_path))
    for part in ci_setup.PARTS:
        (tmp_path / f"{part}.ready").touch()
    (tmp_path / "kube.env").write_text("export FROM_KUBE_LANE=yes\n")
    assert _run_order(pytester)[0] == ["test_needs_nothing", "test_zz_order", "test_needs_docker",
                                       "test_needs_kube", "test_needs_tools"]


def test_without_the_variable_nothing_waits_or_moves(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ci_setup.SETUP_DIR_ENV, raising=False)
    monkeypatch.setenv("FROM_KUBE_LANE", "yes")
    ran, out = _run_order(pytester)
    assert ran == ["test_needs_tools", "test_needs_kube", "test_needs_nothing", "test_needs_docker",
                   "test_zz_order"]
    assert "[ci set-up]" not in out


def test_a_failed_lane_fails_the_tests_that_need_it_with_its_log(pytester: pytest.Pytester, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ci_setup.SETUP_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("FROM_KUBE_LANE", "yes")
    for part in ("docker", "kube"):
        (tmp_path / f"{part}.ready").touch()
    _finish_later(tmp_path, "tools", failed=True).join()
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=1)  # the wait is in setup: an error of that test
    result.stdout.fnmatch_lines(["*CI set-up of tools failed*", "*no space left*"])
    assert "Traceback" not in result.stdout.str()


def test_env_lines_are_loaded_with_quotes_and_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ci_setup.SETUP_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(ci_setup, "_loaded", set())
    monkeypatch.delenv("LANE_A", raising=False)
    monkeypatch.delenv("LANE_B", raising=False)
    (tmp_path / "docker.env").write_text("export LANE_A=unix:///x/docker.sock\n\nLANE_B='two words'\n")
    (tmp_path / "docker.ready").touch()
    ci_setup.await_part("docker")
    assert os.environ["LANE_A"] == "unix:///x/docker.sock"
    assert os.environ["LANE_B"] == "two words"


def test_a_lane_that_never_reports_fails_at_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ci_setup.SETUP_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(ci_setup, "_loaded", set())
    said: list[str] = []
    with pytest.raises(pytest.fail.Exception, match="not ready after"):
        ci_setup.await_part("kube", said.append, limit_s=0.3, poll_s=0.05)
    assert said == ["[ci set-up] waiting for kube (building in the background)"]
