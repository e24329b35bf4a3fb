"""Start one of the labs' Locust scenarios against the search API.

Every lab drives the API the same way: a locustfile from `loadtests/`, the release's query set
from the dataset cache, the API versions the answers may carry and a per-user request rate.
"""

from __future__ import annotations

from collections.abc import Sequence

from milvus_lab.load.paths import locustfile
from milvus_lab.load.runner import LocustRun, start_locust
from milvus_lab.milvus.datasets import DatasetSpec, dataset_dir
from milvus_lab.settings import Settings


def start_search_load(settings: Settings, lab: str, scenario: str, host: str, *, users: int,
                      user_rps: float, dataset: DatasetSpec, versions: Sequence[str]) -> LocustRun:
    """Locust (headless, until stopped) on `loadtests/<scenario>.py`; files in .milvus-lab/load/<lab>/."""
    return start_locust(
        locustfile(scenario), host, users=users, spawn_rate=users, run_time_s=None,
        out_dir=settings.path("load", lab),
        env={"MILVUS_LAB_DATASET_DIR": str(dataset_dir(settings, dataset.name)),
             "MILVUS_LAB_EXPECT_VERSIONS": ",".join(versions), "MILVUS_LAB_USER_RPS": str(user_rps)},
    )
