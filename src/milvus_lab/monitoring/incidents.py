"""The incidents lab 06 injects into live traffic, each a kind production really has, each
with the fix an on-call engineer would apply:

- error burst: a bad release (API replicas failing a share of searches, lab 03's fault
  mechanism) takes the traffic; fix: route back to the good release.
- latency regression: a release whose searches are slow (the API's latency fault); fix:
  route back.
- Milvus lost: the Milvus server stops; every search answers 503; fix: start it again and
  load the collection.

The bad releases are deployed before the drill (not routed), so injection is one atomic
router switch and the clock measures detection, not process start-up.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace

import httpx
from pymilvus.exceptions import MilvusException

from milvus_lab.app.config import ApiConfig
from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus import server
from milvus_lab.milvus.client import connect as milvus_client
from milvus_lab.milvus.client import quiet_pymilvus
from milvus_lab.monitoring.drill import Incident
from milvus_lab.settings import Settings
from milvus_lab.targets.base import Target

NAMES = ("errors", "latency", "milvus")
ERRORS_SLOT, SLOW_SLOT = "red", "amber"
ERRORS_VERSION, SLOW_VERSION = "v1.1", "v1.2"


def bad_releases(good: ApiConfig, error_rate: float, latency_s: float, latency_rate: float) -> list[ApiConfig]:
    """The two faulty builds of the good config (same data, same collection)."""
    return [
        replace(good, slot=ERRORS_SLOT, version=ERRORS_VERSION, fault_error_rate=error_rate),
        replace(good, slot=SLOW_SLOT, version=SLOW_VERSION, fault_latency_s=latency_s,
                fault_latency_rate=latency_rate),
    ]


def _switch(target: Target, slot: str) -> None:
    target.route({slot: 100})


def error_burst(target: Target, live_slot: str) -> Incident:
    return Incident(
        "error burst", f"release {ERRORS_VERSION} (fails searches under concurrency) takes all traffic",
        "SearchApiHighErrorRate", {"severity": "page"},
        inject=lambda: _switch(target, ERRORS_SLOT), fix=lambda: _switch(target, live_slot),
        fix_text=f"roll back: route 100% to {live_slot}")


def latency_regression(target: Target, live_slot: str) -> Incident:
    return Incident(
        "latency regression", f"release {SLOW_VERSION} (slow searches) takes all traffic",
        "SearchApiHighLatency", {"severity": "page"},
        inject=lambda: _switch(target, SLOW_SLOT), fix=lambda: _switch(target, live_slot),
        fix_text=f"roll back: route 100% to {live_slot}")


def serves(url: str, dim: int, timeout: float = 5.0) -> bool:
    """True when one search through `url` answers 200 with hits."""
    try:
        resp = httpx.post(f"{url}/search", json={"vector": [0.1] * dim, "k": 1}, timeout=timeout)
    except httpx.HTTPError:
        return False
    return resp.status_code == 200 and bool(resp.json().get("hits"))


SLOW_FIX_S = 15.0  # a Milvus restart slower than this gets a note saying where the time went
# One load call's limit. After a restart Milvus Lite sometimes leaves a load call unanswered:
# a CI drill spent 60.2 s of a 66 s restore in load calls (60 s was the old limit), and the
# rounds after it went through at once. A 20,000-row load takes 1-3 s here; a call cut off
# early is simply made again.
LOAD_ATTEMPT_S = 10.0


def restore_milvus(target: Target, collection: str, dim: int, timeout_s: float = 180.0) -> str | None:
    """Start Milvus again and load the collection until searches through the live route
    succeed 3 times in a row, a second apart (a restarted Milvus keeps the data but not the
    loaded state, and Milvus Lite has been seen to report the collection released again
    right after a restart while the old process finished its shutdown).

    Returns a note when the restore was slow, with the time each part took (how the hung
    first load behind LOAD_ATTEMPT_S was found)."""
    started = time.monotonic()
    deadline = started + timeout_s
    spent = {"Milvus start": 0.0, "load": 0.0, "searches": 0.0}
    rounds = streak = 0
    while streak < 3:
        rounds += 1
        t = time.monotonic()
        uri = target.ensure_milvus()
        spent["Milvus start"] += time.monotonic() - t
        t = time.monotonic()
        client = milvus_client(uri)
        try:
            if "Loaded" not in str(client.get_load_state(collection).get("state")):
                streak = 0
                # a load that times out on a busy machine is retried until the deadline,
                # not raised: the drill measures recovery, it must not end in a traceback
                with contextlib.suppress(MilvusException):
                    client.load_collection(collection, timeout=max(5.0, min(LOAD_ATTEMPT_S, deadline - time.monotonic())))
        finally:
            client.close()
        spent["load"] += time.monotonic() - t
        t = time.monotonic()
        streak = streak + 1 if serves(target.live_url(), dim) else 0
        spent["searches"] += time.monotonic() - t
        if time.monotonic() > deadline:
            raise PrerequisiteError(f"searches still fail {timeout_s:.0f}s after restarting Milvus",
                                    fix="read .milvus-lab/logs/milvus-lite.log and the API replicas' logs")
        time.sleep(1.0)
    total = time.monotonic() - started
    if total < SLOW_FIX_S:
        return None
    parts = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in spent.items())
    return f"slow restore: {total:.0f}s in {rounds} rounds ({parts}, the rest pauses between rounds)"


def _stop(settings: Settings) -> None:
    with quiet_pymilvus():
        server.stop_server(settings)


def milvus_lost(target: Target, collection: str, dim: int) -> Incident:
    settings = target.settings

    def fix() -> str | None:
        with quiet_pymilvus():  # the outage was on purpose: no reconnect tracebacks
            return restore_milvus(target, collection, dim)

    return Incident(
        "Milvus lost", "the Milvus server process stops; the API answers 503",
        "SearchApiHighErrorRate", {"severity": "page"},
        inject=lambda: _stop(settings), fix=fix,
        fix_text=f"restart Milvus and load {collection!r}")


def by_name(name: str, target: Target, live_slot: str, collection: str, dim: int) -> Incident:
    """The incident a lab flag names (one of NAMES)."""
    if name == "errors":
        return error_burst(target, live_slot)
    if name == "latency":
        return latency_regression(target, live_slot)
    if name == "milvus":
        return milvus_lost(target, collection, dim)
    raise ValueError(f"unknown incident {name!r}; choose from {', '.join(NAMES)}")


def deploy_standby(target: Target, good: ApiConfig) -> None:
    """Both faulty builds running (one replica each) but with no traffic: injecting an
    incident is then only a route change, as a bad rollout is in production."""
    for cfg in bad_releases(good, error_rate=0.5, latency_s=1.0, latency_rate=0.6):
        target.deploy(cfg, 1)
