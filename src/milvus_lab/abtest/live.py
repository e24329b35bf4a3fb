"""Watch the running experiment: read the request log every tick, look, stop when told."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from milvus_lab.abtest import setup
from milvus_lab.abtest.arms import Arm, split
from milvus_lab.abtest.monitor import Monitor, Tick
from milvus_lab.abtest.records import RECORDS_ENV, RecordReader
from milvus_lab.abtest.state import State
from milvus_lab.labkit import LabRun
from milvus_lab.load import LocustRun, locustfile, start_locust
from milvus_lab.milvus import datasets
from milvus_lab.settings import Settings


def start_load(settings: Settings, url: str, dataset: str, users: int, user_rps: float,
               out_dir: Path) -> tuple[LocustRun, Path]:
    """Locust (loadtests/ab_testing.py) against `url` until stopped; it logs every request with
    its variant to a JSON-lines file (returned) that the lab follows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records_file = out_dir / "requests.jsonl"
    records_file.unlink(missing_ok=True)
    load = start_locust(locustfile("ab_testing"), url, users=users, spawn_rate=users, run_time_s=None,
                        out_dir=out_dir,
                        env={"MILVUS_LAB_DATASET_DIR": str(datasets.dataset_dir(settings, dataset)),
                             RECORDS_ENV: str(records_file), "MILVUS_LAB_USER_RPS": str(user_rps)})
    return load, records_file


def watch(reader: RecordReader, monitor: Monitor, ground_truth: np.ndarray,
          variants: Sequence[str], max_seconds: float, tick_s: float = 1.0,
          on_tick: Callable[[Tick, dict[str, Arm]], None] | None = None,
          alive: Callable[[], bool] = lambda: True) -> Tick:
    """Look once per tick until the monitor says stop, time is up or the load died."""
    deadline = time.time() + max_seconds
    while True:
        time.sleep(tick_s)
        arms = split(reader.poll(), ground_truth, variants)
        tick = monitor.look(time.time(), arms)
        if on_tick is not None:
            on_tick(tick, arms)
        if tick.stop or time.time() >= deadline or not alive():
            return tick


def progress_line(tick: Tick, started: float) -> str:
    """One line per shown look: counts, the primary effect, SRM and p95 per arm."""
    pr = tick.primary
    what = f"B-A {pr.diff:+.3f}, always-valid p {pr.always_valid_p:.3f}" if pr else "warming up"
    return (f"{tick.t - started:5.1f}s  A {tick.n_a:4d}  B {tick.n_b:4d}  {what}  "
            f"SRM p {tick.srm_p:.2g}  p95 {tick.p95_a:.0f}/{tick.p95_b:.0f} ms")


@dataclass(frozen=True)
class Traffic:
    """Where the run's request log is, and when the traffic started (wall clock)."""

    records_file: Path
    started: float


def run_experiment(run: LabRun, st: State, limit_s: float, tick_s: float = 0.5) -> Traffic:
    """Locust on the live route, watched every `tick_s` by `st.monitor` until it says stop, the
    load dies or `limit_s` pass; a progress line every 3 s. Fills `st.last` and `st.records`."""
    assert st.plan is not None and st.experiment is not None and st.stage is not None
    args = run.args
    load, records_file = start_load(run.settings, run.target.live_url(), setup.DATASET.name,
                                    args.users, args.user_rps, run.settings.path("load", "04"))
    run.on_exit(load.stop)
    reader = RecordReader(records_file)
    st.monitor = Monitor(st.design, st.plan.n_max_per_arm)
    started = time.time()
    shown = [0.0]

    def show(tick: Tick, _arms: object) -> None:
        if tick.t - shown[0] >= 3 or tick.stop:
            shown[0] = tick.t
            run.info(progress_line(tick, started))

    try:
        st.last = watch(reader, st.monitor, st.stage.dataset.ground_truth, st.experiment.variants,
                        max_seconds=limit_s, tick_s=tick_s, on_tick=show, alive=lambda: load.running)
    finally:
        load.stop()
    st.records = reader.poll()
    return Traffic(records_file, started)
