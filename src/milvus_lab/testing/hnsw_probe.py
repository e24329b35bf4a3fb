"""The Milvus 2.3.5 filtered-HNSW probe, shared by the standalone-binary and container tests.

2.3.5's HNSW search with a filter excluding ~70-93% of rows returns no hits for some
queries (with the old 8 categories: ~7% of filtered searches); the datasets' 16 categories
put a category filter past the 93% at which it scans exactly. Lab 03 needs 0 failed
requests, so every category filter must find hits. The probe first waits until searches
really use the HNSW index (recall below 1.0): a brute-force scan would hide the defect.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymilvus import MilvusClient

from milvus_lab.milvus import collections, datasets
from milvus_lab.milvus.quality import measure_recall
from milvus_lab.polling import poll_until
from milvus_lab.releases import V1, V2


@dataclass(frozen=True)
class FilteredSearchProbe:
    empty: dict[str, int]  # category -> searches that came back with no hits
    queries: int  # searches per category
    recall: float  # HNSW recall@k when the probe ran (< 1.0: the index served)

    def message(self) -> str:
        return (f"filtered searches with no hits (of {self.queries} per category, "
                f"HNSW recall {self.recall:.3f}): {self.empty}")


def probe_filtered_hnsw(client: MilvusClient, collection: str = V2.collection) -> FilteredSearchProbe:
    """Load lab 03's v2 (HNSW) into `collection`, wait for the index, search every category."""
    v1, v2 = datasets.generate(V1.dataset), datasets.generate(V2.dataset)
    collections.ensure_collection(client, collection, v2, V2.index, rebuild=True)
    recall = poll_until(lambda: (r := measure_recall(client, collection, v2, V2.index)) < 1.0 and r,
                        timeout=240, interval=2, what="searches served by the HNSW index",
                        fix="see the Milvus log")
    queries = v1.queries.tolist()  # what lab 03's load sends to v2 after the alias moves
    empty: dict[str, int] = {}
    for category in datasets.CATEGORIES:
        res = client.search(collection, data=queries, limit=10, filter=f'category == "{category}"',
                            search_params={"params": V2.index.search})
        empty[category] = sum(1 for hits in res if not hits)
    return FilteredSearchProbe(empty, len(queries), float(recall))
