"""The incident drill's clock: inject a fault, then time each stage an on-call engineer
lives through, read from the real systems:

    injected -> alert firing in Prometheus (/api/v1/alerts) -> notification at the webhook
    fixed    -> alert resolved in Prometheus -> resolved notification at the webhook

Injection and fix are callables (a bad release routed live, Milvus stopped, ...), so this
module knows nothing of targets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from milvus_lab.monitoring import webhook
from milvus_lab.monitoring.promapi import PromApi, poll


@dataclass(frozen=True)
class Incident:
    name: str
    description: str
    alert: str  # the alert that must fire (alertname)
    labels: dict[str, str]  # and its labels (e.g. severity=page)
    inject: Callable[[], None]
    fix: Callable[[], str | None]  # may return a note on how the fix went (e.g. where a slow one spent its time)
    fix_text: str


@dataclass
class IncidentTiming:
    """Wall-clock (epoch seconds) of each stage; None = did not happen before the deadline."""

    name: str
    alert: str
    injected_at: float
    firing_at: float | None = None
    notified_at: float | None = None
    notified_via: str = ""
    fixed_at: float | None = None
    resolved_at: float | None = None
    resolved_notified_at: float | None = None
    notes: list[str] = field(default_factory=list)

    @staticmethod
    def _delta(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round(b - a, 2)

    @property
    def detection_s(self) -> float | None:
        return self._delta(self.injected_at, self.firing_at)

    @property
    def notification_s(self) -> float | None:
        return self._delta(self.injected_at, self.notified_at)

    @property
    def recovery_s(self) -> float | None:
        return self._delta(self.fixed_at, self.resolved_at)

    @property
    def detected(self) -> bool:
        return self.firing_at is not None and self.notified_at is not None

    def to_dict(self) -> dict:
        return {**asdict(self), "detection_s": self.detection_s, "notification_s": self.notification_s,
                "recovery_s": self.recovery_s,
                "resolved_notification_s": self._delta(self.fixed_at, self.resolved_notified_at)}


def _matches(labels: dict[str, str], alert: str, want: dict[str, str]) -> bool:
    return labels.get("alertname") == alert and all(labels.get(k) == v for k, v in want.items())


def notification_at(path: Path, alert: str, labels: dict[str, str], status: str, since: float) -> tuple[float, str] | None:
    """Arrival time and route of the first `status` notification for the alert after `since`."""
    for n in webhook.read(path):
        if n.received_at >= since and n.status == status and _matches(n.labels, alert, labels):
            return n.received_at, n.receiver_path
    return None


def run_incident(
    incident: Incident, api: PromApi, notifications: Path, timeout_s: float = 90.0,
    poll_s: float = 0.5, tick: Callable[[str], None] | None = None,
) -> IncidentTiming:
    """Inject, wait for firing + notification, fix, wait for resolution (+ its notification).

    The fix always runs, also when the alert never fires within `timeout_s`.
    """
    timing = IncidentTiming(incident.name, incident.alert, injected_at=time.time())
    incident.inject()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not timing.detected:
            if timing.firing_at is None and api.firing(incident.alert, **incident.labels):
                timing.firing_at = time.time()
                if tick:
                    tick(f"{incident.alert} firing after {timing.detection_s:.1f}s")
            if timing.notified_at is None:
                hit = notification_at(notifications, incident.alert, incident.labels, "firing", timing.injected_at)
                if hit:
                    timing.notified_at, timing.notified_via = hit
            time.sleep(poll_s)
        if not timing.detected:
            timing.notes.append(f"not detected within {timeout_s:.0f}s")
    finally:
        fix_note = incident.fix()
        timing.fixed_at = time.time()
        if fix_note:
            timing.notes.append(fix_note)
    if timing.firing_at is None:
        return timing
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and (timing.resolved_at is None or timing.resolved_notified_at is None):
        if timing.resolved_at is None and not api.firing(incident.alert, **incident.labels):
            timing.resolved_at = time.time()
            if tick:
                tick(f"{incident.alert} resolved {timing.recovery_s:.1f}s after the fix")
        if timing.resolved_notified_at is None:
            # since the firing notice, not the fix: an alert can resolve while a slow fix still
            # runs (seen in lab 06's Milvus-lost drill), and waiting for a notice "after the
            # fix" then spent the whole timeout on one that had come already
            hit = notification_at(notifications, incident.alert, incident.labels, "resolved",
                                  timing.notified_at or timing.firing_at)
            if hit:
                timing.resolved_notified_at = hit[0]
        time.sleep(poll_s)
    if timing.resolved_at is None:
        timing.notes.append(f"still firing {timeout_s:.0f}s after the fix")
    elif timing.resolved_notified_at is not None and timing.resolved_notified_at < timing.fixed_at:
        timing.notes.append("resolved before the fix finished: its resolved notification came while the fix "
                            "was still running")
    return timing


def wait_quiet(api: PromApi, timeout_s: float) -> bool:
    """Wait until no page fires, so the next incident's detection time is its own."""
    return poll(lambda: not any(a.state == "firing" and a.labels.get("severity") == "page"
                                for a in api.alerts()), timeout_s)


def tickets_during_pages(path: Path, timings: list[IncidentTiming], margin_s: float = 3.0) -> list[str]:
    """Ticket notifications that arrived while the same alert's page was firing (Alertmanager's
    inhibit rule must hold them back)."""
    leaks = []
    for n in webhook.read(path):
        if n.labels.get("severity") != "ticket" or n.status != "firing":
            continue
        for t in timings:
            if (t.alert == n.alertname and t.notified_at and t.resolved_at
                    and t.notified_at + margin_s < n.received_at < t.resolved_at - margin_s):
                leaks.append(f"{n.alertname} at {n.received_at:.0f}")
    return leaks


def seconds(value: float | None) -> str:
    """A stage's duration for the console: "-" when it never happened."""
    return "-" if value is None else f"{value:.1f}s"
