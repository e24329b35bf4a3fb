"""`pytest` stopped by SIGTERM (a `kill`, `timeout`, a cancelled CI job) still tears down its
session fixtures, so the shared servers do not outlive it (the plugin turns SIGTERM into Ctrl-C).

A real pytest process with the real plugin; the session fixture stands in for the Milvus server
(starting one would only make the test slower: what is tested is whether teardown runs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from milvus_lab.polling import poll_until

SESSION = """
import time
from pathlib import Path

import pytest

pytest_plugins = ["milvus_lab.testing.milvus_fixtures"]


@pytest.fixture(scope="session")
def server():
    Path("started").touch()
    yield
    Path("torn-down").touch()


def test_long(server):
    time.sleep(120)
"""


def test_sigterm_tears_the_session_down(tmp_path: Path) -> None:
    (tmp_path / "test_session.py").write_text(SESSION)
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_session.py"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTEST_ADDOPTS": ""})
    try:
        poll_until(lambda: (tmp_path / "started").exists(), timeout=120,
                   what="the session fixture", fix="none", failed=lambda: (
                       None if child.poll() is None else f"pytest exited {child.returncode}"))
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert (tmp_path / "torn-down").exists(), output
    assert child.returncode == 2, output  # pytest's "interrupted"
    assert "Terminated: signal 15" in output  # interrupts.Terminated, the Ctrl-C path
