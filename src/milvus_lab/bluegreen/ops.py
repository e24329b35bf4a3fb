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

from milvus_lab.app import client as api
from milvus_lab.bluegreen import faults
from milvus_lab.load import locustfile, start_locust
from milvus_lab.load.runner import LocustRun
from milvus_lab.milvus import collections, datasets
from milvus_lab.milvus.client import connect
from milvus_lab.milvus.collections import CollectionStatus
from milvus_lab.progress import OnProgress, ignore
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


def build_candidate(settings: Settings, target: Target, name: str, faulty: bool, rebuild: bool,
                    on_progress: OnProgress = ignore) -> CollectionStatus:
    """The v2 collection (misaligned on purpose with `faulty`), reused when complete.

    Nobody reads the candidate until the alias moves, so a half-built one from an
    interrupted run is rebuilt, unless the alias already serves it.
    """
    ds = datasets.ensure_dataset(settings, V2.dataset)
    with milvus(target) as client:
        serving = collections.alias_target(client, ALIAS) == name
        return collections.ensure_collection(client, name, faults.misaligned(ds) if faulty else ds, V2.index,
                                             rebuild=rebuild or faulty or not serving, on_progress=on_progress)


def reject_candidate(target: Target, name: str) -> str | None:
    """Drop a candidate the gate stopped; return what the alias serves (still v1: users never saw it).

    `collections.drop_collection` refuses a collection behind an alias, so this can never
    take away what users are reading.
    """
    with milvus(target) as client:
        collections.drop_collection(client, name)
        return collections.alias_target(client, ALIAS)



@dataclass(frozen=True)
class Restored:
    """Where traffic and the alias are after a rollback, and how long the two moves took."""

    took_s: float
    alias: str | None
    live: list[str]

    @property
    def complete(self) -> bool:
        return self.alias == V1.collection and self.live == [V1.slot]

    def report(self, reason: str, completed_at: float, switched_at: float | None) -> dict[str, object]:
        """The report's `rollback` entry; `since_switch_s` is what the 10 s verdict reads."""
        since = round(completed_at - switched_at, 2) if switched_at is not None else None
        return {"reason": reason, "took_s": round(self.took_s, 4), "completed_at": completed_at,
                "since_switch_s": since}


def restore_blue(target: Target) -> Restored:
    """Router back to blue, then the alias back to v1: both still warm, both atomic."""
    t0 = time.perf_counter()
    target.route({V1.slot: 100})
    with milvus(target) as client:
        collections.point_alias(client, ALIAS, V1.collection)
        alias = collections.alias_target(client, ALIAS)
    return Restored(time.perf_counter() - t0, alias, target.live_slots())


@dataclass(frozen=True)
class Preview:
    """Green's replicas, ready, and a smoke test through the preview route (not live traffic)."""

    urls: list[str]
    smoke: api.Sample

    @property
    def ok(self) -> bool:
        return self.smoke.failed == 0 and set(self.smoke.served_by) == {f"{V2.slot}/{V2.version}"}


def deploy_green(settings: Settings, target: Target, fault_rate: float) -> Preview:
    """Start v2's replicas next to blue (ready by /readyz), point the preview route at them, smoke-test."""
    urls = target.deploy(V2.api_config(target.api_milvus_uri(), fault_rate), V2.replicas)
    target.set_preview(V2.slot)
    return Preview(urls, api.sample(target.preview_url(), datasets.ensure_dataset(settings, V2.dataset), n=20))


def switch_live(target: Target, load: LocustRun) -> tuple[float, float]:
    """Route all live traffic to green in one change; return (when, marked on the load; seconds it took)."""
    t0 = time.perf_counter()
    target.route({V2.slot: 100})
    switched_at = load.mark(f"router → {V2.slot}").t
    return switched_at, time.perf_counter() - t0
