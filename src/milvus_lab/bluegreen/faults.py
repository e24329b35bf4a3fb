"""Faults lab 03 injects on purpose, each of a kind a real release can have."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from milvus_lab.milvus.datasets import Dataset

FAULTS = ("recall", "errors")
ERROR_RATE = 0.05  # `errors`: the new API fails 5% of searches, invisible to a preview smoke test


def misaligned(ds: Dataset) -> Dataset:
    """The classic embedding-pipeline bug: vectors written one row off from their ids.

    Row counts, schema, filters and latency all look fine; only recall against ground
    truth shows that every answer is the wrong product. The gate must catch it.
    """
    return replace(ds, vectors=np.roll(ds.vectors, shift=1, axis=0))
