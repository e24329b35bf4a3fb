"""A live panel of a running load test that stays on screen while the lab keeps printing.

    with live_panel(run, title="load on the router"):
        narrator.info("switching the Service selector to green...")   # prints above the panel
        ...

It uses the shared console (`milvus_lab.report.console`): rich then prints other output
above the panel instead of tearing it. Rich's own refresh thread calls `run.snapshot()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from milvus_lab.load.result import LiveStats
from milvus_lab.report import hosting_progress

BAR_WIDTH = 30
_STYLES = ("cyan", "green", "magenta", "yellow", "blue", "bright_cyan", "bright_green")


class _Snapshotting(Protocol):
    def snapshot(self, window_s: int = 3) -> LiveStats: ...


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _share_bar(share_by: dict[str, float]) -> Text:
    """One bar split between who answered, e.g. ██████ blue/v1 60%  ████ green/v2 40%."""
    bar, legend = Text(), Text()
    for i, (key, share) in enumerate(share_by.items()):
        style = _STYLES[i % len(_STYLES)]
        bar.append("█" * max(1, round(share * BAR_WIDTH)) if share > 0 else "", style=style)
        legend.append(f"  {key} {share:.0%}", style=style)
    if not share_by:
        return Text("(no answers yet)", style="dim")
    return Text.assemble(bar, legend)


def render_live(stats: LiveStats, title: str = "load") -> RenderableType:
    """The panel for one snapshot (pure: easy to test and to print once at the end)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    fail_style = "red" if stats.failures_last_s else "green"
    table.add_row("requests/s", f"{stats.rps:.0f}")
    table.add_row("failures", Text.assemble(
        (f"{stats.failures_last_s} in the last second", fail_style),
        (f"   {stats.total_failures} of {stats.total_requests} in total", "dim")))
    table.add_row(f"p95 (last {stats.window_s}s)", _ms(stats.p95_ms))
    table.add_row("answered by", _share_bar(stats.served_by_shares))
    state = "running" if stats.running else "finished"
    return Panel(Group(table), title=f"[bold]{title}[/] · {state} · {stats.elapsed_s:.0f}s",
                 border_style="magenta" if stats.running else "dim")


@contextmanager
def live_panel(
    run: _Snapshotting,
    title: str = "load",
    console: Console | None = None,
    refresh_per_second: float = 2.0,
    transient: bool = False,
) -> Iterator[Live]:
    """Show `run`'s live stats until the block ends; other console output prints above it,
    progress bars (`milvus_lab.report.progress_bars`) inside it."""
    if console is None:
        from milvus_lab.report import console as shared_console

        console = shared_console
    with hosting_progress() as host:  # progress bars opened meanwhile are drawn inside this panel
        render: Callable[[], RenderableType] = lambda: Group(_safe_render(run, title), *host.bars)  # noqa: E731
        live = Live(get_renderable=render, console=console, refresh_per_second=refresh_per_second,
                    transient=transient, redirect_stdout=True, redirect_stderr=True)
        with live:
            yield live


def _safe_render(run: _Snapshotting, title: str) -> RenderableType:
    try:
        return render_live(run.snapshot(), title)
    except Exception as e:  # a refresh thread must never die on a torn read
        return Text(f"{title}: no stats yet ({e})", style="dim")


def open_live_panel(run: _Snapshotting, title: str = "load") -> Callable[[], None]:
    """A live panel that stays up across lesson steps; call the returned function to close it."""
    panel = live_panel(run, title=title)
    panel.__enter__()
    return lambda: panel.__exit__(None, None, None)
