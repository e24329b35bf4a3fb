"""Post-promotion analysis the way production tools judge a release.

Every `policy.interval_s` seconds one measurement is taken (Argo Rollouts' AnalysisRun):
green's live traffic from the load test, and blue, still warm, probed at the same time with
the same queries (Kayenta's baseline: a reference under the same conditions). The exercise's
`rollback_decision` reads the measurements; only consecutive failed measurements abort, so a
busy laptop (slow for blue and green alike) no longer rolls back a healthy release.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Protocol

import httpx
import numpy as np
from rich.markup import escape
from rich.table import Table

from milvus_lab.app.client import search_body
from milvus_lab.bluegreen.gates import AnalysisPolicy, Decision, Measurement, TrafficWindow


class LoadWindows(Protocol):
    """What the analysis needs of a running load test: stats of a wall-clock window."""

    def result(self) -> object: ...


@dataclass
class ReferenceProbe:
    """Mirrored probes on blue: one search at a time, round-robin over blue's replicas."""

    urls: Sequence[str]
    queries: np.ndarray
    pause_s: float = 0.05
    samples: list[tuple[float, bool, float]] = field(default_factory=list)  # (t, ok, ms)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ReferenceProbe:
        self._thread = threading.Thread(target=self._run, name="blue-reference", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        i = 0
        with httpx.Client(timeout=5.0) as http:
            while not self._stop.is_set():
                url = self.urls[i % len(self.urls)]
                body = search_body(self.queries[i % len(self.queries)], 10)
                t0 = time.time()
                start = time.perf_counter()
                try:
                    ok = http.post(f"{url}/search", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.samples.append((t0, ok, (time.perf_counter() - start) * 1000))
                i += 1
                self._stop.wait(self.pause_s)

    def window(self, start: float, end: float) -> TrafficWindow:
        inside = [(ok, ms) for t, ok, ms in list(self.samples) if start <= t < end]
        times = [ms for ok, ms in inside if ok]
        return TrafficWindow(len(inside), sum(1 for ok, _ in inside if not ok),
                             float(np.percentile(times, 95)) if times else None)


def green_window(load: LoadWindows, start: float, end: float) -> TrafficWindow:
    """Live traffic (all of it on green after the switch) between two instants."""
    w = load.result().window(start, end, "measurement")  # type: ignore[attr-defined]
    return TrafficWindow(w.requests, w.failures, w.p95_ms)


@dataclass
class AnalysisRun:
    """The measurements taken and the decision they led to."""

    decision: Decision
    measurements: list[Measurement]
    decided_at: float  # wall clock, when the decision was made

    def rows(self, policy: AnalysisPolicy, judge: Callable[[Measurement, AnalysisPolicy], str | None]
             ) -> list[dict[str, object]]:
        """One row per measurement: green and blue side by side, and the verdict on it."""
        rows: list[dict[str, object]] = []
        for i, m in enumerate(self.measurements, 1):
            conclusive = m.green.requests >= policy.min_requests
            why = judge(m, policy) if conclusive else None
            rows.append({"n": i, "green_requests": m.green.requests, "green_errors": m.green.failures,
                         "green_p95_ms": _ms(m.green.p95_ms), "blue_requests": m.reference.requests,
                         "blue_p95_ms": _ms(m.reference.p95_ms),
                         "verdict": _verdict(m, policy, conclusive, why)})
        return rows


    def summary(self, policy: AnalysisPolicy, rows: list[dict[str, object]]) -> dict[str, object]:
        """The report's `analysis` entry: the decision, the policy, the measurement rows."""
        return {"decision": self.decision.action, "reason": self.decision.reason,
                "policy": vars(policy), "measurements": rows}


def _verdict(m: Measurement, policy: AnalysisPolicy, conclusive: bool, why: str | None) -> str:
    """What the row says; a slow green with no blue reference says latency was not judged."""
    if not conclusive:
        return "inconclusive"
    if why:
        return "failed: " + why
    slow = m.green.p95_ms is not None and m.green.p95_ms > policy.max_p95_ms
    if slow and (m.reference.requests < policy.min_reference or m.reference.p95_ms is None):
        return f"ok (latency not judged: {m.reference.requests} blue probes)"
    return "ok"


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def measurements_table(rows: list[dict[str, object]], title: str = "Post-promotion measurements") -> Table:
    """The rows of `AnalysisRun.rows` as a terminal table (green live traffic vs blue probed)."""
    table = Table(title=title, title_justify="left")
    for col in ("#", "green req", "green err", "green p95 ms", "blue probes", "blue p95 ms", "verdict"):
        table.add_column(col, justify="right" if col != "verdict" else "left")
    for r in rows:
        verdict = str(r["verdict"])
        style = "red" if verdict.startswith("failed") else ("green" if verdict == "ok" else "yellow")
        table.add_row(*(str("-" if r[k] is None else r[k]) for k in
                        ("n", "green_requests", "green_errors", "green_p95_ms", "blue_requests", "blue_p95_ms")),
                      f"[{style}]{escape(verdict)}[/]")
    return table


def watch(impl: ModuleType, load: LoadWindows, since: float, seconds: float,
          reference_urls: Sequence[str], queries: np.ndarray,
          policy: AnalysisPolicy | None = None) -> AnalysisRun:
    """Measure every interval until the decision is 'rollback' or `seconds` have passed."""
    policy = policy or AnalysisPolicy()
    probe = ReferenceProbe(reference_urls, queries).start()
    history: list[Measurement] = []
    decision = Decision("wait", "no measurement yet")
    try:
        start = since
        while start + policy.interval_s <= since + seconds + 1e-6:
            end = start + policy.interval_s
            # the load test's per-second buckets land about a second after they close
            time.sleep(max(0.0, end + 1.0 - time.time()))
            history.append(Measurement(green_window(load, start, end), probe.window(start, end)))
            decision = impl.rollback_decision(list(history), policy)
            if decision.rollback:
                break
            start = end
    finally:
        probe.stop()
    return AnalysisRun(decision, history, time.time())
