"""The query side of a saved dataset, as load users need it: read once, pick at random.

Load users never generate vectors or talk to Milvus to get queries (no per-user setup):
the process loads `queries.npy` and `meta.json` once and every user samples from it.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from milvus_lab.errors import PrerequisiteError

DATASET_DIR_ENV = "MILVUS_LAB_DATASET_DIR"
DEFAULT_DATASET = "products-v1"


def default_dataset_dir(start: Path | None = None) -> Path:
    """Env MILVUS_LAB_DATASET_DIR, else where `milvus-lab up` saves products-v1
    (`<state dir>/datasets/products-v1`, the state dir as Settings defines it)."""
    env = os.environ.get(DATASET_DIR_ENV)
    if env:
        return Path(env)
    from milvus_lab.settings import Settings, find_repo_root

    return Settings(repo_root=find_repo_root(start)).state_dir / "datasets" / DEFAULT_DATASET


@dataclass(frozen=True)
class QuerySet:
    """Query vectors (as plain lists, ready for JSON) plus what a filter may name."""

    name: str
    version: str
    dim: int
    k: int
    vectors: tuple[tuple[float, ...], ...]
    vectors_json: tuple[str, ...]  # pre-encoded: JSON encoding per request costs load-gen CPU
    categories: tuple[str, ...]
    ground_truth: np.ndarray | None = None  # int64 (n_queries, k) when saved

    def __len__(self) -> int:
        return len(self.vectors)

    def pick(self, rng: random.Random) -> int:
        """The index of a random query (into `vectors`, `vectors_json`, `ground_truth`)."""
        return rng.randrange(len(self.vectors))


def load_queries(directory: str | Path) -> QuerySet:
    """Read meta.json + queries.npy (+ ground_truth.npy if present) from a dataset dir."""
    d = Path(directory)
    fix = ("create it with `milvus-lab up` (it saves the dataset under .milvus-lab/datasets/), "
           f"or point {DATASET_DIR_ENV} at a dataset directory")
    meta_path, queries_path = d / "meta.json", d / "queries.npy"
    if not meta_path.is_file() or not queries_path.is_file():
        raise PrerequisiteError(
            f"no dataset at {d} (need meta.json and queries.npy)", fix=fix)
    try:
        meta = json.loads(meta_path.read_text())
        queries = np.load(queries_path)
    except (OSError, ValueError) as e:
        raise PrerequisiteError(f"dataset at {d} is unreadable: {e}", fix=fix) from None
    if queries.ndim != 2 or len(queries) == 0:
        raise PrerequisiteError(
            f"{queries_path} has shape {queries.shape}, expected (n_queries, dim) with n_queries > 0",
            fix=fix)
    dim = int(meta.get("dim", queries.shape[1]))
    if queries.shape[1] != dim:
        raise PrerequisiteError(
            f"{queries_path} has dim {queries.shape[1]} but meta.json says {dim}", fix=fix)
    truth_path = d / "ground_truth.npy"
    truth = np.load(truth_path) if truth_path.is_file() else None
    vectors = tuple(tuple(float(x) for x in row) for row in queries.astype(np.float32))
    return QuerySet(
        name=str(meta.get("name", d.name)),
        version=str(meta.get("version", "")),
        dim=dim,
        k=int(meta.get("k", 10)),
        vectors=vectors,
        vectors_json=tuple(json.dumps([round(x, 7) for x in row]) for row in vectors),
        categories=tuple(str(c) for c in meta.get("categories") or ()),
        ground_truth=truth,
    )
