"""Lab 03 interrupted in every step (Ctrl-C) and with Milvus killed mid-run (issue 9).

A learner presses Ctrl-C wherever they like and re-runs; a dependency can die under them.
Either way the run ends with its own exit code (130 interrupted, 1 Milvus lost), one
readable message and no traceback, writes its report, leaves no process of ours running,
and leaves the alias `products` on a complete collection, so the next run just works.

One state directory is used for the whole sequence on purpose: each run starts from what
the previous, interrupted one left behind, as it would on a laptop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from milvus_lab import processes
from milvus_lab.milvus import collections, server
from milvus_lab.milvus.client import connect
from milvus_lab.releases import ALIAS, V1, V2
from milvus_lab.settings import Settings
from milvus_lab.testing.labs import LAB_DIR, ROOT
from milvus_lab.testing.milvus_fixtures import lab_env, new_lab_settings, stop_all

pytestmark = pytest.mark.slow

SCRIPT = LAB_DIR / "03_blue_green_deployment.py"
PLAIN_RUN_STEPS = 9  # Blue is live ... Scale down blue (the "Roll back" step only runs on a failure)
RUN_TIMEOUT_S = 600


@dataclass
class Ended:
    code: int
    output: str
    report: dict[str, object]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = new_lab_settings(tmp_path_factory.mktemp("lab03-interrupted"))
    yield settings
    stop_all(settings)


def run_lab(settings: Settings, report: Path, until: str, then: str) -> Ended:
    """Run lab 03 until a line containing `until` appears, then `then` ("ctrl-c", "sigterm" or
    "kill-milvus")."""
    env = {**os.environ, **lab_env(settings), "COLUMNS": "160", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--report", str(report)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    assert proc.stdout is not None
    lines: list[str] = []
    acted = False
    deadline = time.monotonic() + RUN_TIMEOUT_S
    for line in proc.stdout:  # ends when the lab exits
        lines.append(line)
        if not acted and until in line:
            acted = True
            if then == "ctrl-c":  # what a terminal does: SIGINT to the whole foreground group
                os.killpg(proc.pid, signal.SIGINT)
            elif then == "sigterm":  # what `kill <pid>` or `timeout` does: the lab alone
                os.kill(proc.pid, signal.SIGTERM)
            else:
                milvus = processes.read_record(settings, server.SERVER_NAME)
                assert milvus is not None and milvus.alive(), "no Milvus of the lab to kill"
                os.kill(milvus.pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"lab 03 still running after {RUN_TIMEOUT_S} s:\n{''.join(lines[-60:])}")
    code = proc.wait(timeout=60)
    output = "".join(lines)
    report.with_name(report.stem + ".log").write_text(output)  # the whole console, beside the report
    assert acted, f"never saw {until!r}:\n{output[-3000:]}"
    return Ended(code, output, json.loads(report.read_text()) if report.exists() else {})


def assert_state_is_consistent(settings: Settings, output: str) -> None:
    """No process of ours alive; the alias on a complete, indexed collection (checked on a fresh Milvus)."""
    alive = [r.name for r in processes.list_records(settings) if r.alive()]
    assert not alive, f"left running: {alive}\n{output[-2000:]}"
    endpoint = server.ensure_server(settings)
    client = connect(endpoint.uri)
    try:
        target = collections.alias_target(client, ALIAS)
        if target is None:  # interrupted before anything went live: the next run builds it
            return
        assert target in (V1.collection, V2.collection), f"alias {ALIAS} -> {target}\n{output[-2000:]}"
        release = V1 if target == V1.collection else V2
        rows = collections.row_count(client, target)
        assert rows == release.dataset.n, f"alias on {target} with {rows} of {release.dataset.n} rows"
        assert collections.current_index(client, target).startswith(release.index.index_type)
    finally:
        client.close()
        stop_all(settings)


@pytest.mark.parametrize("step", range(1, PLAIN_RUN_STEPS + 1))
def test_ctrl_c_in_each_step_leaves_a_state_the_next_run_can_use(home: Settings, tmp_path: Path, step: int) -> None:
    ended = run_lab(home, tmp_path / "report.json", until=f"Step {step}:", then="ctrl-c")
    assert "Traceback" not in ended.output, ended.output[-4000:]
    if ended.code == 0:  # the step was so short that the run had finished: nothing to judge
        pytest.skip(f"the run finished before Ctrl-C in step {step} took effect")
    assert ended.code == 130, ended.output[-4000:]
    assert "Interrupted (Ctrl-C)." in ended.output and "--cleanup" in ended.output
    assert ended.report.get("exit_code") == 130 and ended.report.get("outcome") == "interrupted", ended.report
    assert_state_is_consistent(home, ended.output)


def test_sigterm_cleans_up_like_ctrl_c(home: Settings, tmp_path: Path) -> None:
    """Step 7 has the most running: Milvus, blue and green replicas, the router and Locust."""
    ended = run_lab(home, tmp_path / "report.json", until="Step 7:", then="sigterm")
    assert "Traceback" not in ended.output, ended.output[-4000:]
    assert ended.code == 143, ended.output[-4000:]
    assert "Interrupted (SIGTERM)." in ended.output and "--cleanup" in ended.output
    assert ended.report.get("exit_code") == 143 and ended.report.get("outcome") == "interrupted", ended.report
    assert_state_is_consistent(home, ended.output)


def test_a_plain_run_after_the_interruptions_passes(home: Settings, tmp_path: Path) -> None:
    env = {**os.environ, **lab_env(home), "COLUMNS": "160"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--report", str(tmp_path / "r.json")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert_state_is_consistent(home, proc.stdout)


def test_milvus_killed_during_the_analysis_is_a_failure_that_says_so(home: Settings, tmp_path: Path) -> None:
    ended = run_lab(home, tmp_path / "report.json", until="Step 8:", then="kill-milvus")
    assert "Traceback" not in ended.output, ended.output[-4000:]
    assert ended.code == 1, ended.output[-4000:]
    assert "milvus" in ended.output.lower() and "lost" in ended.output.lower(), ended.output[-3000:]
    assert ended.report.get("exit_code") == 1, ended.report
    assert_state_is_consistent(home, ended.output)
