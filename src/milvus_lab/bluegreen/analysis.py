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
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Protocol

import httpx
import numpy as np

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

    def table(self) -> list[tuple]:
        return [(i + 1, m.green.requests, m.green.failures, m.green.p95_ms, m.reference.requests,
                 m.reference.p95_ms) for i, m in enumerate(self.measurements)]


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
