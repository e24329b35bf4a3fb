"""Lab 04's load: end users with stable ids searching the search API while an A/B test runs.

    locust -f loadtests/ab_testing.py --host http://127.0.0.1:8080 --headless -u 20 -t 60s

Each Locust user plays a series of end users: it sends `X-User-Id: <id>` for
MILVUS_LAB_AB_SESSION searches (default 2), then becomes a new user. The search API
assigns each id to a variant (sticky: same id, same variant) and says which in `X-Variant`.
Set MILVUS_LAB_AB_RECORDS=<file.jsonl> to log every request (user, variant, status,
latency, query index, returned ids) for the lab's analysis. The other knobs of
`search_api.py` apply (MILVUS_LAB_DATASET_DIR, MILVUS_LAB_K, MILVUS_LAB_USER_RPS).
"""

from __future__ import annotations

import itertools
import os
import random
import time
from pathlib import Path

from locust import FastHttpUser, constant, constant_throughput, events, task

from milvus_lab.abtest.records import RECORDS_ENV, Record
from milvus_lab.load.config import LoadConfig, _number, exit_on_error
from milvus_lab.load.listener import header, install
from milvus_lab.load.queries import load_queries
from milvus_lab.load.validate import search_failure

install()  # the timeline, when MILVUS_LAB_TIMELINE is set

with exit_on_error():
    CONFIG = LoadConfig.from_env(Path(__file__).resolve().parent)
    QUERIES = load_queries(CONFIG.dataset_dir)
    SESSION = _number("MILVUS_LAB_AB_SESSION", 2, int, 1, 10_000)

_OUT = open(os.environ[RECORDS_ENV], "a", encoding="utf-8") if os.environ.get(RECORDS_ENV) else None  # noqa: SIM115
_ids = itertools.count()


@events.quitting.add_listener
def _close(**_: object) -> None:
    if _OUT is not None:
        _OUT.flush()


class AbUser(FastHttpUser):
    """One simulated end user after another, each with a stable id for a few searches."""

    wait_time = constant_throughput(CONFIG.user_rps) if CONFIG.user_rps > 0 else constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.left = 0
        self.user_id = ""

    def _next_user(self) -> str:
        if self.left == 0:
            self.user_id = f"u{os.getpid()}-{next(_ids)}"
            self.left = SESSION
        self.left -= 1
        return self.user_id

    @task
    def search(self) -> None:
        user = self._next_user()
        q = QUERIES.pick(self.rng)
        body = f'{{"vector":{QUERIES.vectors_json[q]},"k":{CONFIG.k}}}'
        t0 = time.perf_counter()
        with self.client.post("/search", data=body, catch_response=True, name="/search",
                              headers={"Content-Type": "application/json", "X-User-Id": user}) as resp:
            latency_ms = (time.perf_counter() - t0) * 1000
            ids: list[int] = []
            why = (f"connection error: {resp.error}" if not resp.status_code else
                   search_failure(resp.status_code, resp.content, header(resp, "X-Served-By")))
            if why is None:
                ids = [int(hit["id"]) for hit in resp.json()["hits"]]
                resp.success()
            else:
                resp.failure(why)
            if _OUT is not None:
                _OUT.write(Record(time.time(), user, header(resp, "X-Variant") or "",
                                  int(resp.status_code or 0), latency_ms, q, tuple(ids),
                                  why).to_line() + "\n")
                _OUT.flush()
