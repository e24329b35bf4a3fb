"""Load generation for the labs: Locust in a subprocess, its live timeline, results, plots.

Lazy exports: importing `milvus_lab.load` stays cheap and imports neither Locust (never in
the lab process) nor matplotlib/rich (only when a plot or a live panel is asked for). The
Locust process itself imports `milvus_lab.load.listener` and `milvus_lab.load.timeline`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "start_locust": "runner", "LocustRun": "runner", "check_reachable": "runner",
    "LoadResult": "result", "WindowStats": "result", "LiveStats": "result", "Mark": "result",
    "LoadFiles": "result",
    "SecondStats": "timeline", "read_timeline": "timeline",
    "live_panel": "live", "render_live": "live", "open_live_panel": "live",
    "plot_timeline": "plot",
    "start_search_load": "scenarios",
    "LOCUSTFILES": "paths", "locustfile": "paths",
}

__all__ = [
    "LOCUSTFILES", "LiveStats", "LoadFiles", "LoadResult", "LocustRun", "Mark", "SecondStats",
    "WindowStats", "check_reachable", "live_panel", "open_live_panel", "locustfile", "plot_timeline",
    "read_timeline", "render_live", "start_locust", "start_search_load",
]

if TYPE_CHECKING:
    from milvus_lab.load.live import live_panel, open_live_panel, render_live
    from milvus_lab.load.paths import LOCUSTFILES, locustfile
    from milvus_lab.load.plot import plot_timeline
    from milvus_lab.load.result import LiveStats, LoadFiles, LoadResult, Mark, WindowStats
    from milvus_lab.load.runner import LocustRun, check_reachable, start_locust
    from milvus_lab.load.scenarios import start_search_load
    from milvus_lab.load.timeline import SecondStats, read_timeline


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'milvus_lab.load' has no attribute {name!r}")
    return getattr(import_module(f"milvus_lab.load.{module}"), name)
