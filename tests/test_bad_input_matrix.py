"""Every kind of bad input is one message with its fix, exit 2, no traceback, nothing left.

Kinds: bad environment values, bad state directory, damaged caches, ports taken or equal,
concurrent runs (the run lock, stale locks), unfinished exercises, collections behind an
alias. Bad request bodies and filters are in `test_api_errors.py`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from milvus_lab import preflight
from milvus_lab.errors import PrerequisiteError
from milvus_lab.labkit import load_impl, unimplemented
from milvus_lab.locks import RunLock, read_holder
from milvus_lab.milvus import collections, datasets
from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import (
    SMALL_SPEC,
    build_collection,
    lab_env,
    new_lab_settings,
    processes_under,
    unique_name,
)

EXE = Path(sys.executable).parent / "milvus-lab"


def run_cli(settings: Settings, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [str(EXE)] if EXE.is_file() else [sys.executable, "-m", "milvus_lab.cli"]
    full = {**os.environ, **lab_env(settings), "COLUMNS": "200", **(env or {})}
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=timeout, env=full,
                          cwd=settings.repo_root)


def assert_clean_refusal(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2, one ✘ line with a fix line, the words that say what is wrong, no traceback."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out, out
    refusals = [line for line in out.splitlines() if line.startswith("✘")]
    assert len(refusals) == 1, out
    assert "fix:" in out, out
    for word in words:
        assert word in refusals[0], (word, out)


def assert_nothing_started(settings: Settings) -> None:
    assert processes_under(settings.state_dir.parent) == []
    run = settings.state_dir / "run"
    assert not run.exists() or not list(run.glob("*.json")), list(run.glob("*"))


@pytest.fixture()
def home_settings(tmp_path: Path) -> Settings:
    return new_lab_settings(tmp_path / "home")


@pytest.fixture()
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


# ---- bad environment values --------------------------------------------------------
@pytest.mark.parametrize("env, words", [
    ({"MILVUS_LAB_MILVUS_PORT": "0"}, ["MILVUS_LAB_MILVUS_PORT=0", "port"]),
    ({"MILVUS_LAB_MILVUS_PORT": "70000"}, ["70000"]),
    ({"MILVUS_LAB_ROUTER_PORT": "-5"}, ["MILVUS_LAB_ROUTER_PORT=-5"]),
    ({"MILVUS_LAB_ROUTER_PORT": "eighty"}, ["not a number"]),
    ({"MILVUS_LAB_DIM": "0"}, ["MILVUS_LAB_DIM"]),
    ({"MILVUS_LAB_TARGET": "mars"}, ["unknown target"]),
], ids=["milvus-port-0", "port-overflow", "negative-port", "port-not-a-number", "dim-0", "bad-target"])
def test_bad_env_value_is_exit_2_before_anything_starts(home_settings: Settings, env: dict[str, str],
                                                        words: list[str]) -> None:
    proc = run_cli(home_settings, "up", env=env)
    assert_clean_refusal(proc, *words)
    assert_nothing_started(home_settings)


@pytest.mark.parametrize("same", [("ROUTER_PORT", "ROUTER_CONTROL_PORT"), ("MILVUS_PORT", "ROUTER_PORT")],
                         ids=["router-eq-control", "milvus-eq-router"])
def test_equal_ports_are_refused(home_settings: Settings, same: tuple[str, str]) -> None:
    port = str(home_settings.router_port)
    proc = run_cli(home_settings, "up", env={f"MILVUS_LAB_{same[0]}": port, f"MILVUS_LAB_{same[1]}": port})
    assert_clean_refusal(proc, "both", port)
    assert_nothing_started(home_settings)


def test_router_port_taken_is_refused_before_anything_starts(home_settings: Settings, held_port: int) -> None:
    proc = run_cli(home_settings, "up", env={"MILVUS_LAB_ROUTER_PORT": str(held_port)})
    assert_clean_refusal(proc, str(held_port), "in use")
    assert_nothing_started(home_settings)


# ---- bad state directory -----------------------------------------------------------
def test_state_dir_that_is_a_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = new_lab_settings(home)
    settings.state_dir.write_text("not a directory")
    proc = run_cli(settings, "up")
    assert_clean_refusal(proc, "is a file")
    assert settings.state_dir.read_text() == "not a directory"  # nothing destroyed
    doctor = run_cli(settings, "doctor")
    assert "Traceback" not in doctor.stdout + doctor.stderr
    assert doctor.returncode == 2 and "not ready" in doctor.stdout, doctor.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_state_dir(home_settings: Settings) -> None:
    home_settings.state_dir.mkdir(parents=True)
    home_settings.state_dir.chmod(0o500)
    try:
        assert_clean_refusal(run_cli(home_settings, "up"), "not writable")
    finally:
        home_settings.state_dir.chmod(0o700)


def test_state_dir_checks_in_process(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = new_lab_settings(tmp_path / "ok")
    assert preflight.check_state_dir(settings).is_dir()
    bad = settings.with_(home=blocker / "below")
    with pytest.raises(PrerequisiteError, match="is a file"):
        preflight.check_state_dir(bad)


# ---- damaged caches ----------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_dataset_cache_is_detected_and_rebuilt(home_settings: Settings, damage: str) -> None:
    first = datasets.ensure_dataset(home_settings, SMALL_SPEC)
    path = datasets.dataset_dir(home_settings, SMALL_SPEC.name) / "vectors.npy"
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        path.write_bytes(raw[:-8] + bytes(8))
    else:
        path.unlink()
    with pytest.raises((datasets.DamagedDataset, OSError)):
        datasets.load(path.parent)
    again = datasets.ensure_dataset(home_settings, SMALL_SPEC)
    assert np.array_equal(again.vectors, first.vectors)
    assert np.array_equal(datasets.load(path.parent).vectors, first.vectors)  # whole again on disk


# ---- concurrent runs: the lock -----------------------------------------------------
def test_second_run_is_refused_naming_the_first(home_settings: Settings) -> None:
    with RunLock(home_settings, "03"):
        proc = run_cli(home_settings, "up")
    assert_clean_refusal(proc, f"pid {os.getpid()}", "lab 03", "since")
    assert_nothing_started(home_settings)
    with RunLock(home_settings, "up") as again:  # released: free again
        assert again.took_over is None


def test_a_killed_runs_lock_is_taken_over(home_settings: Settings) -> None:
    code = ("import sys, time; from milvus_lab.locks import RunLock; "
            "from milvus_lab.testing.milvus_fixtures import new_lab_settings; from pathlib import Path; "
            f"lock = RunLock(new_lab_settings(Path({str(home_settings.home)!r})), '03').acquire(); "
            "print('held', flush=True); time.sleep(600)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(PrerequisiteError, match=f"pid {child.pid}"):
            RunLock(home_settings, "up").acquire()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    holder = read_holder(home_settings.state_dir / "run.lock")
    assert holder is not None and holder.pid == child.pid  # the file still names the dead run
    with RunLock(home_settings, "up") as lock:
        assert lock.took_over is not None and lock.took_over.pid == child.pid
        assert read_holder(lock.path).pid == os.getpid()  # type: ignore[union-attr]


# ---- unfinished exercise: refused before the environment comes up -------------------
def test_unimplemented_lists_unfinished_functions() -> None:
    todo = unimplemented(load_impl("lab03_blue_green", "labs"))
    assert {"pre_promotion_gate", "promote", "rollback_decision", "measurement_failed"} <= set(todo)
    assert unimplemented(load_impl("lab03_blue_green", "solutions")) == []


# ---- lab 03 itself: refused before the environment comes up --------------------------
REPO = Path(__file__).resolve().parents[1]
LAB03 = REPO / "step05_production" / "03_blue_green_deployment.py"


def run_lab03(settings: Settings, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **lab_env(settings), "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, str(LAB03), "--yes", *args], capture_output=True, text=True,
                          timeout=120, env=full, cwd=REPO)


@pytest.mark.parametrize("args, words", [
    (("--impl", "labs"), ["not finished", "rollback_decision"]),
    (("--scale-down-delay", "-1"), ["--scale-down-delay -1"]),
    (("--users", "0"), ["--users 0"]),
], ids=["unfinished-exercise", "negative-delay", "no-users"])
def test_lab03_bad_flags_exit_2_before_anything_starts(home_settings: Settings, args: tuple[str, ...],
                                                       words: list[str]) -> None:
    assert_clean_refusal(run_lab03(home_settings, *args), *words)
    assert_nothing_started(home_settings)


def test_lab03_with_router_port_taken_moves_nothing(home_settings: Settings, held_port: int) -> None:
    proc = run_lab03(home_settings, env={"MILVUS_LAB_ROUTER_PORT": str(held_port)})
    assert_clean_refusal(proc, str(held_port), "in use")
    assert_nothing_started(home_settings)  # no Milvus, no replica, no alias moved


def test_lab03_while_another_run_holds_the_state_dir(home_settings: Settings) -> None:
    with RunLock(home_settings, "01"):
        proc = run_lab03(home_settings)
    assert_clean_refusal(proc, f"pid {os.getpid()}", "lab 01")
    assert_nothing_started(home_settings)


# ---- never drop a collection behind an alias ----------------------------------------
def test_drop_refuses_a_collection_behind_an_alias(milvus_client, small_dataset) -> None:
    name = build_collection(milvus_client, small_dataset)
    alias = unique_name("alias")
    collections.point_alias(milvus_client, alias, name)
    try:
        with pytest.raises(PrerequisiteError, match=alias):
            collections.drop_collection(milvus_client, name)
        assert milvus_client.has_collection(name)
        t0 = time.time()
        assert collections.alias_target(milvus_client, alias) == name, time.time() - t0
    finally:
        milvus_client.drop_alias(alias)
    assert collections.drop_collection(milvus_client, name) is True
    assert not milvus_client.has_collection(name)
    assert collections.drop_collection(milvus_client, name) is False
