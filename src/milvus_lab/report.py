"""The lab narrative on the console (rich) and the JSON report on disk.

Every lab prints the same shapes: numbered step panels saying what and why, the
equivalent kubectl/pymilvus command, a result line, and a summary table at the end.
Keeping them here makes the six labs look like one course.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from milvus_lab.progress import OnProgress, ProgressUpdate

console = Console(highlight=False)


@dataclass
class StepRecord:
    """One numbered step as it ran: kept for the JSON report."""

    number: int
    title: str
    ok: bool | None = None
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)


@dataclass
class Narrator:
    """Prints a lab as numbered steps and remembers them for the report."""

    lab: str
    title: str
    steps: list[StepRecord] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def header(self, learn: Sequence[str], targets: str, minutes: int) -> None:
        body = Text()
        body.append("You will learn:\n", style="bold")
        for item in learn:
            body.append(f"  • {item}\n")
        body.append(f"\nTargets: {targets}    Time: ~{minutes} min", style="dim")
        console.print(Panel(body, title=f"[bold]Lab {self.lab}: {self.title}", border_style="cyan"))

    @contextmanager
    def step(self, title: str, why: str, equivalent: str | None = None) -> Iterator[StepRecord]:
        """A numbered panel: what it does and why, the equivalent command, then the result."""
        record = StepRecord(number=len(self.steps) + 1, title=title)
        self.steps.append(record)
        parts: list[Any] = [Text(why)]
        if equivalent:
            parts.append(Text("\n$ " + equivalent.strip().replace("\n", "\n  "), style="green"))
        console.print(
            Panel(Group(*parts), title=f"[bold]Step {record.number}: {title}", border_style="blue")
        )
        t0 = time.monotonic()
        try:
            yield record
        except BaseException:
            record.ok = False
            raise
        finally:
            record.seconds = round(time.monotonic() - t0, 3)
        if record.ok is None:
            record.ok = True

    def result(self, ok: bool, message: str) -> None:
        """A ✔/✘ line under the current step; a ✘ marks the step failed."""
        mark, style = ("✔", "green") if ok else ("✘", "red")
        console.print(f"  [{style}]{mark}[/] {message}")
        self._keep(f"{mark} {message}")
        if self.steps and not ok:
            self.steps[-1].ok = False

    def info(self, message: str) -> None:
        console.print(f"  {message}")
        self._keep(message)

    def warn(self, message: str) -> None:
        console.print(f"  [yellow]![/] {message}")
        self._keep(f"! {message}")

    def _keep(self, line: str) -> None:
        """Each printed line also goes to the step's record, so the report holds the details."""
        if self.steps:
            self.steps[-1].lines.append(line)


def settings_table(values: dict[str, Any], title: str = "Settings in use") -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in values.items():
        table.add_row(key, str(value))
    return table


def summary_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(_fmt(v) for v in row))
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, bool):
        return "[green]yes[/]" if value else "[red]no[/]"
    return str(value)


@dataclass
class LiveHost:
    """The live panel on screen: rich shows one Live at a time, so bars opened meanwhile join it."""

    bars: list[Progress] = field(default_factory=list)


_live_host: LiveHost | None = None


@contextmanager
def hosting_progress() -> Iterator[LiveHost]:
    """Held by a live panel while it is on screen; `progress_bars` then draws inside it."""
    global _live_host
    previous, _live_host = _live_host, LiveHost()
    try:
        yield _live_host
    finally:
        _live_host = previous


@contextmanager
def progress_bars() -> Iterator[OnProgress]:
    """Draw the `ProgressUpdate`s of low layers as rich bars, one per task (the one style).

    While a live panel is on screen (`hosting_progress`) the bars are drawn inside it, and
    their final state is printed above it when the work ends, as a standalone bar would leave it.
    """
    bars = Progress(TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)
    tasks: dict[str, TaskID] = {}

    def draw(update: ProgressUpdate) -> None:
        description = update.description or update.task
        if update.task not in tasks:
            tasks[update.task] = bars.add_task(description, total=update.total)
        bars.update(tasks[update.task], completed=update.done, total=update.total, description=description)

    host = _live_host
    if host is None:
        with bars:
            yield draw
        return
    host.bars.append(bars)
    try:
        yield draw
    finally:
        host.bars.remove(bars)
        if tasks:
            console.print(bars.get_renderable())


def jsonable(value: Any) -> Any:
    """Dataclasses, paths, tuples and numpy scalars as plain JSON values."""
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value

