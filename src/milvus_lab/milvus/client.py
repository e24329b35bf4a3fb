"""The one place pymilvus connections are made, for every engine and target.

Milvus Lite and the standalone engine differ in what a client must send: a token when
authentication is on, certificates when TLS is on, and `db_name=` at construction
(pymilvus 3.x's `using_database()` calls DescribeDatabase, which Milvus 2.3 lacks).
Callers pass what the engine's endpoint says and never build a MilvusClient themselves.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pymilvus import MilvusClient


@dataclass(frozen=True)
class TlsClient:
    """What a client needs for Milvus's TLS modes: 1 = server authenticated, 2 = mutual."""

    mode: int
    ca_pem_path: str
    client_pem_path: str = ""
    client_key_path: str = ""
    server_name: str = "localhost"

    def kwargs(self) -> dict[str, object]:
        """pymilvus connection arguments (`secure=True` plus the PEM paths of the mode)."""
        if self.mode == 1:
            # one-way: the CA that signed the server certificate is the trust root
            return {"secure": True, "server_pem_path": self.ca_pem_path,
                    "server_name": self.server_name}
        return {"secure": True, "ca_pem_path": self.ca_pem_path,
                "client_pem_path": self.client_pem_path, "client_key_path": self.client_key_path,
                "server_name": self.server_name}

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TlsClient | None:
        return cls(**json.loads(text)) if text else None


# credentials of the endpoints this process started or reached (engine -> endpoint), so
# `connect(target.ensure_milvus())` works whether or not the engine wants a token or TLS
_CREDENTIALS: dict[str, tuple[str, TlsClient | None]] = {}


def _address(uri: str) -> str:
    return uri.split("://", 1)[-1].rstrip("/")


def remember(uri: str, token: str, tls: TlsClient | None) -> None:
    """Record how to reach `uri`; later `connect(uri)` calls without credentials use it."""
    if token or tls:
        _CREDENTIALS[_address(uri)] = (token, tls)
    else:
        _CREDENTIALS.pop(_address(uri), None)


def connect(uri: str, token: str = "", tls: TlsClient | None = None, db_name: str = "",
            timeout: float = 10.0) -> MilvusClient:
    """A MilvusClient for `uri`; the caller closes it.

    `token` is `user:password` when authentication is on; `tls` the client side of TLS.
    Without either, the credentials remembered for `uri` (by the engine that started it)
    are used.
    """
    from pymilvus import MilvusClient

    one_line_pymilvus_logs()
    if not token and tls is None and _address(uri) in _CREDENTIALS:
        token, tls = _CREDENTIALS[_address(uri)]
    kwargs: dict[str, object] = dict(tls.kwargs()) if tls else {}
    if tls:
        # pymilvus 3 shares one channel per address|token across clients and keeps it after
        # close(): a TLS client would ride an earlier channel with other certificates (after
        # a tlsMode change, or a mutual-TLS client after a one-way one). Its own channel,
        # closed with the client, keeps each client's certificates its own.
        kwargs["dedicated"] = True
    if db_name:
        kwargs["db_name"] = db_name
    if tls and uri.startswith("http://"):
        uri = "https://" + uri[len("http://"):]
    return MilvusClient(uri=uri, token=token, timeout=timeout, **kwargs)


def varchar_index_type(client: MilvusClient) -> str:
    """The scalar index a VARCHAR field takes: Milvus 2.3 builds only `Trie` (it refuses
    INVERTED), Milvus Lite 3.x and Milvus >= 2.4 take `INVERTED` (Lite refuses Trie)."""
    version = str(client.get_server_version()).lstrip("v")
    return "Trie" if version.startswith("2.3.") else "INVERTED"


def _exception_on_one_line(record: logging.LogRecord) -> bool:
    """A handler filter: the exception of a record becomes the end of its one line."""
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        first = (str(exc).strip().splitlines() or [""])[0]
        record.msg = f"{record.getMessage()} ({type(exc).__name__}: {first})"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return True


def one_line_pymilvus_logs() -> None:
    """pymilvus 3 logs a connection hiccup it recovers from in the background (a GOAWAY, a
    reconnect that had to be retried) with a full traceback, which in a lab's console reads
    like a crash of the lab. Its warnings stay visible, each on one line with the exception."""
    import pymilvus  # noqa: F401  (configures the "pymilvus" logger and its handlers)

    for handler in logging.getLogger("pymilvus").handlers:
        if _exception_on_one_line not in handler.filters:
            handler.addFilter(_exception_on_one_line)


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
