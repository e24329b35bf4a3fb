"""Plumbing of lab 03's release steps (what the lesson uses but does not teach).

A Milvus client per step, the Locust load with the release's dataset and versions, the
candidate collection, and the rollback's two moves; the lab script keeps the story.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pymilvus import MilvusClient

from milvus_lab.bluegreen import faults
from milvus_lab.load import locustfile, start_locust
from milvus_lab.load.runner import LocustRun
from milvus_lab.milvus import collections, datasets
from milvus_lab.milvus.client import connect
from milvus_lab.milvus.collections import CollectionStatus
from milvus_lab.releases import ALIAS, V1, V2
from milvus_lab.settings import Settings
from milvus_lab.targets import Target


@contextmanager
def milvus(target: Target) -> Iterator[MilvusClient]:
    """A client of the target's Milvus for one step, closed after it."""
    client = connect(target.ensure_milvus())
    try:
        yield client
    finally:
        client.close()


def start_load(settings: Settings, url: str, users: int, user_rps: float) -> LocustRun:
    """Locust users searching the live route; v1 and v2 answers are both expected."""
    return start_locust(
        locustfile("blue_green"), url, users=users, spawn_rate=users, run_time_s=None,
        out_dir=settings.path("load", "03"),
        env={"MILVUS_LAB_DATASET_DIR": str(datasets.dataset_dir(settings, V1.dataset.name)),
             "MILVUS_LAB_EXPECT_VERSIONS": "v1,v2", "MILVUS_LAB_USER_RPS": str(user_rps)},
    )


def build_candidate(settings: Settings, target: Target, name: str, faulty: bool, rebuild: bool) -> CollectionStatus:
    """The v2 collection (misaligned on purpose with `faulty`), reused when complete.

    Nobody reads the candidate until the alias moves, so a half-built one from an
    interrupted run is rebuilt, unless the alias already serves it.
    """
    ds = datasets.ensure_dataset(settings, V2.dataset)
    with milvus(target) as client:
        serving = collections.alias_target(client, ALIAS) == name
        return collections.ensure_collection(client, name, faults.misaligned(ds) if faulty else ds, V2.index,
                                             rebuild=rebuild or faulty or not serving)


@dataclass(frozen=True)
class Restored:
    """Where traffic and the alias are after a rollback, and how long the two moves took."""

    took_s: float
    alias: str | None
    live: list[str]

    @property
    def complete(self) -> bool:
        return self.alias == V1.collection and self.live == [V1.slot]


def restore_blue(target: Target) -> Restored:
    """Router back to blue, then the alias back to v1: both still warm, both atomic."""
    t0 = time.perf_counter()
    target.route({V1.slot: 100})
    with milvus(target) as client:
        collections.point_alias(client, ALIAS, V1.collection)
        alias = collections.alias_target(client, ALIAS)
    return Restored(time.perf_counter() - t0, alias, target.live_slots())


def wait_for_answers(load: LocustRun, since: float, n: int = 20, timeout_s: float = 30.0) -> int:
    """Wait until the load test recorded `n` answers after `since` (evidence, not a fixed
    sleep: a busy laptop answers fewer per second); returns how many it saw."""
    deadline = time.monotonic() + timeout_s
    while True:
        seen = load.result().window(since, time.time() + 1, "since").requests
        if seen >= n or time.monotonic() > deadline or not load.running:
            return seen
        time.sleep(0.25)
