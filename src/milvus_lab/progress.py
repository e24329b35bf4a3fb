"""Progress of long work, reported by low layers through a callback; only the lab draws it.

A library function (an insert, a rollout wait, a deletion) takes `on_progress` and calls it
with `ProgressUpdate`s; it never opens a progress bar itself, so tests and other tools call it
silently and a lab renders it (`milvus_lab.report.progress_bars`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressUpdate:
    """How far one piece of work is: `task` is stable, `description` may change as it goes."""

    task: str
    done: float
    total: float
    description: str | None = None


OnProgress = Callable[[ProgressUpdate], None]


def ignore(update: ProgressUpdate) -> None:
    """The default callback: work done without anyone watching (tests, benchmarks)."""
