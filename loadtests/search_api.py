"""Load on the search API (`POST /search`), through the router or one replica.

    locust -f loadtests/search_api.py --host http://127.0.0.1:8080
    locust -f loadtests/search_api.py --host http://127.0.0.1:8080 --headless -u 5 -t 30s

A search counts as failed when the status is not 200, when it returns no hits, or when
it was answered by an app version not listed in MILVUS_LAB_EXPECT_VERSIONS (the version
part of the X-Served-By header). Set MILVUS_LAB_TIMELINE=<file.jsonl> to record the
per-second timeline (requests, failures, p50/p95/p99, who served) that the labs plot.
All knobs are env vars: see `milvus_lab.load.config.ENV_VARS`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from pathlib import Path

from locust import FastHttpUser, constant, constant_throughput, task

from milvus_lab.load.config import LoadConfig, exit_on_error
from milvus_lab.load.listener import SERVED_BY_HEADER, header, install
from milvus_lab.load.queries import load_queries
from milvus_lab.load.validate import search_failure

install()  # the timeline, when MILVUS_LAB_TIMELINE is set

# Loaded once per process, shared by every user: no per-user setup (DESIGN.md section 10).
with exit_on_error():
    CONFIG = LoadConfig.from_env(Path(__file__).resolve().parent)
    QUERIES = load_queries(CONFIG.dataset_dir)
    if CONFIG.filter_ratio > 0 and not QUERIES.categories:
        CONFIG = dataclasses.replace(CONFIG, filter_ratio=0.0)  # nothing to filter on

FILTERS = tuple(json.dumps(f'category == "{c}"') for c in QUERIES.categories)
_user_numbers = itertools.count()


class SearchUser(FastHttpUser):
    """One client of the search API: random dataset queries, some with a category filter."""

    wait_time = constant_throughput(CONFIG.user_rps) if CONFIG.user_rps > 0 else constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()
        number = next(_user_numbers)
        self.user_id = f"locust-user-{number}" if CONFIG.sticky_users else None

    def _user_header(self) -> dict[str, str]:
        if CONFIG.user_pool > 0:
            return {"X-User-Id": f"user-{self.rng.randrange(CONFIG.user_pool)}"}
        if self.user_id:
            return {"X-User-Id": self.user_id}
        return {}

    @task
    def search(self) -> None:
        i = QUERIES.pick(self.rng)
        filtered = CONFIG.filter_ratio > 0 and self.rng.random() < CONFIG.filter_ratio
        extra = f',"filter":{self.rng.choice(FILTERS)}' if filtered else ""
        body = f'{{"vector":{QUERIES.vectors_json[i]},"k":{CONFIG.k}{extra}}}'
        headers = {"Content-Type": "application/json", **self._user_header()}
        with self.client.post(
            "/search", data=body, headers=headers, catch_response=True,
            name="/search [filter]" if filtered else "/search",
        ) as resp:
            if not resp.status_code:
                resp.failure(f"connection error: {resp.error}")
                return
            why = search_failure(resp.status_code, resp.content,
                                 header(resp, SERVED_BY_HEADER), CONFIG.expect_versions)
            if why:
                resp.failure(why)
            else:
                resp.success()
