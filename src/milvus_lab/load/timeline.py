"""The per-second load timeline: one JSON line per wall-clock second, written and read here.

The Locust process writes it (through `milvus_lab.load.listener`), the lab process tails
and parses it, both with this module, so the format has exactly one definition. It holds
no Locust or gevent import: the lab process must never load those (DESIGN.md section 6).

Rows (`type` says which):
  {"type": "start", "t": 1700000000.12, "pid": 123}
  {"type": "second", "t": 1700000001, "requests": 25, "failures": 1,
   "p50": 3.1, "p95": 7.0, "p99": 9.0, "served_by": {"blue/v1": 25},
   "served_by_failures": {"blue/v1": 1}, "data_version": {"v1": 24},
   "errors": {"empty hits": 1}, "hist": {"3.1": 10, ...}}
  {"type": "stop", "t": 1700000009.5}
A "second" row covers [t, t+1). Seconds without any request still get a row (zeros), so an
outage shows as a gap in the plot instead of vanishing. `hist` is a latency histogram
(rounded milliseconds -> count) so percentiles over any window are computed exactly from
the same data, not averaged from per-second percentiles.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from milvus_lab.load.tail import LineTail

TIMELINE_ENV = "MILVUS_LAB_TIMELINE"
UNKNOWN = "unknown"  # served_by / data_version of a response without the header
MAX_ERROR_KINDS = 8  # per second, so one row stays small even when every request fails


def round_ms(ms: float) -> float:
    """Histogram key: 0.1 ms resolution below 10 ms, then ~2 significant digits (like Locust)."""
    if ms < 10:
        return round(ms, 1)
    if ms < 100:
        return float(round(ms))
    if ms < 1000:
        return float(round(ms, -1))
    if ms < 10_000:
        return float(round(ms, -2))
    return float(round(ms, -3))


def percentile(hist: dict[float, int], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of a histogram; None when it is empty."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return value
    return max(hist)


def version_of(served_by: str) -> str:
    """The app version part of an `X-Served-By: <slot>/<version>` value."""
    return served_by.rsplit("/", 1)[-1].strip() if served_by else UNKNOWN


@dataclass
class SecondStats:
    """What happened in one wall-clock second [t, t+1)."""

    t: int
    requests: int = 0
    failures: int = 0
    served_by: dict[str, int] = field(default_factory=dict)
    served_by_failures: dict[str, int] = field(default_factory=dict)
    data_version: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    hist: dict[float, int] = field(default_factory=dict)

    @property
    def p50(self) -> float | None:
        return percentile(self.hist, 0.50)

    @property
    def p95(self) -> float | None:
        return percentile(self.hist, 0.95)

    @property
    def p99(self) -> float | None:
        return percentile(self.hist, 0.99)

    @property
    def versions(self) -> dict[str, int]:
        """Requests per app version (the served_by counts summed over slots)."""
        out: Counter[str] = Counter()
        for key, n in self.served_by.items():
            out[version_of(key)] += n
        return dict(out)

    def to_row(self) -> dict[str, Any]:
        return {
            "type": "second", "t": self.t, "requests": self.requests, "failures": self.failures,
            "p50": self.p50, "p95": self.p95, "p99": self.p99,
            "served_by": self.served_by, "served_by_failures": self.served_by_failures,
            "data_version": self.data_version, "errors": self.errors,
            "hist": {repr(k): v for k, v in self.hist.items()},
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SecondStats:
        return cls(
            t=int(row["t"]), requests=int(row.get("requests", 0)),
            failures=int(row.get("failures", 0)),
            served_by=dict(row.get("served_by") or {}),
            served_by_failures=dict(row.get("served_by_failures") or {}),
            data_version=dict(row.get("data_version") or {}),
            errors=dict(row.get("errors") or {}),
            hist={float(k): int(v) for k, v in (row.get("hist") or {}).items()},
        )


class TimelineRecorder:
    """Aggregates request outcomes per wall-clock second and appends finished seconds.

    Single-threaded by design: in the Locust process every call comes from a greenlet of
    the same hub, so no lock is needed. `flush()` writes every second that has ended
    (or all of them with `final=True`), one flushed line each, so a reader can tail it.
    """

    def __init__(self, path: str | Path, clock: Any = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._out: IO[str] | None = None
        self._buckets: dict[int, SecondStats] = {}
        self._next_t: int | None = None  # first second not written yet
        self._stopped = False

    def start(self) -> None:
        """Open the file (append) and write the start row; seconds are counted from now."""
        if self._out is None:
            self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (lives for the run)
        now = self._clock()
        if self._next_t is None:
            self._next_t = int(now)
        self._stopped = False
        self._write({"type": "start", "t": now, "pid": os.getpid()})

    def record(
        self,
        response_time_ms: float,
        failed: bool,
        served_by: str | None = None,
        data_version: str | None = None,
        error: str | None = None,
        now: float | None = None,
    ) -> None:
        """Count one finished request in the second it finished."""
        t = int(self._clock() if now is None else now)
        if self._next_t is None:
            self._next_t = t
        t = max(t, self._next_t)  # a clock step back never rewrites a written second
        b = self._buckets.get(t)
        if b is None:
            b = self._buckets[t] = SecondStats(t)
        sb = served_by or UNKNOWN
        b.requests += 1
        b.served_by[sb] = b.served_by.get(sb, 0) + 1
        dv = data_version or UNKNOWN
        b.data_version[dv] = b.data_version.get(dv, 0) + 1
        key = round_ms(max(0.0, float(response_time_ms)))
        b.hist[key] = b.hist.get(key, 0) + 1
        if failed:
            b.failures += 1
            b.served_by_failures[sb] = b.served_by_failures.get(sb, 0) + 1
            msg = (error or "failure")[:200]
            if msg in b.errors or len(b.errors) < MAX_ERROR_KINDS:
                b.errors[msg] = b.errors.get(msg, 0) + 1
            else:
                b.errors["(other)"] = b.errors.get("(other)", 0) + 1

    def flush(self, final: bool = False) -> int:
        """Write every finished second (every second when `final`); return rows written."""
        if self._next_t is None or self._out is None:
            return 0
        upto = int(self._clock())
        if final and self._buckets:
            upto = max(upto, *self._buckets) + 1  # the last, partial second too
        written = 0
        for t in range(self._next_t, upto):
            self._write(self._buckets.pop(t, SecondStats(t)).to_row())
            written += 1
        self._next_t = max(self._next_t, upto)
        return written

    def stop(self) -> None:
        """Write what is left and the stop row; safe to call twice."""
        if self._stopped or self._out is None:
            return
        self.flush(final=True)
        self._write({"type": "stop", "t": self._clock()})
        self._stopped = True
        self._out.flush()

    def close(self) -> None:
        self.stop()
        if self._out is not None:
            self._out.close()
            self._out = None

    def _write(self, row: dict[str, Any]) -> None:
        assert self._out is not None
        self._out.write(json.dumps(row, separators=(",", ":")) + "\n")
        self._out.flush()


@dataclass
class TimelineData:
    """Everything parsed from a timeline file."""

    seconds: list[SecondStats] = field(default_factory=list)
    started: float | None = None
    stopped: float | None = None


class TimelineReader:
    """Reads a timeline incrementally: each `poll()` parses only the complete new lines."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.data = TimelineData()
        self._tail = LineTail(self.path)

    def poll(self) -> TimelineData:
        for line in self._tail.new_lines():
            self._add(line)
        return self.data

    def _add(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            row = json.loads(line)
        except ValueError:
            return  # a torn line from a killed writer: skip it, keep the rest
        kind = row.get("type")
        if kind == "second":
            self.data.seconds.append(SecondStats.from_row(row))
        elif kind == "start" and self.data.started is None:
            self.data.started = float(row["t"])
        elif kind == "stop":
            self.data.stopped = float(row["t"])


def read_timeline(path: str | Path) -> TimelineData:
    """Parse a whole timeline file."""
    return TimelineReader(path).poll()


def merge(seconds: Iterable[SecondStats]) -> SecondStats:
    """Sum several seconds into one (t = the first one's); percentiles stay exact."""
    out = SecondStats(t=0)
    first = True
    for s in seconds:
        if first:
            out.t, first = s.t, False
        out.requests += s.requests
        out.failures += s.failures
        for src, dst in ((s.served_by, out.served_by), (s.served_by_failures, out.served_by_failures),
                         (s.data_version, out.data_version), (s.errors, out.errors),
                         (s.hist, out.hist)):
            for k, v in src.items():
                dst[k] = dst.get(k, 0) + v
    return out
