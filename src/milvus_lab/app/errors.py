"""Which search failures are the client's fault (4xx) and which mean Milvus is lost (503).

A filter with a syntax error or an unknown field is rejected by Milvus with a message the
caller can act on; it says nothing about Milvus's health, so it must not be counted as an
outage (the rollback analysis reads the 5xx counts) nor reset the connection.
"""

from __future__ import annotations

MAX_FILTER_DEPTH = 32  # Milvus Lite's parser recurses; deeper filters are refused up front

# pymilvus's "cannot reach the server" code, and words it uses for a lost connection
_UNAVAILABLE_CODES = frozenset({2})
_UNAVAILABLE_WORDS = ("fail connecting", "unavailable", "deadline", "timed out", "timeout",
                      "connection", "channel", "socket closed", "not ready", "collection not found",
                      "can't find collection", "collection not loaded")


def is_client_error(exc: BaseException) -> bool:
    """True when Milvus refused the request itself (bad filter, unknown field): a 400."""
    from pymilvus.exceptions import MilvusException, MilvusUnavailableException

    if not isinstance(exc, MilvusException) or isinstance(exc, MilvusUnavailableException):
        return False
    if getattr(exc, "code", None) in _UNAVAILABLE_CODES:
        return False
    message = str(getattr(exc, "message", exc)).lower()
    return not any(word in message for word in _UNAVAILABLE_WORDS)


def milvus_message(exc: BaseException) -> str:
    """Milvus's own words, without pymilvus's wrapper."""
    return str(getattr(exc, "message", None) or exc)


def filter_problem(expr: str) -> str | None:
    """Why a filter is refused before it reaches Milvus, or None when it may be sent."""
    if "\x00" in expr:
        return "filter contains a null byte"
    depth = deepest = 0
    for ch in expr:
        if ch in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]":
            depth -= 1
    if deepest > MAX_FILTER_DEPTH:
        return f"filter nests {deepest} levels deep; at most {MAX_FILTER_DEPTH} are allowed"
    return None


def grpc_code(exc: BaseException) -> str | None:
    """The gRPC status name of a raw gRPC error (e.g. "UNAVAILABLE"), or None."""
    code = getattr(exc, "code", None)
    if callable(code):  # grpc.RpcError (pymilvus lets _InactiveRpcError through on some paths)
        try:
            return getattr(code(), "name", None)
        except Exception:  # noqa: BLE001 (a half-built error object: not a gRPC status)
            return None
    return None


def broken_channel(exc: BaseException) -> bool:
    """The connection itself is gone (reconnect), as opposed to one slow answer (just retry)."""
    if grpc_code(exc) in ("UNAVAILABLE", "CANCELLED"):
        return True
    message = str(getattr(exc, "message", exc)).lower()
    return any(w in message for w in ("fail connecting", "unavailable", "closed channel", "socket closed",
                                      "connection"))


def describe_unavailable(exc: BaseException) -> str:
    """What the 503 says: the error type and, for gRPC, its status (never the request)."""
    code = grpc_code(exc)
    return f"{type(exc).__name__}" + (f" ({code})" if code else "")
