"""Search quality against exact ground truth: recall@k, as labs 03 and 04 measure it.

The ground truth is exact top-k by brute force (numpy) from `milvus.datasets`; an ANN
index is judged by how much of it a search returns.
"""

from __future__ import annotations

import numpy as np
from pymilvus import MilvusClient

from milvus_lab.milvus.collections import IndexSpec
from milvus_lab.milvus.datasets import Dataset


def recall_at_k(found: list[list[int]] | np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean fraction of the exact top-k that a search returned in its top-k."""
    if len(found) != len(truth):
        raise ValueError(f"{len(found)} results for {len(truth)} queries")
    if len(truth) == 0:
        return 0.0
    hits = sum(len(set(list(f)[:k]) & set(t[:k].tolist())) for f, t in zip(found, truth, strict=True))
    return hits / (k * len(truth))


def search_ids(client: MilvusClient, collection: str, queries: np.ndarray, index: IndexSpec,
               k: int = 10, batch: int = 50) -> list[list[int]]:
    """The ids each query's search returns, in batches."""
    found: list[list[int]] = []
    for start in range(0, len(queries), batch):
        res = client.search(collection, data=queries[start:start + batch].tolist(), limit=k,
                            search_params={"params": index.search})
        found += [[hit["id"] for hit in hits] for hits in res]
    return found


def measure_recall(client: MilvusClient, collection: str, ds: Dataset, index: IndexSpec, k: int = 10) -> float:
    """recall@k of the collection's index against the dataset's exact ground truth."""
    return recall_at_k(search_ids(client, collection, ds.queries, index, k), ds.ground_truth, k)
