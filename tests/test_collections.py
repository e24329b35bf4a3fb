"""Collections on the shared Milvus Lite server: build, reuse, half-built refusal, rebuild, aliases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pymilvus import MilvusClient

from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus import collections
from milvus_lab.milvus.collections import IndexSpec, alias_target, ensure_collection, point_alias
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.milvus.quality import recall_at_k
from milvus_lab.testing.milvus_fixtures import unique_name


def _search_ids(client: MilvusClient, name: str, dataset: Dataset, params: dict) -> list[list[int]]:
    result = client.search(name, data=dataset.queries.tolist(), limit=dataset.spec.k,
                           search_params={"params": params})
    return [[int(hit["id"]) for hit in hits] for hits in result]


def _ensure(client: MilvusClient, name: str, dataset: Dataset, index: IndexSpec,
            rebuild: bool = False) -> collections.CollectionStatus:
    return ensure_collection(client, name, dataset, index, rebuild=rebuild, batch=1_000)


def test_build_then_reuse(milvus_client: MilvusClient, small_dataset: Dataset) -> None:
    name = unique_name("build")
    try:
        built = _ensure(milvus_client, name, small_dataset, IndexSpec.hnsw())
        assert not built.reused and built.complete
        assert built.rows == built.expected_rows == small_dataset.spec.n
        assert built.index.startswith("HNSW") and built.loaded

        again = _ensure(milvus_client, name, small_dataset, IndexSpec.hnsw())
        assert again.reused and again.complete and again.rows == small_dataset.spec.n
    finally:
        milvus_client.drop_collection(name)


def test_a_built_collection_answers_with_high_recall(
        milvus_client: MilvusClient, small_dataset: Dataset, make_collection: Callable[..., str]) -> None:
    name = make_collection(small_dataset, IndexSpec.hnsw(ef=64))
    found = _search_ids(milvus_client, name, small_dataset, {"ef": 64})
    assert recall_at_k(found, small_dataset.ground_truth, small_dataset.spec.k) >= 0.95
    rows = milvus_client.query(name, filter="id in [0, 1]", output_fields=["*"])
    by_id = {r["id"]: r for r in rows}
    assert by_id[1]["title"] == small_dataset.title(1) and by_id[1]["release"] == "v1"


def test_flat_index_is_exact(milvus_client: MilvusClient, small_dataset: Dataset,
                             make_collection: Callable[..., str]) -> None:
    name = make_collection(small_dataset, IndexSpec.flat())
    found = _search_ids(milvus_client, name, small_dataset, {})
    assert recall_at_k(found, small_dataset.ground_truth, small_dataset.spec.k) >= 0.99


def test_a_half_built_collection_is_reported_and_left_alone(
        milvus_client: MilvusClient, small_dataset: Dataset) -> None:
    name = unique_name("half")
    milvus_client.create_collection(name, schema=collections.schema(small_dataset),
                                    index_params=collections.index_params(IndexSpec.hnsw()),
                                    consistency_level="Strong")
    try:
        milvus_client.insert(name, small_dataset.rows(0, 1_000))  # an interrupted first build
        milvus_client.flush(name)
        with pytest.raises(PrerequisiteError) as err:
            _ensure(milvus_client, name, small_dataset, IndexSpec.hnsw())
        assert err.value.exit_code == 2
        assert "unexpected state" in err.value.message and "1,000 of 3,000 rows" in err.value.message
        assert "--rebuild" in (err.value.fix or "")
        assert collections.row_count(milvus_client, name) == 1_000  # not touched

        rebuilt = _ensure(milvus_client, name, small_dataset, IndexSpec.hnsw(), rebuild=True)
        assert rebuilt.complete and not rebuilt.reused and rebuilt.rows == 3_000
    finally:
        milvus_client.drop_collection(name)


def test_another_index_type_is_reported_not_replaced(
        milvus_client: MilvusClient, small_dataset: Dataset, make_collection: Callable[..., str]) -> None:
    name = make_collection(small_dataset, IndexSpec.flat())
    with pytest.raises(PrerequisiteError, match="index FLAT .wanted HNSW"):
        _ensure(milvus_client, name, small_dataset, IndexSpec.hnsw())
    assert collections.current_index(milvus_client, name) == "FLAT"
    status = _ensure(milvus_client, name, small_dataset, IndexSpec.ivf(nlist=32), rebuild=True)
    assert status.index.startswith("IVF_FLAT") and status.complete


def test_a_collection_of_other_data_is_reported_not_reused(
        milvus_client: MilvusClient, small_dataset: Dataset, small_dataset_v2: Dataset,
        make_collection: Callable[..., str]) -> None:
    name = make_collection(small_dataset_v2)  # same size and index, other rows
    with pytest.raises(PrerequisiteError, match="built from other data") as err:
        _ensure(milvus_client, name, small_dataset, IndexSpec.hnsw())
    assert err.value.exit_code == 2
    hit = milvus_client.query(name, filter="id == 0", output_fields=["release"])[0]
    assert hit["release"] == "v2"  # untouched


def test_a_released_collection_is_loaded_again(
        milvus_client: MilvusClient, small_dataset: Dataset, make_collection: Callable[..., str]) -> None:
    name = make_collection(small_dataset)
    milvus_client.release_collection(name)
    assert not collections.is_loaded(milvus_client, name)
    status = _ensure(milvus_client, name, small_dataset, IndexSpec.hnsw())
    assert status.reused and status.loaded and collections.is_loaded(milvus_client, name)


def test_unknown_index_type_is_bad_input() -> None:
    with pytest.raises(PrerequisiteError, match="unknown index type 'DISKANN'") as err:
        IndexSpec("DISKANN")
    assert err.value.exit_code == 2


def test_alias_create_alter_and_search_through_it(
        milvus_client: MilvusClient, small_dataset: Dataset, small_dataset_v2: Dataset,
        make_collection: Callable[..., str]) -> None:
    v1, v2 = make_collection(small_dataset), make_collection(small_dataset_v2)
    alias = unique_name("alias")
    assert alias_target(milvus_client, alias) is None
    try:
        assert point_alias(milvus_client, alias, v1) is None  # created
        assert alias_target(milvus_client, alias) == v1
        assert point_alias(milvus_client, alias, v1) == v1  # idempotent: no change
        assert point_alias(milvus_client, alias, v2) == v1  # altered, returns the previous
        assert alias_target(milvus_client, alias) == v2
        hits = milvus_client.search(alias, data=[small_dataset_v2.queries[0].tolist()], limit=3,
                                    output_fields=["release"])[0]
        assert hits and {h["entity"]["release"] for h in hits} == {"v2"}
        assert int(hits[0]["id"]) == int(small_dataset_v2.ground_truth[0][0])
        assert point_alias(milvus_client, alias, v1) == v2  # and back (a rollback)
        assert alias_target(milvus_client, alias) == v1
    finally:
        milvus_client.drop_alias(alias)
