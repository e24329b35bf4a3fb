"""The search API every lab deploys: `uvicorn milvus_lab.app.main:create_app --factory`.

Each replica knows its slot and version and says so on every response
(`X-Served-By: <slot>/<version>`), so a load test can draw who answered when. It reports
the release stored in the rows that answered (`X-Data-Version`), which is how a Milvus
alias cutover becomes visible from outside. Milvus down is a fast 503, never a hang; a
client's mistake (bad filter, NaN, oversized body) is a 4xx with the reason and leaves the
connection and the 5xx counts alone.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import threading
import time
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, create_model, field_validator

from milvus_lab import __version__
from milvus_lab.app.auth import ApiAuth
from milvus_lab.app.config import ApiConfig
from milvus_lab.app.errors import (
    broken_channel,
    describe_unavailable,
    filter_problem,
    is_client_error,
    milvus_message,
)
from milvus_lab.app.experiment import ApiExperiment
from milvus_lab.app.metrics import ApiMetrics

OUTPUT_FIELDS = ["category", "price", "title", "release"]
MAX_BODY_BYTES = 1_000_000  # a 128-d query is ~3 kB; 100 MB bodies once took 11 s and 1.1 GB


class SearchRequest(BaseModel):
    vector: list[float] = Field(..., min_length=1)  # finite numbers only (see the validator)
    k: int = Field(10, ge=1, le=100)
    filter: str | None = Field(None, max_length=512)

    @field_validator("vector")
    @classmethod
    def _finite(cls, value: list[float]) -> list[float]:
        if not all(math.isfinite(x) for x in value):
            raise ValueError("vector values must be finite numbers (no NaN or infinity)")
        return value

    @field_validator("filter")
    @classmethod
    def _usable_filter(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = filter_problem(value)
        if problem:
            raise ValueError(problem)
        return value.strip() or None


class ErrorBody(BaseModel):
    error: str


class SearchHit(BaseModel):
    id: int
    distance: float
    fields: dict[str, Any]


class SearchResponse(BaseModel):
    hits: list[SearchHit]
    slot: str
    version: str
    variant: str
    data_version: str
    collection: str
    took_ms: float


def request_model(dim: int) -> type[SearchRequest]:
    """SearchRequest whose OpenAPI schema states this replica's vector dimension."""
    return create_model(  # type: ignore[call-overload]
        "SearchRequest", __base__=SearchRequest,
        vector=(list[float], Field(..., min_length=1, json_schema_extra={"minItems": dim, "maxItems": dim},
                                   description=f"the query vector: exactly {dim} finite numbers")),
    )


class ClientError(Exception):
    """Milvus refused the request itself (bad filter, unknown field): the caller's mistake."""


SEARCH_CONSISTENCY = "Bounded"
RETRY_ATTEMPTS = 3  # transient gRPC errors under load (UNAVAILABLE, DEADLINE_EXCEEDED) are retried
RETRY_BUDGET_FACTOR = 2.0  # ... within this many timeouts in all; then 503


def milvus_token(cfg: ApiConfig) -> str:
    """The Milvus credentials: a mounted file (lab 05) wins over the env variable."""
    if cfg.milvus_token_file:
        with open(cfg.milvus_token_file) as fh:
            return fh.read().strip()
    return cfg.milvus_token or ""


class MilvusGateway:
    """A lazily (re)connected MilvusClient: the app starts even when Milvus is down."""

    def __init__(self, cfg: ApiConfig) -> None:
        self.cfg = cfg
        self._client: Any = None
        self._lock = threading.Lock()
        self.warm = False

    def client(self, connect_timeout: float | None = None) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    # pymilvus imports these lazily, without a lock, on the first search;
                    # concurrent first searches raced ("partially initialized module
                    # scipy.sparse._bsr") and answered 503: import them once, here
                    import scipy.sparse  # noqa: F401

                    from milvus_lab.milvus.client import TlsClient, connect

                    self._client = connect(
                        self.cfg.milvus_uri, token=milvus_token(self.cfg),
                        tls=TlsClient.from_json(self.cfg.milvus_tls),
                        timeout=connect_timeout or self.cfg.timeout_s,
                    )
        return self._client

    def reset(self, broken: Any = None) -> None:
        """Drop the client (only `broken`, when given: a concurrent request may have replaced it).

        The old client is closed later, not now: other requests may still be using its
        channel, and closing it under them turned one lost call into a burst of 503s.
        """
        with self._lock:
            if broken is not None and self._client is not broken:
                return
            old, self._client = self._client, None
        if old is not None:
            timer = threading.Timer(2 * self.cfg.timeout_s + 1, self._close, (old,))
            timer.daemon = True
            timer.start()

    @staticmethod
    def _close(client: Any) -> None:
        with contextlib.suppress(Exception):
            client.close()

    def search(self, req: SearchRequest, params: dict | None = None) -> list[dict]:
        """Search; transient gRPC trouble (a slow answer, a dropped channel) is retried within
        a budget of twice the timeout, reconnecting when the channel broke; only then 503."""
        deadline = time.monotonic() + RETRY_BUDGET_FACTOR * self.cfg.timeout_s
        for attempt in range(RETRY_ATTEMPTS):
            remaining = deadline - time.monotonic()
            client = None
            try:
                client = self.client(connect_timeout=min(self.cfg.timeout_s, max(remaining, 0.2)))
                result = client.search(
                    self.cfg.collection, data=[req.vector], limit=req.k, filter=req.filter or "",
                    output_fields=OUTPUT_FIELDS,
                    search_params={"params": self.cfg.search_params if params is None else params},
                    timeout=min(self.cfg.timeout_s, max(remaining, 0.2)),
                    # a serving path reads with bounded staleness (Milvus's own default): the
                    # data it serves was flushed and loaded before the alias pointed at it, and
                    # "Strong" made every search on Milvus 2.3.5 wait ~200 ms for a time tick
                    consistency_level=SEARCH_CONSISTENCY,
                )
                break
            except Exception as exc:
                if is_client_error(exc):
                    raise ClientError(milvus_message(exc)) from None
                if client is None or broken_channel(exc):
                    self.reset(client)  # the next attempt reconnects instead of reusing a broken channel
                pause = 0.1 * 2 ** attempt
                if attempt + 1 == RETRY_ATTEMPTS or time.monotonic() + pause + 0.2 > deadline:
                    raise
                time.sleep(pause)
        return [
            {"id": hit["id"], "distance": hit["distance"], "fields": hit.get("entity", {})}
            for hit in result[0]
        ]

    def ready(self) -> tuple[bool, str]:
        try:
            state = self.client().get_load_state(self.cfg.collection, timeout=self.cfg.timeout_s)
        except Exception as exc:
            if "permission deny" in str(getattr(exc, "details", lambda: "")()):
                return self._ready_by_search()
            self.reset(self._client)
            return False, f"Milvus not reachable or collection missing: {type(exc).__name__}: {exc}"
        ok = "Loaded" in str(state.get("state"))
        if not ok:
            return False, f"collection {self.cfg.collection} not loaded: {state}"
        if not self.warm:  # one real search before the first user's: imports, channel, caches
            try:
                self.search(SearchRequest(vector=[0.5] * self.cfg.dim, k=1))
            except Exception as exc:
                return False, f"warm-up search failed: {type(exc).__name__}: {exc}"
            self.warm = True
        return True, "loaded"


    def _ready_by_search(self) -> tuple[bool, str]:
        """Readiness with only the Search privilege: Milvus 2.3 checks GetLoadState as
        PrivilegeLoad, which a least-privileged search user must not have (lab 05)."""
        try:
            probe = [[1.0] + [0.0] * (self.cfg.dim - 1)]
            self.client().search(self.cfg.collection, data=probe, limit=1, consistency_level=SEARCH_CONSISTENCY,
                                 timeout=self.cfg.timeout_s)
        except Exception as exc:
            self.reset(self._client)
            return False, f"a 1-row search failed: {type(exc).__name__}"
        return True, "loaded (a 1-row search answered)"


class InFlight:
    """Counts searches in progress in this replica (entering yields the count, self included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __enter__(self) -> int:
        with self._lock:
            self.count += 1
            return self.count

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.count -= 1


class ServedByMiddleware:
    """Pure ASGI middleware: tags every response (errors and 422s too) with who served it."""

    def __init__(self, app: Any, served_by: str, replica: str = "") -> None:
        self.app = app
        self.headers = [(b"x-served-by", served_by.encode())]
        if replica:  # the pod / process name: per-replica counts for load-balancing demos
            self.headers.append((b"x-served-by-replica", replica.encode()))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_tagged(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_tagged)


class BodyLimitMiddleware:
    """Pure ASGI middleware: a body over `limit` bytes is a 413, read no further."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._too_large(send)
                return
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Any) -> None:
        body = json.dumps({"error": f"request body larger than {self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def create_app(cfg: ApiConfig | None = None) -> FastAPI:
    """Build one replica's app from its config (env by default, for uvicorn --factory)."""
    cfg = cfg or ApiConfig.from_env()
    metrics = ApiMetrics()
    gateway = MilvusGateway(cfg)
    labels = {"slot": cfg.slot, "version": cfg.version, "variant": cfg.variant}
    metrics.info.labels(**labels, collection=cfg.collection).set(1)
    rng = random.Random()
    inflight = InFlight()
    auth = ApiAuth(cfg, on_deny=lambda path, status: count(path, status))
    experiment = ApiExperiment.from_config(cfg.experiment)  # lab 04's A/B test, when configured

    app = FastAPI(title="milvus-lab search API", version=__version__)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI echoes the input back; a NaN in it cannot be JSON and made this a 500
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail}, 422)
    app.state.config = cfg
    app.state.gateway = gateway

    def count(endpoint: str, status: int, variant: str = cfg.variant) -> None:
        metrics.requests.labels(**{**labels, "variant": variant}, endpoint=endpoint,
                                status=str(status)).inc()

    body_model = request_model(cfg.dim)
    errors: dict[int | str, dict[str, Any]] = {
        200: {"model": SearchResponse, "description": "the top-k hits and who served them"},
        400: {"model": ErrorBody, "description": "Milvus refused the filter (its message is in `error`)"},
        413: {"model": ErrorBody, "description": f"request body over {MAX_BODY_BYTES:,} bytes"},
        422: {"description": "invalid body: wrong vector dimension, NaN/infinity, k out of range, "
                             "unusable filter"},
        500: {"model": ErrorBody, "description": "injected fault (lab 03 rollback drill only)"},
        503: {"model": ErrorBody, "description": "Milvus unavailable (the replica reconnects)"},
        401: {"description": "API keys are on and the key is missing, unknown or revoked (lab 05)"},
        403: {"description": "the key has no `search` scope (lab 05)"},
        429: {"description": "this key's rate limit is spent (lab 05)"},
    }

    def search(req: SearchRequest, response: Response,
               x_user_id: Annotated[str | None, Header()] = None) -> Any:
        served = experiment.serve(x_user_id) if experiment else None
        variant = served.assignment.variant if served else cfg.variant
        tags = served.headers if served else {}
        if len(req.vector) != cfg.dim:
            count("/search", 422, variant)
            return JSONResponse(
                {"error": f"vector has {len(req.vector)} dimensions, expected {cfg.dim}"}, 422,
                headers=tags,
            )
        with inflight as concurrent:
            # the injected fault is a race: it only bites with concurrent requests, so a
            # sequential preview smoke test passes and only real traffic reveals it
            if cfg.fault_error_rate and concurrent >= 2 and rng.random() < cfg.fault_error_rate:
                count("/search", 500)
                return JSONResponse({"error": "injected fault (lab 03 rollback drill)"}, 500)
            if served and served.fail:
                count("/search", 500, variant)
                return JSONResponse({"error": "injected fault (lab 04 regression drill)"}, 500,
                                    headers=tags)
            t0 = time.perf_counter()
            if cfg.fault_latency_s and rng.random() < cfg.fault_latency_rate:
                # lab 06's latency regression: as if a release raised `ef` tenfold
                time.sleep(cfg.fault_latency_s)
            try:
                hits = gateway.search(req, served.assignment.search_params if served else None)
            except ClientError as exc:
                count("/search", 400, variant)
                return JSONResponse({"error": str(exc)}, 400, headers=tags)
            except Exception as exc:
                count("/search", 503, variant)
                return JSONResponse({"error": f"Milvus unavailable: {describe_unavailable(exc)}"}, 503,
                                    headers=tags)
            took = time.perf_counter() - t0
        metrics.latency.labels(**{**labels, "variant": variant}).observe(took)
        if not hits:
            metrics.empty_results.labels(**{**labels, "variant": variant}).inc()
        count("/search", 200, variant)
        data_version = str(hits[0]["fields"].get("release", "")) if hits else ""
        response.headers["X-Data-Version"] = data_version
        response.headers.update(tags)
        return {
            "hits": hits, "slot": cfg.slot, "version": cfg.version, "variant": variant,
            "data_version": data_version, "collection": cfg.collection,
            "took_ms": round(took * 1000, 3),
        }

    search.__annotations__["req"] = body_model  # this replica's dimension, in the OpenAPI spec
    app.post("/search", responses=errors, dependencies=[Depends(auth.require("search"))])(search)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "not ready (Milvus lost, collection "
                                                       "not loaded, or warm-up failed)"}})
    def readyz() -> Any:
        ok, detail = gateway.ready()
        count("/readyz", 200 if ok else 503)
        return JSONResponse({"ready": ok, "detail": detail}, 200 if ok else 503)

    @app.get("/version")
    def version() -> dict:
        return {"slot": cfg.slot, "version": cfg.version, "variant": cfg.variant,
                "collection": cfg.collection, "app": __version__}

    @app.get("/admin/keys", dependencies=[Depends(auth.require("admin"))])
    def admin_keys() -> Any:
        """Key metadata (ids, owners, scopes, status; never digests): an admin-scoped call."""
        count("/admin/keys", 200)
        return {"keys": auth.key_metadata()}

    @app.get("/metrics", response_class=PlainTextResponse,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text exposition format"}})
    def prom_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(ServedByMiddleware, served_by=cfg.served_by, replica=cfg.replica)
    return app
