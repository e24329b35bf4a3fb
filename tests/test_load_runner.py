"""Real, short Locust runs (subprocess) against a real uvicorn process.

The server here is the stand-in `milvus_lab.testing.load_fixtures.stub_app`: it speaks the
search API contract and can be switched (blue/v1 -> green/v2) or broken (empty hits)
mid-run, which is what these tests of the runner, the timeline and the failure rules
need. The real search API + Milvus Lite path is covered in test_load_e2e.py.
Loads are small (5 users x 5 req/s, a few seconds) because the machine is shared.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from milvus_lab.errors import PrerequisiteError, VerificationFailed
from milvus_lab.load import LoadResult, live_panel, plot_timeline, start_locust
from milvus_lab.load.timeline import read_timeline
from milvus_lab.processes import pid_running
from milvus_lab.testing.load_fixtures import (
    StubApi,
    free_port,
    stub_api,
    wait_for_served_seconds,
    write_tiny_dataset,
)

REPO = Path(__file__).resolve().parents[1]
SEARCH_API = REPO / "loadtests" / "search_api.py"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("load")


@pytest.fixture(scope="module")
def dataset(workdir: Path) -> Path:
    return write_tiny_dataset(workdir / "products-v1")


@pytest.fixture()
def api(workdir: Path) -> Iterator[StubApi]:
    with stub_api(workdir) as running:
        yield running


def _env(dataset: Path, **extra: str) -> dict[str, str]:
    return {"MILVUS_LAB_DATASET_DIR": str(dataset), "MILVUS_LAB_USER_RPS": "5", **extra}


def _locust_pids(marker: str) -> list[int]:
    """Processes whose command line mentions `marker` (a run's unique out_dir)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and "locust" in cmdline:
            pids.append(int(proc.name))
    return pids


def _is_png(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def switch_run(workdir: Path, dataset: Path) -> Iterator[tuple[LoadResult, list[int]]]:
    """~6 s of load; blue/v1 -> green/v2 at ~3 s (a mark); stopped with stop()."""
    out = workdir / "switch-run"
    with stub_api(workdir) as api:
        run = start_locust(SEARCH_API, api.url, users=5, spawn_rate=5, run_time_s=None,
                           out_dir=out, env=_env(dataset, MILVUS_LAB_EXPECT_VERSIONS="v1,v2"))
        with run:
            wait_for_served_seconds(run.files.timeline, 0, "blue/v1")
            before = run.snapshot()
            api.control(slot="green", version="v2", data_version="v2")
            switch = run.mark("switch to green")
            wait_for_served_seconds(run.files.timeline, switch.t, "green/v2")
            after = run.snapshot()
        assert before.running and before.version_shares == {"v1": 1.0}
        assert after.version_shares.get("v2", 0) > 0.5
        yield run.result(), _locust_pids(str(out))


def test_switch_run_counts_every_request_once(switch_run: tuple[LoadResult, list[int]]) -> None:
    result, _ = switch_run
    assert result.requests >= 6, result.summary()  # >= 3 seconds with requests on each side
    assert result.failures == 0, result.errors
    # the timeline and Locust's own JSON totals agree: nothing double counted or lost
    assert result.locust_totals == {"requests": result.requests, "failures": 0}
    assert result.p50_ms is not None and result.p95_ms is not None and result.p95_ms >= result.p50_ms


def test_timeline_has_per_second_rows_with_served_by(switch_run: tuple[LoadResult, list[int]]) -> None:
    result, _ = switch_run
    rows = read_timeline(result.files.timeline).seconds
    assert len(rows) >= 6
    assert [r.t for r in rows] == list(range(rows[0].t, rows[0].t + len(rows)))  # no gaps
    assert all(sum(r.served_by.values()) == r.requests for r in rows)
    served = [r for r in rows if r.requests]  # a stalled second on a busy machine holds none
    assert served[0].served_by.keys() == {"blue/v1"} and served[-1].served_by.keys() == {"green/v2"}
    assert result.data_versions.keys() == {"v1", "v2"}


def test_phases_split_the_run_at_the_mark(switch_run: tuple[LoadResult, list[int]]) -> None:
    result, _ = switch_run
    before, after = result.phases()
    assert before.label == "before switch to green" and after.label == "after switch to green"
    assert before.requests + after.requests == result.requests
    # one-second buckets: the second that holds the switch may carry a little of both
    assert before.versions["v1"] > 0.7 * before.requests
    assert after.versions["v2"] > 0.7 * after.requests
    switch = result.mark_named("switch to green").t
    assert result.window(result.start, switch - 1).versions.keys() == {"v1"}
    assert result.window(switch + 1, result.end).versions.keys() == {"v2"}


def test_stop_leaves_no_locust_process(switch_run: tuple[LoadResult, list[int]]) -> None:
    result, leftovers = switch_run
    assert leftovers == []
    assert result.exit_code == 0 and result.stopped is not None
    assert result.files.json.is_file() and result.files.log.is_file()


def test_plot_is_a_png(switch_run: tuple[LoadResult, list[int]], workdir: Path) -> None:
    result, _ = switch_run
    path = plot_timeline(result, workdir / "plots" / "switch.png", title="blue -> green")
    width, height = _is_png(path)
    assert width > 500 and height > 300


def test_live_panel_shows_versions_and_keeps_other_output(
        switch_run: tuple[LoadResult, list[int]]) -> None:
    from rich.console import Console

    result, _ = switch_run

    class Finished:  # the panel only needs snapshot()
        def snapshot(self, window_s: int = 3):  # noqa: ANN202
            from milvus_lab.load.result import LiveStats
            from milvus_lab.load.timeline import TimelineData

            data = TimelineData(result.history, result.started, result.stopped)
            return LiveStats.from_timeline(data, time.time(), False, window_s)

    console = Console(record=True, width=100, force_terminal=False)
    with live_panel(Finished(), title="router load", console=console):
        console.print("switching the selector")
    text = console.export_text()
    assert "switching the selector" in text and "green/v2" in text and "answered by" in text


def test_wait_for_answers_counts_answers_after_a_moment_and_stops_when_locust_is_gone(
        api: StubApi, workdir: Path, dataset: Path) -> None:
    run = start_locust(SEARCH_API, api.url, users=2, spawn_rate=2, run_time_s=None,
                       out_dir=workdir / "answers", env=_env(dataset))
    with run:
        since = time.time()
        seen = run.wait_for_answers(since, n=10, timeout_s=120)  # evidence, however slow the machine
        assert seen >= 10
        assert run.result().window(since, time.time() + 1, "after").requests >= seen
    with pytest.raises(VerificationFailed, match="Locust exited"):  # at once, not after the timeout
        run.wait_for_answers(time.time() + 1, n=10, timeout_s=120)


def test_locust_stops_by_itself_when_the_lab_that_started_it_is_killed(
        api: StubApi, workdir: Path, dataset: Path) -> None:
    """kill -9 of the owner (or a Ctrl-C that lands inside Popen) cannot stop the load: Locust,
    in its own session, notices its parent is gone and stops, writing its stats."""
    out = workdir / "orphaned"
    owner_code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from milvus_lab.load import start_locust\n"
        f"run = start_locust(Path({str(SEARCH_API)!r}), {api.url!r}, users=2, spawn_rate=2, run_time_s=None,\n"
        f"                   out_dir=Path({str(out)!r}), env={_env(dataset)!r})\n"
        "print(run.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_code], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        locust_pid = int(owner.stdout.readline())
        assert pid_running(locust_pid)
    finally:
        owner.kill()
        owner.wait(timeout=30)
    deadline = time.monotonic() + 60  # its check runs every second; Locust's stop takes ~2 s
    while pid_running(locust_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_running(locust_pid), f"Locust pid {locust_pid} outlived its owner"
    assert "is gone; stopping" in (out / "locust.log").read_text()
    assert _locust_pids(str(out)) == []


def test_unexpected_version_is_a_failure(api: StubApi, workdir: Path, dataset: Path) -> None:
    run = start_locust(SEARCH_API, api.url, users=5, spawn_rate=5, run_time_s=3,
                       out_dir=workdir / "wrong-version",
                       env=_env(dataset, MILVUS_LAB_EXPECT_VERSIONS="v2"))
    run.wait()
    result = run.result()
    assert result.requests > 0 and result.failures == result.requests
    assert any("unexpected version 'v1'" in e for e in result.errors), result.errors
    assert result.locust_totals["failures"] == result.failures


def test_empty_hits_are_failures(api: StubApi, workdir: Path, dataset: Path) -> None:
    api.control(mode="empty")
    run = start_locust(SEARCH_API, api.url, users=5, spawn_rate=5, run_time_s=3,
                       out_dir=workdir / "empty-hits", env=_env(dataset))
    run.wait()
    result = run.result()
    assert result.requests > 0 and result.failures == result.requests
    assert result.errors.keys() == {"empty hits"}
    # the failures are drawn per served_by: every second that holds requests says who failed
    # (not just the last second, which may hold none on a busy machine)
    busy = [s for s in result.history if s.requests]
    assert busy and all(s.served_by_failures for s in busy)


@pytest.mark.parametrize(("knob", "expected"), [
    ({"MILVUS_LAB_STICKY_USERS": "1"}, lambda ids, n: ids == {"locust-user-0", "locust-user-1"}),
    # a pool of 1,000 gives (nearly) every request its own user (~0.8 repeats in 40 draws)
    ({"MILVUS_LAB_USER_POOL": "1000"}, lambda ids, n: len(ids) >= 0.8 * min(n, 300) and all(
        i.startswith("user-") for i in ids)),
], ids=["sticky-per-locust-user", "simulated-user-pool"])
def test_user_ids_for_sticky_ab_assignment(workdir: Path, dataset: Path, knob: dict[str, str],
                                           expected: object) -> None:
    with stub_api(workdir) as api:
        run = start_locust(SEARCH_API, api.url, users=2, spawn_rate=2, run_time_s=None,
                           out_dir=workdir / f"users-{next(iter(knob))}",
                           env=_env(dataset, **knob))
        with run:  # judged on >= 40 requests, however long a busy machine takes to send them
            deadline = time.monotonic() + 90
            while run.snapshot().total_requests < 40 and time.monotonic() < deadline:
                time.sleep(0.1)
        ids = set(api.seen_users())
    requests = run.result().requests
    assert requests >= 40, f"only {requests} requests in 90 s"
    assert expected(ids, requests), (requests, sorted(ids)[:20])  # type: ignore[operator]


def test_broken_locustfile_is_a_prerequisite_error(api: StubApi, workdir: Path) -> None:
    bad = workdir / "broken_locustfile.py"
    bad.write_text("from locust import HttpUser\nraise RuntimeError('boom in locustfile')\n")
    with pytest.raises(PrerequisiteError) as err:
        start_locust(bad, api.url, 1, 1, 3, workdir / "broken")
    assert "exited during start-up" in str(err.value) and "boom in locustfile" in str(err.value)
    assert _locust_pids(str(workdir / "broken")) == []


def test_missing_dataset_says_how_to_create_it(api: StubApi, workdir: Path) -> None:
    with pytest.raises(PrerequisiteError) as err:
        start_locust(SEARCH_API, api.url, 1, 1, 3, workdir / "no-dataset",
                     env={"MILVUS_LAB_DATASET_DIR": str(workdir / "missing")})
    assert "no dataset at" in str(err.value) and "milvus-lab up" in str(err.value)


def test_refused_port_is_a_prerequisite_error(workdir: Path, dataset: Path) -> None:
    with pytest.raises(PrerequisiteError, match="nothing answers"):
        start_locust(SEARCH_API, f"http://127.0.0.1:{free_port()}", 1, 1, 3,
                     workdir / "refused", env=_env(dataset))
    with pytest.raises(PrerequisiteError, match="no locustfile"):
        start_locust(workdir / "nope.py", "http://127.0.0.1:1", 1, 1, 3, workdir / "refused")


def test_plain_locust_cli_runs_the_locustfile(api: StubApi, workdir: Path, dataset: Path) -> None:
    timeline = workdir / "cli" / "timeline.jsonl"
    env = {**os.environ, **_env(dataset), "MILVUS_LAB_TIMELINE": str(timeline)}
    locust = Path(sys.executable).with_name("locust")
    proc = subprocess.run(
        [str(locust), "-f", str(SEARCH_API), "--host", api.url, "--headless", "-u", "2",
         "-r", "2", "-t", "3s", "--only-summary"],
        env=env, capture_output=True, text=True, timeout=60, cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "/search" in proc.stdout + proc.stderr
    rows = read_timeline(timeline).seconds
    assert sum(r.requests for r in rows) > 0 and sum(r.failures for r in rows) == 0
