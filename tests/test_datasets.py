"""Datasets: deterministic bytes, ground truth that really is exact, recall@k edge cases."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from milvus_lab.milvus import datasets
from milvus_lab.milvus.datasets import DatasetSpec, exact_top_k, generate
from milvus_lab.milvus.quality import recall_at_k
from milvus_lab.settings import Settings

SPEC = DatasetSpec(name="unit", version="v1", n=1_500, dim=16, n_queries=40, k=10, seed=11,
                   n_clusters=8)


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_same_spec_gives_the_same_bytes(tmp_path: Path) -> None:
    a, b = generate(SPEC), generate(SPEC)
    for field in ("vectors", "category", "price", "queries", "ground_truth"):
        assert getattr(a, field).tobytes() == getattr(b, field).tobytes(), field
    datasets.save(a, tmp_path / "a")
    datasets.save(b, tmp_path / "b")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a.rows(0, 3) == b.rows(0, 3)


def test_another_seed_gives_other_data() -> None:
    other = generate(dataclasses.replace(SPEC, seed=12))
    assert not np.array_equal(generate(SPEC).vectors, other.vectors)


def test_shapes_types_and_unit_length() -> None:
    ds = generate(SPEC)
    assert ds.vectors.shape == (SPEC.n, SPEC.dim) and ds.vectors.dtype == np.float32
    assert ds.queries.shape == (SPEC.n_queries, SPEC.dim)
    assert ds.ground_truth.shape == (SPEC.n_queries, SPEC.k) and ds.ground_truth.dtype == np.int64
    np.testing.assert_allclose(np.linalg.norm(ds.vectors, axis=1), 1.0, atol=1e-5)
    assert set(np.unique(ds.category)) <= set(range(len(datasets.CATEGORIES)))
    assert (ds.price > 0).all()
    row = ds.rows(5, 6)[0]
    assert row["id"] == 5 and row["release"] == "v1" and len(row["vector"]) == SPEC.dim
    assert row["category"] in datasets.CATEGORIES and row["title"].endswith("item 5")


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_ground_truth_equals_brute_force(metric: str) -> None:
    ds = generate(dataclasses.replace(SPEC, metric=metric))
    v, q = ds.vectors.astype(np.float64), ds.queries.astype(np.float64)
    scores = -((q[:, None, :] - v[None, :, :]) ** 2).sum(-1) if metric == "L2" else q @ v.T
    brute = np.argsort(-scores, axis=1, kind="stable")[:, : SPEC.k]
    assert np.array_equal(ds.ground_truth, brute)
    # ordered best first, as a search returns them
    got = np.take_along_axis(scores, ds.ground_truth, axis=1)
    assert (np.diff(got, axis=1) <= 1e-9).all()


def test_exact_top_k_rejects_an_unknown_metric() -> None:
    with pytest.raises(ValueError, match="unsupported metric"):
        exact_top_k(np.eye(3, dtype=np.float32), np.eye(3, dtype=np.float32), 2, "HAMMING")


def test_exact_top_k_with_k_equal_to_n() -> None:
    v = np.eye(4, dtype=np.float32)
    top = exact_top_k(v, v[:1], 4, "IP")
    assert top[0, 0] == 0 and sorted(top[0].tolist()) == [0, 1, 2, 3]


def test_recall_at_k_edge_cases() -> None:
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    assert recall_at_k([[1, 2, 3], [4, 5, 6]], truth, 3) == 1.0
    assert recall_at_k([[3, 2, 1], [6, 5, 4]], truth, 3) == 1.0  # order inside top-k is free
    assert recall_at_k([[7, 8, 9], [0, 0, 0]], truth, 3) == 0.0
    assert recall_at_k([[1, 9, 9], [4, 5, 9]], truth, 3) == pytest.approx(3 / 6)
    assert recall_at_k([[1], [4, 5]], truth, 3) == pytest.approx(3 / 6)  # short results count as misses
    assert recall_at_k([[1, 1, 1], [4, 4, 4]], truth, 3) == pytest.approx(2 / 6)  # duplicates count once
    assert recall_at_k([[2, 1], [5, 4]], truth, 2) == 1.0  # only the first k of the truth
    assert recall_at_k([[3, 1, 2], [4, 5, 6]], truth, 1) == pytest.approx(1 / 2)  # only the first k found
    assert recall_at_k(np.array([[1, 2, 3], [4, 5, 6]]), truth, 3) == 1.0
    assert recall_at_k([], np.empty((0, 3), dtype=np.int64), 3) == 0.0
    with pytest.raises(ValueError, match="1 results for 2 queries"):
        recall_at_k([[1, 2, 3]], truth, 3)


def test_ensure_dataset_saves_reuses_and_regenerates(tmp_path: Path) -> None:
    settings = Settings(repo_root=tmp_path, home=None)  # not the ambient MILVUS_LAB_HOME
    first = datasets.ensure_dataset(settings, SPEC)
    directory = datasets.dataset_dir(settings, SPEC.name)
    assert directory == tmp_path / ".milvus-lab" / "datasets" / "unit"
    before = {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}
    again = datasets.ensure_dataset(settings, SPEC)
    assert {p.name: p.stat().st_mtime_ns for p in directory.iterdir()} == before  # reused
    assert np.array_equal(again.vectors, first.vectors) and again.spec == SPEC

    bigger = dataclasses.replace(SPEC, n=1_600)
    changed = datasets.ensure_dataset(settings, bigger)
    assert changed.vectors.shape[0] == 1_600 and datasets.load(directory).spec == bigger

    (directory / "vectors.npy").write_bytes(b"torn write")
    repaired = datasets.ensure_dataset(settings, bigger)
    assert np.array_equal(repaired.vectors, changed.vectors)
    assert np.array_equal(datasets.load(directory).vectors, changed.vectors)
