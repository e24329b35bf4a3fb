"""Watch the running experiment: read the request log every tick, look, stop when told."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from milvus_lab.abtest.arms import Arm, split
from milvus_lab.abtest.monitor import Monitor, Tick
from milvus_lab.abtest.records import RecordReader


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
