"""Locust glue for the timeline: event listeners that feed a `TimelineRecorder`.

Imported only inside a Locust process (a locustfile, or the runner's bootstrap), because it
imports locust and gevent. `install()` is idempotent, so a locustfile can call it and the
runner can call it too without counting any request twice.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from milvus_lab.load.timeline import TIMELINE_ENV, TimelineRecorder

SERVED_BY_HEADER = "X-Served-By"
DATA_VERSION_HEADER = "X-Data-Version"

_state: dict[str, Any] = {"installed": False, "recorder": None}


def header(response: Any, name: str) -> str | None:
    """A response header, or None when there is no response (connection error) or no header."""
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        value = headers.get(name)
    except Exception:  # noqa: BLE001 - a half-built response object must not break stats
        return None
    return str(value) if value else None


def error_text(exception: BaseException | None) -> str | None:
    """A short, stable failure label (CatchResponseError messages are already ours)."""
    if exception is None:
        return None
    text = str(exception) or type(exception).__name__
    if type(exception).__name__ != "CatchResponseError":
        text = f"{type(exception).__name__}: {text}"
    return text.splitlines()[0][:200] if text else type(exception).__name__


def install(path: str | os.PathLike[str] | None = None) -> bool:
    """Record the per-second timeline to `path` (default: env MILVUS_LAB_TIMELINE).

    Returns True when a recorder is (or already was) installed, False when no path is set.
    A request's served_by / data_version come from the request context (keys `served_by`,
    `data_version`, set by non-HTTP users) or else from the X-Served-By / X-Data-Version
    response headers.
    """
    if _state["installed"]:
        return True
    target = path or os.environ.get(TIMELINE_ENV)
    if not target:
        return False

    import gevent
    from locust import events
    from locust.runners import MasterRunner, WorkerRunner

    _state["installed"] = True
    flusher: dict[str, Any] = {"greenlet": None}

    @events.init.add_listener
    def _on_init(environment: Any, **_: Any) -> None:
        if isinstance(environment.runner, MasterRunner):
            return  # requests happen on the workers; each writes its own file
        out = Path(target)
        if isinstance(environment.runner, WorkerRunner):
            out = out.with_name(f"{out.stem}.worker-{os.getpid()}{out.suffix}")
        _state["recorder"] = TimelineRecorder(out)

    def _flush_loop(recorder: TimelineRecorder) -> None:
        while True:
            gevent.sleep(1.02 - (time.time() % 1.0))  # just after each second boundary
            recorder.flush()

    @events.test_start.add_listener
    def _on_test_start(**_: Any) -> None:
        recorder = _state["recorder"]
        if recorder is None:
            return
        recorder.start()
        if flusher["greenlet"] is None:
            flusher["greenlet"] = gevent.spawn(_flush_loop, recorder)

    @events.request.add_listener
    def _on_request(
        response_time: float,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: BaseException | None = None,
        **_: Any,
    ) -> None:
        recorder = _state["recorder"]
        if recorder is None:
            return
        ctx = context or {}
        recorder.record(
            response_time or 0.0,
            failed=exception is not None,
            served_by=ctx.get("served_by") or header(response, SERVED_BY_HEADER),
            data_version=ctx.get("data_version") or header(response, DATA_VERSION_HEADER),
            error=error_text(exception),
        )

    def _on_test_stop(**_: Any) -> None:
        # users may still finish requests during --stop-timeout: write what we have, keep counting
        recorder = _state["recorder"]
        if recorder is not None:
            recorder.flush(final=True)

    def _on_quitting(**_: Any) -> None:
        recorder = _state["recorder"]
        if flusher["greenlet"] is not None:
            flusher["greenlet"].kill(block=False)
            flusher["greenlet"] = None
        if recorder is not None:
            recorder.stop()  # the late seconds, then the stop row

    events.test_stop.add_listener(_on_test_stop)
    events.quitting.add_listener(_on_quitting)
    return True
