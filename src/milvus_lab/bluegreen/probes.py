"""Measurements of a candidate collection, taken before any user is switched to it."""

from __future__ import annotations

import time

import numpy as np
from pymilvus import MilvusClient

from milvus_lab.bluegreen.gates import CandidateReport
from milvus_lab.milvus import collections
from milvus_lab.milvus.collections import IndexSpec
from milvus_lab.milvus.datasets import CATEGORIES, Dataset
from milvus_lab.milvus.quality import measure_recall


def measure_p95_ms(client: MilvusClient, collection: str, ds: Dataset, index: IndexSpec, n: int = 40,
                   reference: tuple[str, IndexSpec] | None = None) -> tuple[float, float | None]:
    """p95 of single searches, one at a time (a probe, not a load test), of `collection` and,
    interleaved query by query, of `reference` (the live collection and its index): same
    machine, same moment."""
    params = {collection: index.search, **({reference[0]: reference[1].search} if reference else {})}
    times: dict[str, list[float]] = {name: [] for name in params}
    for q in ds.queries[n:n + 5]:  # warm-up, not measured: a just-loaded candidate starts cold
        for name in times:
            client.search(name, data=[q.tolist()], limit=10, search_params={"params": params[name]})
    for q in ds.queries[:n]:
        for name, took in times.items():
            t0 = time.perf_counter()
            client.search(name, data=[q.tolist()], limit=10, search_params={"params": params[name]})
            took.append((time.perf_counter() - t0) * 1000)
    ref = float(np.percentile(times[reference[0]], 95)) if reference else None
    return float(np.percentile(times[collection], 95)), ref


def filtered_smoke(client: MilvusClient, collection: str, ds: Dataset, index: IndexSpec) -> dict[str, bool]:
    """Filtered queries return hits that really match their filter."""
    results: dict[str, bool] = {}
    q = [ds.queries[0].tolist()]
    for cat in CATEGORIES[:3]:
        expr = f'category == "{cat}"'
        hits = client.search(collection, data=q, limit=10, filter=expr, output_fields=["category"],
                             search_params={"params": index.search})[0]
        results[expr] = bool(hits) and all(h["entity"]["category"] == cat for h in hits)
    expr = "price < 20"
    hits = client.search(collection, data=q, limit=10, filter=expr, output_fields=["price"],
                         search_params={"params": index.search})[0]
    results[expr] = bool(hits) and all(h["entity"]["price"] < 20 for h in hits)
    return results


def measure_candidate(client: MilvusClient, collection: str, ds: Dataset, index: IndexSpec,
                      reference: tuple[str, IndexSpec] | None = None) -> CandidateReport:
    """Everything the pre-promotion gate looks at, measured on the real collection (and the
    p95 of `reference`, the live collection, probed interleaved with it)."""
    p95, ref_p95 = measure_p95_ms(client, collection, ds, index, reference=reference)
    return CandidateReport(
        collection=collection,
        expected_rows=ds.spec.n,
        rows=collections.row_count(client, collection),
        recall_at_10=measure_recall(client, collection, ds, index),
        p95_ms=p95,
        filtered_smoke=filtered_smoke(client, collection, ds, index),
        loaded=collections.is_loaded(client, collection),
        reference_p95_ms=ref_p95,
    )
