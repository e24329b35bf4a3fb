"""What a load run measured: totals, the per-second history, marks, and window statistics.

Labs report "before / during / after" each switch; `LoadResult.window()` and `.phases()`
compute exact counts and percentiles for any interval from the per-second histograms.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from milvus_lab.load.timeline import SecondStats, TimelineData, merge, version_of


@dataclass(frozen=True)
class Mark:
    """An event instant the lab recorded during the run (e.g. "switch to green")."""

    t: float
    label: str


@dataclass(frozen=True)
class LoadFiles:
    """Where a run left its files (all under `out_dir`)."""

    out_dir: Path
    log: Path
    timeline: Path
    marks: Path
    json: Path
    csv_prefix: Path

    @classmethod
    def in_dir(cls, out_dir: Path) -> LoadFiles:
        return cls(out_dir, out_dir / "locust.log", out_dir / "timeline.jsonl",
                   out_dir / "marks.jsonl", out_dir / "locust.json", out_dir / "locust")


def shares(counts: dict[str, int]) -> dict[str, float]:
    """Counts as fractions of their total (empty when nothing was counted)."""
    total = sum(counts.values())
    return {k: v / total for k, v in sorted(counts.items())} if total else {}


def _versions(served_by: dict[str, int]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for key, n in served_by.items():
        out[version_of(key)] += n
    return dict(out)


@dataclass
class WindowStats:
    """Requests in the one-second buckets whose midpoint lies in [start, end)."""

    label: str
    start: float
    end: float
    seconds: int
    requests: int
    failures: int
    failure_ratio: float
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    served_by: dict[str, int]
    versions: dict[str, int]
    errors: dict[str, int]

    @classmethod
    def of(cls, label: str, start: float, end: float, buckets: list[SecondStats]) -> WindowStats:
        m = merge(buckets)
        n = len(buckets)
        return cls(
            label=label, start=start, end=end, seconds=n, requests=m.requests,
            failures=m.failures, failure_ratio=m.failures / m.requests if m.requests else 0.0,
            rps=m.requests / n if n else 0.0, p50_ms=m.p50, p95_ms=m.p95, p99_ms=m.p99,
            served_by=dict(sorted(m.served_by.items())), versions=_versions(m.served_by),
            errors=dict(Counter(m.errors).most_common()),
        )


@dataclass
class LiveStats:
    """The latest picture of a running test, for a live panel or a gate."""

    elapsed_s: float
    running: bool
    rps: float  # requests in the last complete second
    failures_last_s: int
    p95_ms: float | None  # over the last `window_s` seconds
    total_requests: int
    total_failures: int
    served_by_shares: dict[str, float]  # over the last `window_s` seconds
    version_shares: dict[str, float]
    window_s: int

    @classmethod
    def from_timeline(cls, data: TimelineData, now: float, running: bool,
                      window_s: int = 3) -> LiveStats:
        recent = data.seconds[-window_s:]
        m = merge(recent)
        last = data.seconds[-1] if data.seconds else SecondStats(0)
        total = merge(data.seconds)
        return cls(
            elapsed_s=max(0.0, now - data.started) if data.started else 0.0,
            running=running, rps=float(last.requests), failures_last_s=last.failures,
            p95_ms=m.p95, total_requests=total.requests, total_failures=total.failures,
            served_by_shares=shares(m.served_by), version_shares=shares(_versions(m.served_by)),
            window_s=window_s,
        )


@dataclass
class LoadResult:
    """A finished (or stopped) Locust run, measured by the timeline it recorded."""

    requests: int
    failures: int
    failure_ratio: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    rps: float
    duration_s: float
    started: float | None
    stopped: float | None
    history: list[SecondStats]
    marks: list[Mark]
    served_by: dict[str, int]
    versions: dict[str, int]
    data_versions: dict[str, int]
    errors: dict[str, int]
    files: LoadFiles
    exit_code: int | None
    locust_totals: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, data: TimelineData, marks: list[Mark], files: LoadFiles,
              exit_code: int | None) -> LoadResult:
        m = merge(data.seconds)
        if data.started is not None and data.stopped is not None:
            duration = max(data.stopped - data.started, 1e-9)
        else:
            duration = float(len(data.seconds))
        return cls(
            requests=m.requests, failures=m.failures,
            failure_ratio=m.failures / m.requests if m.requests else 0.0,
            p50_ms=m.p50, p95_ms=m.p95, p99_ms=m.p99,
            rps=m.requests / duration if duration else 0.0, duration_s=round(duration, 3),
            started=data.started, stopped=data.stopped, history=list(data.seconds),
            marks=sorted(marks, key=lambda mk: mk.t), served_by=dict(sorted(m.served_by.items())),
            versions=_versions(m.served_by), data_versions=dict(sorted(m.data_version.items())),
            errors=dict(Counter(m.errors).most_common()), files=files, exit_code=exit_code,
            locust_totals=read_locust_totals(files.json),
        )

    @property
    def start(self) -> float:
        if self.started is not None:
            return self.started
        return float(self.history[0].t) if self.history else 0.0

    @property
    def end(self) -> float:
        if self.stopped is not None:
            return self.stopped
        return float(self.history[-1].t + 1) if self.history else self.start

    @property
    def _first(self) -> float:
        """Where phases begin: the run's start or its first (possibly partial) second."""
        return min([self.start, *(float(s.t) for s in self.history[:1])])

    @property
    def _last(self) -> float:
        """Where phases end: past the run's stop and past its last second (requests still
        in flight when Locust stopped land in a second that starts after `stopped`)."""
        return max([self.end + 1, *(float(s.t + 1) for s in self.history[-1:])])

    def window(self, start: float, end: float, label: str = "") -> WindowStats:
        """Stats of the seconds between two instants (wall-clock, `time.time()`)."""
        buckets = [s for s in self.history if start <= s.t + 0.5 < end]
        return WindowStats.of(label or f"{start:.0f}-{end:.0f}", start, end, buckets)

    def phases(self) -> list[WindowStats]:
        """The run cut at every mark: before the first, between marks, after the last."""
        if not self.marks:
            return [self.window(self._first, self._last, "whole run")]
        edges = [self._first, *(mk.t for mk in self.marks), self._last]
        labels = [f"before {self.marks[0].label}"]
        labels += [f"{a.label} → {b.label}" for a, b in zip(self.marks, self.marks[1:], strict=False)]
        labels.append(f"after {self.marks[-1].label}")
        return [self.window(a, b, lab) for a, b, lab in zip(edges[:-1], edges[1:], labels, strict=True)]

    def around(self, mark: Mark | str, before_s: float = 5, after_s: float = 5) -> list[WindowStats]:
        """Two windows of fixed length on each side of a mark (found by label if a str)."""
        mk = self.mark_named(mark) if isinstance(mark, str) else mark
        return [self.window(mk.t - before_s, mk.t, f"{before_s:g}s before {mk.label}"),
                self.window(mk.t, mk.t + after_s, f"{after_s:g}s after {mk.label}")]

    def mark_named(self, label: str) -> Mark:
        for mk in self.marks:
            if mk.label == label:
                return mk
        raise KeyError(f"no mark {label!r}; marks: {[m.label for m in self.marks]}")

    def summary(self) -> dict[str, Any]:
        """JSON-ready totals, marks, phases and a compact history (no histograms)."""
        return {
            "requests": self.requests, "failures": self.failures,
            "failure_ratio": self.failure_ratio, "rps": round(self.rps, 2),
            "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "p99_ms": self.p99_ms,
            "duration_s": self.duration_s, "served_by": self.served_by,
            "versions": self.versions, "data_versions": self.data_versions,
            "errors": self.errors, "exit_code": self.exit_code,
            "marks": [{"t": mk.t, "label": mk.label} for mk in self.marks],
            "phases": [{k: v for k, v in w.__dict__.items()} for w in self.phases()],
            "history": [
                {"t": s.t, "requests": s.requests, "failures": s.failures, "p95_ms": s.p95,
                 "served_by": s.served_by}
                for s in self.history
            ],
            "files": {k: str(v) for k, v in self.files.__dict__.items()},
        }

    def report_summary(self) -> dict[str, Any]:
        """`summary()` without the per-second history: what a lab report keeps of a load run
        (the history is in the timeline file and the plot)."""
        return {k: v for k, v in self.summary().items() if k != "history"}


def read_locust_totals(path: Path) -> dict[str, int]:
    """Locust's own request/failure totals from its --json-file (empty if absent)."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, list):
        return {}
    return {
        "requests": sum(int(e.get("num_requests") or 0) for e in entries),
        "failures": sum(int(e.get("num_failures") or 0) for e in entries),
    }
