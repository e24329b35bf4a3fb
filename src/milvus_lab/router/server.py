"""The router process: a data port that proxies to slots, a loopback-only control port.

    python -m milvus_lab.router.server --port 8080 --control-port 8081 --state FILE

Data port: `/preview/<path>` (or header `X-Preview: 1`) goes to the preview slot; every
other request picks a slot by weight (sticky by `X-User-Id`), then a backend round-robin.
A backend that refuses the connection is skipped for the next one in its slot, the way
a Service stops sending to a pod that is gone. Control port: GET/PUT /routes replaces the
whole table in one assignment, so a switch is atomic and in-flight requests finish on
the backend they already have. Backends are reached with aiohttp (C-accelerated HTTP
parsing): about half the router CPU per request of httpx.AsyncClient, which matters for
the "router adds <= 2 ms" budget (benchmarks/api_overhead.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import uvicorn
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from yarl import URL

from milvus_lab.router.table import RoundRobin, RoutingTable, TableError

HOP_BY_HOP = {
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
    b"trailers", b"transfer-encoding", b"upgrade", b"host", b"content-length",
}


class Router:
    """Shared state of both ports: the current table, the HTTP client pool, metrics."""

    def __init__(self, table: RoutingTable, state_file: Path | None,
                 ca_file: Path | None = None) -> None:
        self.table = table
        # HTTPS backends (lab 05) are verified against the lab's CA, never left unverified
        self.ssl: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        )
        self.state_file = state_file
        self.rr = RoundRobin()
        self.rnd = random.Random()
        self._session: aiohttp.ClientSession | None = None  # made in the event loop, on first use
        self.registry = CollectorRegistry()
        self.requests = Counter("router_requests_total", "Requests proxied by slot and status",
                                ("slot", "status"), registry=self.registry)
        self.weight = Gauge("router_slot_weight", "Current weight of each slot", ("slot",),
                            registry=self.registry)
        self._publish_weights()

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=512, limit_per_host=0, ssl=self.ssl),
                timeout=aiohttp.ClientTimeout(total=10.0, sock_connect=1.0),
                auto_decompress=False,  # bytes pass through as the backend sent them
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _publish_weights(self) -> None:
        for slot in self.table.pools:
            self.weight.labels(slot=slot).set(self.table.weights.get(slot, 0))

    def replace(self, table: RoutingTable) -> RoutingTable:
        table = RoutingTable.from_json({**table.to_json(), "version": self.table.version + 1})
        table.validate()
        self.table = table  # the atomic switch: one reference assignment
        self._publish_weights()
        if self.state_file:
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(table.to_json()))
            tmp.replace(self.state_file)
        return table

    # ---- data plane -------------------------------------------------------------
    async def data_app(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, on_shutdown=self.close)
            return
        table = self.table  # one snapshot per request
        headers = dict(scope["headers"])
        path = scope["path"]
        if path.startswith("/preview/") or headers.get(b"x-preview") in (b"1", b"true"):
            slot = table.preview
            path = path[len("/preview"):] if path.startswith("/preview/") else path
            if slot is None:
                await _json(send, 503, {"error": "no preview slot configured"})
                return
        elif not table.has_live_slot:
            await _json(send, 503, {"error": "router has no live slot yet"})
            return
        else:
            user = headers.get(b"x-user-id")
            slot = table.choose(user.decode() if user else None, self.rnd.random())
        body = await _read_body(receive)
        fwd_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
                       if k not in HOP_BY_HOP]
        query = scope.get("query_string", b"").decode()
        last_error = ""
        for backend in self.rr.order(table.pools[slot]):
            url = URL(f"{backend}{path}" + (f"?{query}" if query else ""), encoded=True)
            try:
                async with self.session().request(scope["method"], url, headers=fwd_headers,
                                                  data=body) as resp:
                    content = await resp.read()
                    status, raw_headers = resp.status, resp.raw_headers
            except asyncio.TimeoutError:  # before ClientConnectionError: never resend a slow one
                self.requests.labels(slot=slot, status="504").inc()
                await _json(send, 504, {"error": f"backend {backend} timed out"}, slot)
                return
            except aiohttp.ClientConnectionError as exc:  # refused, reset, or closed mid-way
                last_error = f"{backend}: {type(exc).__name__}"
                continue  # that replica is gone: the next one in the slot answers
            self.requests.labels(slot=slot, status=str(status)).inc()
            out = [(k.lower(), v) for k, v in raw_headers if k.lower() not in HOP_BY_HOP]
            out.append((b"content-length", str(len(content)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": out})
            await send({"type": "http.response.body", "body": content})
            return
        self.requests.labels(slot=slot, status="502").inc()
        await _json(send, 502, {"error": f"no backend of slot {slot!r} answered ({last_error})"}, slot)

    # ---- control plane ----------------------------------------------------------
    async def control_app(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        client_host = (scope.get("client") or ("", 0))[0]
        if client_host not in ("127.0.0.1", "::1"):
            await _json(send, 403, {"error": "control port is loopback-only"})
            return
        method, path = scope["method"], scope["path"]
        if path == "/routes" and method == "GET":
            await _json(send, 200, self.table.to_json())
        elif path == "/routes" and method == "PUT":
            try:
                table = self.replace(RoutingTable.from_json(json.loads(await _read_body(receive))))
            except (TableError, ValueError, TypeError, AttributeError) as exc:
                await _json(send, 400, {"error": str(exc)})
                return
            await _json(send, 200, table.to_json())
        elif path == "/healthz":
            await _json(send, 200, {"status": "ok", "version": self.table.version})
        elif path == "/metrics":
            body = generate_latest(self.registry)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain; version=0.0.4")]})
            await send({"type": "http.response.body", "body": body})
        else:
            await _json(send, 404, {"error": f"no route {method} {path}"})


async def _lifespan(receive: Any, send: Any, on_shutdown: Any = None) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if on_shutdown is not None:
                await on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _json(send: Any, status: int, payload: dict, slot: str | None = None) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"x-served-by", f"router/{slot or 'none'}".encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def serve(port: int, control_port: int, state_file: Path | None,
                ca_file: Path | None = None) -> None:
    table = RoutingTable()
    if state_file and state_file.is_file():
        table = RoutingTable.from_json(json.loads(state_file.read_text()))
    router = Router(table, state_file, ca_file)
    common = {"host": "127.0.0.1", "log_level": "warning", "access_log": False, "interface": "asgi3",
              "timeout_graceful_shutdown": 10}
    data = uvicorn.Server(uvicorn.Config(router.data_app, port=port, **common))
    control = uvicorn.Server(uvicorn.Config(router.control_app, port=control_port, **common))
    await asyncio.gather(data.serve(), control.serve())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="milvus-lab local router")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--control-port", type=int, default=8081)
    parser.add_argument("--state", type=Path, default=None)
    parser.add_argument("--ca-file", type=Path, default=None,
                        help="CA that signs HTTPS backends' certificates (lab 05)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.control_port, args.state, args.ca_file))


if __name__ == "__main__":
    main()
