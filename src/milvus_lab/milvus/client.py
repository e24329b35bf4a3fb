"""The one place pymilvus connections are made, so engine differences stay in one file."""

from __future__ import annotations

from pymilvus import MilvusClient


def connect(uri: str, token: str = "", timeout: float = 10.0) -> MilvusClient:
    """A MilvusClient for `uri` (token `user:password` when the server enforces auth)."""
    return MilvusClient(uri=uri, token=token, timeout=timeout)
