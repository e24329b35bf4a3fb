"""Progress bars opened while a live load panel is on screen are drawn inside that panel
(rich shows one Live at a time), and their final state stays in the output afterwards."""

from __future__ import annotations

from rich.console import Console

from milvus_lab.load.live import live_panel
from milvus_lab.load.result import LiveStats
from milvus_lab.progress import ProgressUpdate
from milvus_lab.report import console as shared_console
from milvus_lab.report import progress_bars


class NoStatsYet:
    """A load run before its first second of stats (the panel says so)."""

    def snapshot(self, window_s: int = 3) -> LiveStats:
        raise RuntimeError("no timeline yet")


def rendered(renderable: object) -> str:
    out = Console(record=True, width=120, force_terminal=False)
    out.print(renderable)
    return out.export_text()


def test_bars_join_the_live_panel_and_leave_their_final_state() -> None:
    with shared_console.capture() as captured, live_panel(NoStatsYet(), title="live traffic") as live:
        assert "insert products_v2" not in rendered(live.renderable)
        with progress_bars() as draw:
            draw(ProgressUpdate("insert products_v2", 3, 10))
            inside = rendered(live.renderable)
        after = rendered(live.renderable)
    assert "live traffic" in inside and "insert products_v2" in inside and "3/10" in inside
    assert "insert products_v2" not in after  # gone from the panel once the work ended ...
    assert "3/10" in captured.get()  # ... and printed above it, as a standalone bar leaves it


def test_bars_without_a_live_panel_draw_on_their_own() -> None:
    with shared_console.capture() as captured, progress_bars() as draw:
        draw(ProgressUpdate("load index", 1, 1))
    assert "load index" in captured.get() and "1/1" in captured.get()
