"""Direct gRPC load on Milvus (no search API in between), with `locust.contrib.milvus`.

    locust -f loadtests/milvus_grpc.py --host http://127.0.0.1:19530 --headless -u 5 -t 30s

The host is the Milvus URI; the collection (or alias) comes from MILVUS_LAB_COLLECTION
(default `products`), queries from the saved dataset (MILVUS_LAB_DATASET_DIR).

Why a wrapper: `locust.contrib.milvus.MilvusUser` marks an empty search result
`success: False` but fires the Locust event without an exception, so Locust counts it as
a success. Here an empty result is a failure (DESIGN.md section 6), and so is a hit from
a data release not in MILVUS_LAB_EXPECT_VERSIONS (read from the rows' `release` field, so
an alias cutover shows up in the timeline as `<collection>/<release>`).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from locust import constant, constant_throughput, events, task
from locust.contrib.milvus import MilvusUser  # gevent-patches grpc: import before any channel

from milvus_lab.load.config import LoadConfig, exit_on_error
from milvus_lab.load.listener import install
from milvus_lab.load.queries import load_queries

RELEASE_FIELD = "release"  # the scalar field holding the data release (milvus_lab.milvus)

install()  # the timeline, when MILVUS_LAB_TIMELINE is set

with exit_on_error():
    CONFIG = LoadConfig.from_env(Path(__file__).resolve().parent)
    QUERIES = load_queries(CONFIG.dataset_dir)

FILTERS = tuple(f'category == "{c}"' for c in QUERIES.categories)
# {"ef": 64} means index params; pymilvus wants them under "params"
_P = CONFIG.search_params
SEARCH_PARAMS = _P if _P is None or "params" in _P or "metric_type" in _P else {"params": _P}


class SearchFailed(Exception):
    """A search that returned, but not what a user needs (empty, or the wrong release)."""


def releases(result: Any) -> list[str]:
    """The `release` values of the returned hits (pymilvus nests fields under `entity`)."""
    found: list[str] = []
    for hits in result or []:
        for hit in hits or []:
            entity = hit.get("entity") or hit
            value = entity.get(RELEASE_FIELD)
            if value:
                found.append(str(value))
    return found


class MilvusSearchUser(MilvusUser):
    """Searches the collection over gRPC; empty results and wrong releases are failures."""

    wait_time = constant_throughput(CONFIG.user_rps) if CONFIG.user_rps > 0 else constant(0)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment, uri=self.host, collection_name=CONFIG.collection,
                         token=os.environ.get("MILVUS_LAB_MILVUS_TOKEN", ""), timeout=10)
        self.rng = random.Random()

    def _fire_event(self, request_type: str, name: str, result: dict[str, Any]) -> None:
        """Like MilvusUser._fire_event, but `success: False` always carries an exception."""
        exception = result.get("exception")
        context: dict[str, str] = {}
        if exception is None and result.get("empty"):
            exception = SearchFailed("empty result")
        elif exception is None and name == "search":
            found = sorted(set(releases(result.get("result"))))
            release = found[0] if len(found) == 1 else ("mixed" if found else "unknown")
            context = {"served_by": f"{CONFIG.collection}/{release}", "data_version": release}
            if CONFIG.expect_versions and not set(found) <= CONFIG.expect_versions:
                exception = SearchFailed(
                    f"unexpected release {','.join(found) or 'none'} "
                    f"(expected {','.join(sorted(CONFIG.expect_versions))})")
        elif exception is None and not result.get("success", True):
            exception = SearchFailed(f"{name} failed")
        events.request.fire(
            request_type=request_type, name=name,
            response_time=float(result.get("response_time", 0.0)),
            response_length=0, exception=exception, context=context,
        )

    @task
    def search_task(self) -> None:
        i = QUERIES.pick(self.rng)
        filtered = bool(FILTERS) and self.rng.random() < CONFIG.filter_ratio
        self.search(
            data=[list(QUERIES.vectors[i])],
            anns_field="vector",
            limit=CONFIG.k,
            filter=self.rng.choice(FILTERS) if filtered else "",
            search_params=SEARCH_PARAMS,
            output_fields=[RELEASE_FIELD],
        )
