"""Deterministic product-search datasets with exact ground truth.

Vectors are clustered (products of one category sit near each other, as real embeddings
do), every row has scalar fields usable in filters (category, price, title), and the exact
top-k neighbours of every query are computed with numpy, so recall@k is a real quality
measurement. Saved under `.milvus-lab/datasets/<name>/` so load users read queries and
ground truth from disk without touching Milvus.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from milvus_lab.settings import Settings

GENERATOR_VERSION = 3  # bump when `generate` changes: saved datasets and collections rebuild
# Sixteen categories, so a one-category filter keeps about 6% of the rows. Real catalogues
# have many categories, and it keeps the real Milvus 2.3.5 (the standalone engine) correct:
# its HNSW search with a filter that excludes roughly 70-93% of rows returns no hits for
# some queries (at any ef), while above 93% it switches to an exact scan (docs/engines.md).
CATEGORIES = ("electronics", "books", "garden", "toys", "kitchen", "sports", "fashion", "beauty",
              "music", "office", "pets", "health", "automotive", "outdoor", "baby", "grocery")
_ADJECTIVES = ("compact", "classic", "smart", "eco", "premium", "portable", "vintage", "pro")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything that determines a dataset: same spec, same bytes."""

    name: str = "products-v1"
    version: str = "v1"
    n: int = 20_000
    dim: int = 128
    n_queries: int = 200
    k: int = 10
    seed: int = 42
    metric: str = "COSINE"
    n_clusters: int = 64
    spread: float = 0.35

    def fingerprint(self) -> str:
        """Names this exact content (spec + generator): stored on collections built from it."""
        raw = json.dumps({**asdict(self), "generator": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


@dataclass
class Dataset:
    """A materialised dataset: rows, queries and exact neighbours."""

    spec: DatasetSpec
    vectors: np.ndarray  # float32 (n, dim), unit length
    category: np.ndarray  # int16 index into CATEGORIES
    price: np.ndarray  # float32
    queries: np.ndarray  # float32 (n_queries, dim), unit length
    ground_truth: np.ndarray  # int64 (n_queries, k): row ids of the exact top-k

    @property
    def ids(self) -> np.ndarray:
        return np.arange(self.spec.n, dtype=np.int64)

    def title(self, i: int) -> str:
        return f"{_ADJECTIVES[i % len(_ADJECTIVES)]} {CATEGORIES[int(self.category[i])]} item {i}"

    def rows(self, start: int, stop: int) -> list[dict]:
        """Rows ready for `MilvusClient.insert`."""
        return [
            {
                "id": int(i),
                "vector": self.vectors[i].tolist(),
                "category": CATEGORIES[int(self.category[i])],
                "price": float(self.price[i]),
                "title": self.title(i),
                "release": self.spec.version,
            }
            for i in range(start, stop)
        ]


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def generate(spec: DatasetSpec) -> Dataset:
    """Build the dataset from its spec alone (seeded), including exact ground truth."""
    rng = np.random.default_rng(spec.seed)
    centers = rng.normal(size=(spec.n_clusters, spec.dim))
    cluster = rng.integers(0, spec.n_clusters, size=spec.n)
    vectors = _unit(centers[cluster] + spec.spread * rng.normal(size=(spec.n, spec.dim)))
    # categories independent of the clusters: a filtered search (IVF lists, or HNSW with a
    # pre-filter) then finds matching products near any query instead of coming back empty
    category = rng.integers(0, len(CATEGORIES), size=spec.n).astype(np.int16)
    price = np.round(rng.lognormal(mean=3.0, sigma=0.8, size=spec.n), 2).astype(np.float32)
    q_cluster = rng.integers(0, spec.n_clusters, size=spec.n_queries)
    queries = _unit(centers[q_cluster] + spec.spread * rng.normal(size=(spec.n_queries, spec.dim)))
    truth = exact_top_k(vectors, queries, spec.k, spec.metric)
    return Dataset(spec, vectors, category, price, queries, truth)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, metric: str = "COSINE") -> np.ndarray:
    """Exact nearest neighbours by brute force (the ground truth an index is measured against)."""
    if metric in ("COSINE", "IP"):
        scores = queries @ vectors.T
    elif metric == "L2":
        scores = -(
            (queries**2).sum(1, keepdims=True) - 2 * queries @ vectors.T + (vectors**2).sum(1)
        )
    else:
        raise ValueError(f"unsupported metric {metric}")
    top = np.argpartition(-scores, kth=min(k, scores.shape[1] - 1), axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1).astype(np.int64)




def dataset_dir(settings: Settings, name: str) -> Path:
    return settings.state_dir / "datasets" / name


def save(dataset: Dataset, directory: Path) -> Path:
    """Write the dataset files (atomically per file) that load users and labs read."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "vectors": dataset.vectors, "queries": dataset.queries,
        "ground_truth": dataset.ground_truth, "category": dataset.category, "price": dataset.price,
    }
    (directory / "meta.json").unlink(missing_ok=True)  # no manifest until every file is whole
    sums: dict[str, str] = {}
    for key, arr in arrays.items():
        tmp = directory / f".{key}.npy.tmp"
        with open(tmp, "wb") as fh:
            np.save(fh, arr)
        sums[key] = _sha256(tmp)
        tmp.replace(directory / f"{key}.npy")
    meta = {**asdict(dataset.spec), "categories": list(CATEGORIES),
            "fingerprint": dataset.spec.fingerprint(), "sha256": sums}
    tmp = directory / ".meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2))
    tmp.replace(directory / "meta.json")
    return directory


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class DamagedDataset(ValueError):
    """A saved dataset whose files do not match its manifest (truncated, edited, missing)."""


def load(directory: Path) -> Dataset:
    meta = json.loads((directory / "meta.json").read_text())
    meta.pop("categories", None)
    stored = meta.pop("fingerprint", None)
    sums = meta.pop("sha256", None)
    spec = DatasetSpec(**meta)
    if stored != spec.fingerprint():
        raise ValueError(f"{directory} was made by another generator version")
    if not isinstance(sums, dict):
        raise DamagedDataset(f"{directory} has no checksum manifest")
    for key, digest in sums.items():
        path = directory / f"{key}.npy"
        if not path.is_file() or _sha256(path) != digest:
            raise DamagedDataset(f"{path} is missing or damaged (checksum mismatch)")
    arr = {k: np.load(directory / f"{k}.npy") for k in
           ("vectors", "category", "price", "queries", "ground_truth")}
    return Dataset(spec, **arr)


def ensure_dataset(settings: Settings, spec: DatasetSpec) -> Dataset:
    """Load the saved dataset when its spec matches, else generate and save it."""
    directory = dataset_dir(settings, spec.name)
    meta_path = directory / "meta.json"
    if meta_path.is_file():
        try:
            ds = load(directory)
            if ds.spec == spec:
                return ds
        except (OSError, ValueError, TypeError, KeyError, EOFError):
            pass  # damaged (checksum), partial or older layout: rebuilt below
    ds = generate(spec)
    save(ds, directory)
    return ds
