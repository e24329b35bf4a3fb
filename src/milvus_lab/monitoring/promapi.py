"""Reading Prometheus back through its HTTP API (/api/v1/query, query_range, alerts)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import numpy as np


@dataclass(frozen=True)
class Alert:
    """One alert as Prometheus's /api/v1/alerts reports it."""

    name: str
    state: str  # pending | firing
    labels: dict[str, str]
    annotations: dict[str, str]
    active_at: str


class PromApi:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _get(self, path: str, params: dict[str, str | float] | None = None) -> dict:
        resp = self.http.get(f"{self.url}{path}", params=params)
        resp.raise_for_status()
        body = resp.json()
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus {path}: {body}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> float | None:
        """The single value of an instant query (first series), or None when empty/NaN."""
        params: dict[str, str | float] = {"query": expr}
        if at is not None:
            params["time"] = at
        result = self._get("/api/v1/query", params)["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if np.isnan(value) else value

    def query_range(self, expr: str, start: float, end: float, step: float) -> tuple[np.ndarray, np.ndarray]:
        """(times, values) of the first series of a range query; empty arrays when none."""
        data = self._get("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step})
        if not data["result"]:
            return np.array([]), np.array([])
        pairs = np.array(data["result"][0]["values"], dtype=float)
        return pairs[:, 0], pairs[:, 1]

    def alerts(self) -> list[Alert]:
        return [Alert(a["labels"].get("alertname", ""), a["state"], a["labels"], a.get("annotations", {}),
                      a.get("activeAt", ""))
                for a in self._get("/api/v1/alerts")["alerts"]]

    def firing(self, alertname: str, **labels: str) -> bool:
        return any(a.name == alertname and a.state == "firing"
                   and all(a.labels.get(k) == v for k, v in labels.items()) for a in self.alerts())

    def targets_up(self, job: str) -> int:
        active = self._get("/api/v1/targets", {"state": "active"})["activeTargets"]
        return sum(1 for t in active if t["labels"].get("job") == job and t["health"] == "up")


def poll(ready: Callable[[], bool], timeout_s: float, poll_s: float = 0.5) -> bool:
    """Call `ready` until it is true or `timeout_s` passed (polling, never one long sleep:
    a busy machine only makes it take longer). True when it became ready."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True
