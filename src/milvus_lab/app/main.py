"""The search API every lab deploys: `uvicorn milvus_lab.app.main:create_app --factory`.

Each replica knows its slot and version and says so on every response
(`X-Served-By: <slot>/<version>`), so a load test can draw who answered when. It reports
the release stored in the rows that answered (`X-Data-Version`), which is how a Milvus
alias cutover becomes visible from outside. Milvus down is a fast 503, never a hang.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from typing import Annotated, Any

from fastapi import FastAPI, Header, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, field_validator

from milvus_lab import __version__
from milvus_lab.app.config import ApiConfig
from milvus_lab.app.experiment import ApiExperiment
from milvus_lab.app.metrics import ApiMetrics

OUTPUT_FIELDS = ["category", "price", "title", "release"]


class SearchRequest(BaseModel):
    vector: list[float] = Field(..., min_length=1)
    k: int = Field(10, ge=1, le=100)
    filter: str | None = Field(None, max_length=512)

    @field_validator("filter")
    @classmethod
    def _no_blank_filter(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class MilvusGateway:
    """A lazily (re)connected MilvusClient: the app starts even when Milvus is down."""

    def __init__(self, cfg: ApiConfig) -> None:
        self.cfg = cfg
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from pymilvus import MilvusClient

                    self._client = MilvusClient(
                        uri=self.cfg.milvus_uri, token=self.cfg.milvus_token or "",
                        timeout=self.cfg.timeout_s,
                    )
        return self._client

    def reset(self) -> None:
        with self._lock:
            old, self._client = self._client, None
        if old is not None:
            with contextlib.suppress(Exception):
                old.close()

    def search(self, req: SearchRequest, params: dict | None = None) -> list[dict]:
        try:
            result = self.client().search(
                self.cfg.collection, data=[req.vector], limit=req.k, filter=req.filter or "",
                output_fields=OUTPUT_FIELDS,
                search_params={"params": self.cfg.search_params if params is None else params},
                timeout=self.cfg.timeout_s,
            )
        except Exception:
            self.reset()  # the next request reconnects instead of reusing a broken channel
            raise
        return [
            {"id": hit["id"], "distance": hit["distance"], "fields": hit.get("entity", {})}
            for hit in result[0]
        ]

    def ready(self) -> tuple[bool, str]:
        try:
            state = self.client().get_load_state(self.cfg.collection, timeout=self.cfg.timeout_s)
        except Exception as exc:
            self.reset()
            return False, f"Milvus not reachable or collection missing: {type(exc).__name__}: {exc}"
        ok = "Loaded" in str(state.get("state"))
        return ok, "loaded" if ok else f"collection {self.cfg.collection} not loaded: {state}"


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


def create_app(cfg: ApiConfig | None = None) -> FastAPI:
    """Build one replica's app from its config (env by default, for uvicorn --factory)."""
    cfg = cfg or ApiConfig.from_env()
    metrics = ApiMetrics()
    gateway = MilvusGateway(cfg)
    labels = {"slot": cfg.slot, "version": cfg.version, "variant": cfg.variant}
    metrics.info.labels(**labels, collection=cfg.collection).set(1)
    rng = random.Random()
    inflight = InFlight()
    experiment = ApiExperiment.from_config(cfg.experiment)  # lab 04's A/B test, when configured

    app = FastAPI(title="milvus-lab search API", version=__version__)
    app.state.config = cfg
    app.state.gateway = gateway

    def count(endpoint: str, status: int, variant: str = cfg.variant) -> None:
        metrics.requests.labels(**{**labels, "variant": variant}, endpoint=endpoint,
                                status=str(status)).inc()

    @app.post("/search")
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
            try:
                hits = gateway.search(req, served.assignment.search_params if served else None)
            except Exception as exc:
                count("/search", 503, variant)
                return JSONResponse({"error": f"Milvus unavailable: {type(exc).__name__}"}, 503,
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

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Any:
        ok, detail = gateway.ready()
        count("/readyz", 200 if ok else 503)
        return JSONResponse({"ready": ok, "detail": detail}, 200 if ok else 503)

    @app.get("/version")
    def version() -> dict:
        return {"slot": cfg.slot, "version": cfg.version, "variant": cfg.variant,
                "collection": cfg.collection, "app": __version__}

    @app.get("/metrics")
    def prom_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(ServedByMiddleware, served_by=cfg.served_by, replica=cfg.replica)
    return app
