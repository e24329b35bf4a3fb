"""Helpers for the load tests: a tiny dataset on disk and a stand-in search API process.

The stand-in (`stub_app`) speaks the search API contract (POST /search with hits, slot,
version, X-Served-By, X-Data-Version) and can be told to misbehave (empty hits, 503, a
different version) through POST /_control. It exists ONLY to test the Locust runner, the
timeline and the failure rules with exact, controllable answers; the labs and the checks
run the real `milvus_lab.app` search API against real Milvus.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from milvus_lab.errors import VerificationFailed
from milvus_lab.polling import poll_until
from milvus_lab.processes import free_port

CATEGORIES = ["books", "garden", "toys"]


def write_tiny_dataset(directory: Path, n_queries: int = 20, dim: int = 8, k: int = 5,
                       categories: list[str] | None = None) -> Path:
    """meta.json, queries.npy, ground_truth.npy and vectors.npy in the datasets layout."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    n = 200
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    queries = rng.normal(size=(n_queries, dim)).astype(np.float32)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :k].astype(np.int64)
    np.save(directory / "vectors.npy", vectors)
    np.save(directory / "queries.npy", queries)
    np.save(directory / "ground_truth.npy", truth)
    meta = {"name": directory.name, "version": "v1", "n": n, "dim": dim, "n_queries": n_queries,
            "k": k, "metric": "IP", "seed": 7,
            "categories": CATEGORIES if categories is None else categories}
    (directory / "meta.json").write_text(json.dumps(meta))
    return directory


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 30) -> None:
    def listening() -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0

    poll_until(listening, timeout=timeout_s, interval=0.1, what=f"port {port} to open",
               failed=lambda: None if proc.poll() is None else "the process exited",
               fix=f"read {log}: {log.read_text(errors='replace')[-2000:]}")


@dataclass
class StubApi:
    """A running stand-in search API."""

    url: str
    port: int
    process: subprocess.Popen[bytes]

    def control(self, **state: Any) -> dict[str, Any]:
        """Change what it answers: slot, version, data_version, mode ('ok'|'empty'|'503')."""
        import httpx

        r = httpx.post(f"{self.url}/_control", json=state, timeout=5)
        r.raise_for_status()
        return dict(r.json())

    def seen_users(self) -> list[str]:
        """The X-User-Id values it has received."""
        import httpx

        return list(httpx.get(f"{self.url}/_seen_users", timeout=5).raise_for_status().json())


@contextmanager
def stub_api(log_dir: Path, slot: str = "blue", version: str = "v1",
             mode: str = "ok") -> Iterator[StubApi]:
    """Run `stub_app` under a real uvicorn process on 127.0.0.1 (a free port)."""
    port = free_port()
    log = log_dir / f"stub-api-{port}.log"
    env = {**os.environ, "STUB_SLOT": slot, "STUB_VERSION": version, "STUB_MODE": mode}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "milvus_lab.testing.load_fixtures:stub_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
             "--no-access-log"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_port(port, proc, log)
        yield StubApi(f"http://127.0.0.1:{port}", port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _make_stub_app() -> FastAPI:
    state = {"slot": os.environ.get("STUB_SLOT", "blue"),
             "version": os.environ.get("STUB_VERSION", "v1"),
             "data_version": os.environ.get("STUB_DATA_VERSION", "v1"),
             "mode": os.environ.get("STUB_MODE", "ok")}
    seen_users: set[str] = set()
    app = FastAPI()

    @app.get("/_seen_users")
    async def seen() -> JSONResponse:
        return JSONResponse(sorted(seen_users))

    def headers() -> dict[str, str]:
        return {"X-Served-By": f"{state['slot']}/{state['version']}",
                "X-Data-Version": state["data_version"]}

    @app.post("/_control")
    async def control(request: Request) -> JSONResponse:
        state.update({k: str(v) for k, v in (await request.json()).items() if k in state})
        return JSONResponse(state)

    @app.post("/search")
    async def search(request: Request) -> JSONResponse:
        body = await request.json()
        if request.headers.get("x-user-id"):
            seen_users.add(request.headers["x-user-id"])
        vector, k = body.get("vector"), int(body.get("k", 10))
        if not isinstance(vector, list) or not vector:
            return JSONResponse({"error": "vector required"}, 422, headers=headers())
        if state["mode"] == "503":
            return JSONResponse({"error": "Milvus is down"}, 503, headers=headers())
        hits = [] if state["mode"] == "empty" else [
            {"id": random.randrange(1000), "distance": 1.0 - i / 100, "fields": {"category": "books"}}
            for i in range(k)]
        return JSONResponse(
            {"hits": hits, "slot": state["slot"], "version": state["version"],
             "data_version": state["data_version"], "collection": "products", "took_ms": 0.1},
            headers=headers())

    return app


stub_app = _make_stub_app()


def wait_for_served_seconds(timeline: Path, since: float, served_by: str, seconds: int = 3,
                            timeout_s: float = 120.0) -> None:
    """Poll the load's timeline until `seconds` whole seconds after `since` held requests, all
    answered by `served_by`. Tests wait for evidence, not for a sleep: a busy machine sends
    fewer requests per second, and a fixed sleep then judged too little traffic."""
    from milvus_lab.load.timeline import read_timeline

    def enough() -> bool:
        rows = read_timeline(timeline).seconds if timeline.is_file() else []
        good = [r for r in rows if r.t >= since + 1 and r.requests and set(r.served_by) == {served_by}]
        return len(good) >= seconds

    poll_until(enough, timeout=timeout_s, interval=0.25, error=VerificationFailed,
               what=f"{seconds} seconds served only by {served_by} in {timeline}",
               fix="read the timeline: the switch did not take, or the machine sent no traffic")
