"""Lab 04's starting point: the products collection and the search API with the experiment.

One slot ("ab") of search API replicas serves all traffic; inside each replica the
experiment assigns every user to A or B. Nothing about the traffic split lives in the
router or a Kubernetes Service, so `local`, `compose` and `kube` run it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from milvus_lab.abtest.assignment import Experiment
from milvus_lab.app.config import ApiConfig
from milvus_lab.milvus import collections, datasets
from milvus_lab.milvus.client import connect
from milvus_lab.milvus.collections import CollectionStatus, IndexSpec
from milvus_lab.milvus.datasets import Dataset, DatasetSpec
from milvus_lab.targets.base import Target

SLOT = "ab"
VERSION = "v1"
REPLICAS = 2
COLLECTION = "products_ab"
# the same catalogue as lab 03's v1 (the saved dataset is shared), on IVF_SQ8: nprobe (how
# many of the 128 lists a search scans) is the knob the experiment turns
DATASET = DatasetSpec(name="products-v1", version="v1", n=20_000, seed=42)
INDEX = IndexSpec.ivf("IVF_SQ8", nlist=128, nprobe=2)


@dataclass
class Stage:
    """What `ensure_stage` found or built."""

    milvus_uri: str
    dataset: Dataset
    collection: CollectionStatus
    backends: list[str]


def api_config(target: Target, experiment: Experiment) -> ApiConfig:
    default = experiment.feature.get("defaultValue", {}).get("search_params", {})
    return ApiConfig(slot=SLOT, version=VERSION, milvus_uri=target.api_milvus_uri(),
                     collection=COLLECTION, search_params=dict(default), dim=DATASET.dim,
                     experiment=experiment.to_json())


def ensure_stage(target: Target, experiment: Experiment) -> Stage:
    """Milvus up, the collection complete (reused when it is), the API with `experiment` live."""
    uri = target.ensure_milvus()
    client = connect(uri)
    try:
        ds = datasets.ensure_dataset(target.settings, DATASET)
        # only this lab reads COLLECTION: a half-built one (an interrupted run) is rebuilt
        status = collections.ensure_collection(client, COLLECTION, ds, INDEX, rebuild=True)
    finally:
        client.close()
    backends = target.deploy(api_config(target, experiment), REPLICAS)
    target.route({SLOT: 100})
    return Stage(uri, ds, status, backends)


def smoke(url: str, ds: Dataset, users: int = 10, searches: int = 3) -> dict[str, set[str]]:
    """A few searches per user through the live URL: the variants each user saw (X-Variant)."""
    seen: dict[str, set[str]] = {}
    with httpx.Client(timeout=30) as client:
        for i in range(users * searches):
            user = f"smoke-{i % users}"
            resp = client.post(f"{url}/search", json={"vector": ds.queries[i % len(ds.queries)].tolist(),
                                                      "k": 10}, headers={"X-User-Id": user})
            seen.setdefault(user, set()).add(resp.headers.get("x-variant", ""))
    return seen


def drop_collection(uri: str) -> bool:
    """Drop the lab's collection; True when there was one."""
    client = connect(uri)
    try:
        if not client.has_collection(COLLECTION):
            return False
        client.drop_collection(COLLECTION)
        return True
    finally:
        client.close()
