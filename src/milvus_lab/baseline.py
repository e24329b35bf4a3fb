"""Bring up lab 03's starting point: v1 data behind the `products` alias, blue API live.

Shared by `milvus-lab up` and lab 03's first step, so both leave the same, complete state.
"""

from __future__ import annotations

from dataclasses import dataclass

from milvus_lab.milvus import collections, datasets
from milvus_lab.milvus.client import connect
from milvus_lab.milvus.collections import CollectionStatus
from milvus_lab.progress import OnProgress, ignore
from milvus_lab.releases import ALIAS, V1, Release
from milvus_lab.targets.base import Target


@dataclass
class Baseline:
    """What is live after `ensure_baseline`."""

    milvus_uri: str
    collection: CollectionStatus
    alias_before: str | None
    backends: list[str]
    dataset: datasets.Dataset


def ensure_baseline(target: Target, release: Release = V1, rebuild: bool = False,
                    on_progress: OnProgress = ignore) -> Baseline:
    """Milvus up, the release's collection complete, alias on it, its slot live (reused when complete)."""
    uri = target.ensure_milvus()
    client = connect(uri)
    try:
        ds = datasets.ensure_dataset(target.settings, release.dataset)
        # a collection no alias serves can be rebuilt safely; one users read needs --rebuild
        serving = collections.alias_target(client, ALIAS) == release.collection
        status = collections.ensure_collection(client, release.collection, ds, release.index,
                                               rebuild=rebuild or not serving, on_progress=on_progress)
        before = collections.point_alias(client, ALIAS, release.collection)
    finally:
        client.close()
    backends = target.deploy(release.api_config(target.api_milvus_uri()), release.replicas)
    target.route({release.slot: 100})
    return Baseline(uri, status, before, backends, ds)
