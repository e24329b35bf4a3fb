"""Collections for a dataset version: create, insert with progress, index, load, verify.

Idempotent: a complete collection (expected row count, expected index, loaded) is reused;
a half-built one is reported and rebuilt only when asked (`rebuild=True`), so re-running a
lab never silently drops data and never serves a partial collection.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus.client import varchar_index_type
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.progress import OnProgress, ProgressUpdate, ignore

INDEX_TYPES = ("HNSW", "IVF_FLAT", "IVF_SQ8", "FLAT")


@dataclass(frozen=True)
class IndexSpec:
    """An index and the search parameters that go with it."""

    index_type: str = "HNSW"
    metric: str = "COSINE"
    build: dict[str, int] = field(default_factory=lambda: {"M": 16, "efConstruction": 128})
    search: dict[str, int] = field(default_factory=lambda: {"ef": 64})

    def __post_init__(self) -> None:
        if self.index_type not in INDEX_TYPES:
            raise PrerequisiteError(f"unknown index type {self.index_type!r}",
                                    fix=f"use one of {', '.join(INDEX_TYPES)}")

    @classmethod
    def hnsw(cls, m: int = 16, ef_construction: int = 128, ef: int = 64, metric: str = "COSINE") -> IndexSpec:
        return cls("HNSW", metric, {"M": m, "efConstruction": ef_construction}, {"ef": ef})

    @classmethod
    def ivf(cls, kind: str = "IVF_FLAT", nlist: int = 128, nprobe: int = 8, metric: str = "COSINE") -> IndexSpec:
        return cls(kind, metric, {"nlist": nlist}, {"nprobe": nprobe})

    @classmethod
    def flat(cls, metric: str = "COSINE") -> IndexSpec:
        return cls("FLAT", metric, {}, {})

    def label(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in self.build.items())
        return f"{self.index_type}({params})" if params else self.index_type


@dataclass
class CollectionStatus:
    """What `ensure_collection` found or did."""

    name: str
    rows: int
    expected_rows: int
    index: str
    reused: bool
    loaded: bool

    @property
    def complete(self) -> bool:
        return self.rows == self.expected_rows and self.loaded


DESCRIPTION = "milvus-lab products dataset={name} fingerprint={fingerprint}"


def description(dataset: Dataset) -> str:
    """Stored on the collection, so a rerun knows which exact dataset built it."""
    return DESCRIPTION.format(name=dataset.spec.name, fingerprint=dataset.spec.fingerprint())


def products_schema(dim: int, description: str = "milvus-lab products") -> Any:
    """The product fields every lab collection has (what the search API reads and returns)."""
    s = MilvusClient.create_schema(auto_id=False, description=description)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("category", DataType.VARCHAR, max_length=32)
    s.add_field("price", DataType.FLOAT)
    s.add_field("title", DataType.VARCHAR, max_length=128)
    s.add_field("release", DataType.VARCHAR, max_length=16)
    return s


def schema(dataset: Dataset) -> Any:
    return products_schema(dataset.spec.dim, description(dataset))


def index_params(index: IndexSpec, varchar_index: str = "INVERTED") -> Any:
    """The vector index plus a scalar index on `category` (its type depends on the server:
    `varchar_index_type(client)`)."""
    params = MilvusClient.prepare_index_params()
    params.add_index("vector", index_type=index.index_type, metric_type=index.metric,
                     params=dict(index.build))
    params.add_index("category", index_type=varchar_index)
    return params


def row_count(client: MilvusClient, name: str) -> int:
    return int(client.get_collection_stats(name).get("row_count", 0))


def current_index(client: MilvusClient, name: str) -> str:
    """The vector index as a label, e.g. 'HNSW(M=16,efConstruction=128)', or '' when none."""
    if "vector" not in client.list_indexes(name):
        return ""
    info = client.describe_index(name, "vector")
    kind = info.get("index_type", "")
    build_keys = {"M", "efConstruction", "nlist"}
    params = ",".join(f"{k}={info[k]}" for k in ("M", "efConstruction", "nlist") if k in info and k in build_keys)
    return f"{kind}({params})" if params else kind


def same_rows(client: MilvusClient, name: str, dataset: Dataset, samples: int = 5) -> bool:
    """Spot-check that the collection holds this dataset: a few rows read back and compared.

    Row counts alone cannot tell a dataset from another of the same size (or a collection
    built by older code); comparing stored vectors to the dataset can.
    """
    n = dataset.spec.n
    ids = sorted({0, n - 1, *(int(i) for i in np.linspace(0, n - 1, samples))})
    try:
        if not is_loaded(client, name):
            client.load_collection(name)
        rows = client.get(name, ids=ids, output_fields=["vector", "release"])
    except Exception:
        return False
    by_id = {int(r["id"]): r for r in rows}
    return len(by_id) == len(ids) and all(
        by_id[i]["release"] == dataset.spec.version
        and np.allclose(np.asarray(by_id[i]["vector"], dtype=np.float32), dataset.vectors[i], atol=1e-5)
        for i in ids
    )


def is_loaded(client: MilvusClient, name: str) -> bool:
    return "Loaded" in str(client.get_load_state(name).get("state"))


def inspect(client: MilvusClient, name: str, expected_rows: int) -> CollectionStatus | None:
    if not client.has_collection(name):
        return None
    return CollectionStatus(name, row_count(client, name), expected_rows,
                            current_index(client, name), True, is_loaded(client, name))


def ensure_collection(
    client: MilvusClient,
    name: str,
    dataset: Dataset,
    index: IndexSpec,
    rebuild: bool = False,
    batch: int = 2_000,
    on_progress: OnProgress = ignore,
) -> CollectionStatus:
    """Reuse a complete collection, else build it: create, insert (batched), flush, index, load."""
    expected = dataset.spec.n
    found = inspect(client, name, expected)
    if found is not None:
        same_data = same_rows(client, name, dataset)
        if same_data and found.rows == expected and _same_index(found.index, index):
            if not found.loaded:
                client.load_collection(name)
                found.loaded = True
            return found
        if not rebuild:
            raise PrerequisiteError(
                f"collection {name!r} is in an unexpected state: {found.rows:,} of {expected:,} rows, "
                f"index {found.index or 'none'} (wanted {index.label()})"
                + ("" if same_data else ", rows differ from the dataset (built from other data)"),
                fix="re-run with --rebuild to drop and rebuild it (nothing else is touched)",
            )
        drop_collection(client, name)

    client.create_collection(name, schema=schema(dataset), index_params=index_params(index, varchar_index_type(client)),
                             consistency_level="Strong")
    for start in range(0, expected, batch):
        stop = min(start + batch, expected)
        client.insert(name, dataset.rows(start, stop))
        on_progress(ProgressUpdate(f"insert {name}", stop, expected))
    client.flush(name)
    client.load_collection(name)
    status = CollectionStatus(name, row_count(client, name), expected, current_index(client, name),
                              False, is_loaded(client, name))
    if not status.complete:
        raise PrerequisiteError(
            f"collection {name!r} has {status.rows:,} rows after insert, expected {expected:,}",
            fix="re-run with --rebuild; if it persists, check the Milvus log in .milvus-lab/logs/",
        )
    return status


def _same_index(found: str, wanted: IndexSpec) -> bool:
    return found.split("(")[0] == wanted.index_type and (
        "(" not in found or found == wanted.label()
    )


def point_alias(client: MilvusClient, alias: str, collection: str) -> str | None:
    """Make `alias` point at `collection` atomically; return the collection it pointed at before."""
    before = alias_target(client, alias)
    if before is None:
        client.create_alias(collection, alias)
    elif before != collection:
        client.alter_alias(collection, alias)
    return before


def alias_target(client: MilvusClient, alias: str) -> str | None:
    """The collection an alias points at, or None (asks list_aliases first: no error log)."""
    if alias not in client.list_aliases().get("aliases", []):
        return None
    return client.describe_alias(alias).get("collection_name")


def aliases_of(client: MilvusClient, collection: str) -> list[str]:
    """The aliases that point at `collection`."""
    return [a for a in client.list_aliases().get("aliases", []) if alias_target(client, a) == collection]


def drop_collection(client: MilvusClient, name: str) -> bool:
    """Drop `name` unless an alias points at it; True when something was dropped.

    Real Milvus refuses to drop a collection behind an alias; the embedded Milvus Lite
    allows it and leaves the alias dangling (every search on it then fails). Every drop in
    this project goes through here so both behave like the real thing.

    Released first: Milvus 2.3.5 dropping a loaded collection leaves QueryCoord unable to
    stop, and the next SIGTERM hangs until SIGKILL (30 s; 0.1 s when released first).
    """
    if not client.has_collection(name):
        return False
    behind = aliases_of(client, name)
    if behind:
        raise PrerequisiteError(
            f"collection {name!r} is behind alias {', '.join(map(repr, behind))}: not dropped",
            fix=f"point the alias at another collection (or drop_alias('{behind[0]}')) first",
        )
    with contextlib.suppress(MilvusException):  # not loaded, or an engine without release
        client.release_collection(name)
    client.drop_collection(name)
    return True
