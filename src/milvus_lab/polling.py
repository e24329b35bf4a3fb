"""The one way to wait for something: poll with a deadline, stop early when it cannot happen.

Every wait in the labs (a server answering, Locust starting, a rollout, objects deleted) is
the same loop: ask, give up early when the thing died, raise a `LabError` naming what was
awaited and the fix when the deadline passes. Writing it once keeps the failure messages
uniform and keeps fixed sleeps ("surely 2 s is enough") out of the code base.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from milvus_lab.errors import LabError, PrerequisiteError

T = TypeVar("T")


def poll_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    fix: str,
    failed: Callable[[], str | None] | None = None,
    interval: float = 0.5,
    first_interval: float | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    error: type[LabError] = PrerequisiteError,
    timeout_message: str | None = None,
) -> T:
    """Return the first truthy value of `check()`.

    `failed()` returning a message ends the wait at once (a process exited, a pod crashed).
    Exceptions in `retry_on` count as "not yet" (the last one is named on timeout). With
    `first_interval` the pause starts short and grows by half up to `interval`, so a fast
    answer is seen fast without hammering a slow one. `timeout_message` replaces the generic
    "timed out ... waiting for" sentence where a plainer one says more ("no Milvus answers").
    """
    deadline = time.monotonic() + timeout
    pause = interval if first_interval is None else first_interval
    last_error: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except retry_on as exc:
            last_error = exc
        reason = failed() if failed is not None else None
        if reason:
            raise error(f"{what}: {reason}", fix=fix)
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error is not None else ""
            message = timeout_message or f"timed out after {timeout:.0f}s waiting for {what}"
            raise error(f"{message}{detail}", fix=fix)
        time.sleep(pause)
        pause = min(pause * 1.5, interval)
