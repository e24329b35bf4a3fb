"""The one place pymilvus connections are made, so engine differences stay in one file."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from pymilvus import MilvusClient


def connect(uri: str, token: str = "", timeout: float = 10.0) -> MilvusClient:
    """A MilvusClient for `uri` (token `user:password` when the server enforces auth)."""
    return MilvusClient(uri=uri, token=token, timeout=timeout)


@contextlib.contextmanager
def quiet_pymilvus() -> Iterator[None]:
    """Silence pymilvus's connection-retry tracebacks while a server starts or stops on
    purpose (readiness polling hits a closed port by design)."""
    logger = logging.getLogger("pymilvus")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)
