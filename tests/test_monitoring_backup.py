"""Backup / restore / DR drill against a real Milvus Lite server (session fixture)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pymilvus import MilvusClient

from milvus_lab.milvus.collections import alias_target, point_alias
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.monitoring import backup
from milvus_lab.testing.milvus_fixtures import unique_name


def _new_rows(dataset: Dataset, count: int, offset: int = 1_000_000) -> list[dict[str, object]]:
    return [{**r, "id": int(r["id"]) + offset} for r in dataset.rows(0, count)]  # type: ignore[call-overload]


def test_drill_restores_identical_content_and_switches_the_alias(
        milvus_client: MilvusClient, make_collection: Callable[..., str], small_dataset: Dataset,
        tmp_path: Path) -> None:
    source = make_collection(small_dataset)
    alias = unique_name("alias")
    point_alias(milvus_client, alias, source)
    rows_before, checksum_before = backup.collection_checksum(milvus_client, source)
    steps: list[tuple[str, float]] = []

    def write_after(client: MilvusClient, name: str) -> None:
        client.insert(name, _new_rows(small_dataset, 25))

    restored = unique_name("restored")
    result = backup.run_drill(milvus_client, alias, tmp_path / "bk", restored_name=restored,
                              probe_queries=small_dataset.queries[:20], k=10,
                              search_params={"ef": 64}, after_backup=write_after,
                              progress=lambda m, f: steps.append((m, f)))
    try:
        assert result.ok, result.summary()
        assert result.manifest.row_count == rows_before == small_dataset.spec.n
        assert result.manifest.checksum == checksum_before
        assert result.check.rows == rows_before and result.check.checksum_ok
        assert result.check.identical_queries == result.check.queries == 20
        assert result.rpo.rows_lost == 25  # written after the backup: lost by design
        assert result.rpo.seconds > 0 and result.rto_s > 0
        assert result.rto_s >= result.restore.seconds
        assert not milvus_client.has_collection(source)
        assert alias_target(milvus_client, alias) == restored
        fractions = [f for _, f in steps]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        manifest = json.loads((tmp_path / "bk" / backup.MANIFEST).read_text())
        assert {f["name"] for f in manifest["fields"]} >= {"id", "vector", "title"}
        assert any(i["index_type"] == "HNSW" for i in manifest["indexes"])
        summary = json.dumps(result.summary())  # JSON-ready for the lab report
        assert '"rto_s"' in summary
    finally:
        for name in (restored, source):
            if milvus_client.has_collection(name):
                milvus_client.drop_alias(alias) if alias_target(milvus_client, alias) == name else None
                milvus_client.drop_collection(name)


@pytest.fixture()
def backed_up(milvus_client: MilvusClient, make_collection: Callable[..., str],
              small_dataset: Dataset, tmp_path: Path) -> tuple[str, Path]:
    source = make_collection(small_dataset)
    directory = tmp_path / "bk"
    backup.backup_collection(milvus_client, source, directory, rows_per_file=1_000)
    return source, directory


def _assert_nothing_changed(client: MilvusClient, source: str, restored: str, rows: int) -> None:
    assert client.has_collection(source)
    assert int(client.get_collection_stats(source)["row_count"]) == rows
    assert not client.has_collection(restored)


def test_truncated_file_is_refused_before_anything_changes(
        milvus_client: MilvusClient, backed_up: tuple[str, Path], small_dataset: Dataset) -> None:
    source, directory = backed_up
    part = directory / "part-00001.parquet"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    with pytest.raises(backup.BackupError, match="checksum mismatch for .*part-00001"):
        backup.verify_backup(directory)
    restored = unique_name("r")
    with pytest.raises(backup.BackupError):
        backup.restore_collection(milvus_client, directory, restored)
    _assert_nothing_changed(milvus_client, source, restored, small_dataset.spec.n)
    # the manifest patched to match the truncated file: still caught, as unreadable Parquet
    manifest = json.loads((directory / backup.MANIFEST).read_text())
    manifest["files"][1]["sha256"] = backup._sha256(part)
    (directory / backup.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(backup.BackupError, match="not readable Parquet"):
        backup.verify_backup(directory)


def test_modified_rows_fail_the_content_checksum(
        milvus_client: MilvusClient, backed_up: tuple[str, Path], small_dataset: Dataset) -> None:
    source, directory = backed_up
    part = directory / "part-00000.parquet"
    table = pq.read_table(part)
    prices = table.column("price").to_pylist()
    prices[3] += 1.0
    table = table.set_column(table.schema.get_field_index("price"), table.schema.field("price"),
                             pa.array(prices, type=pa.float32()))
    pq.write_table(table, part)  # a valid Parquet file with one changed value
    manifest = json.loads((directory / backup.MANIFEST).read_text())
    manifest["files"][0]["sha256"] = backup._sha256(part)  # the attacker fixed the file hash
    (directory / backup.MANIFEST).write_text(json.dumps(manifest))
    backup.verify_backup(directory, deep=False)  # files and counts alone look fine
    with pytest.raises(backup.BackupError, match="content checksum mismatch"):
        backup.verify_backup(directory)
    restored = unique_name("r")
    with pytest.raises(backup.BackupError, match="content checksum mismatch"):
        backup.restore_collection(milvus_client, directory, restored)
    _assert_nothing_changed(milvus_client, source, restored, small_dataset.spec.n)


def test_guards_missing_manifest_existing_target_and_foreign_manifest(
        milvus_client: MilvusClient, backed_up: tuple[str, Path], tmp_path: Path) -> None:
    source, directory = backed_up
    with pytest.raises(backup.BackupError, match="manifest.json is missing"):
        backup.verify_backup(tmp_path / "nowhere")
    with pytest.raises(backup.PrerequisiteError, match="already exists"):
        backup.restore_collection(milvus_client, directory, source)
    with pytest.raises(backup.PrerequisiteError, match="already holds a backup"):
        backup.backup_collection(milvus_client, source, directory)
    manifest = backup.verify_backup(directory)
    assert len(manifest.files) == 3 and manifest.row_count == 3_000
    with pytest.raises(backup.PrerequisiteError, match="not 'other'"):
        backup.destroy_collection(milvus_client, "other", manifest)
    assert milvus_client.has_collection(source)
    with pytest.raises(backup.PrerequisiteError, match="no collection or alias"):
        backup.backup_collection(milvus_client, unique_name("missing"), tmp_path / "x")


def test_each_lab_run_backs_up_into_a_directory_of_its_own(tmp_path: Path) -> None:
    """A second lab 06 run in the same state directory used to stop with exit 2 at the backup
    ("already holds a backup"); each run now gets its own directory, earlier backups kept."""
    from milvus_lab.monitoring.restore_drill import new_backup_dir
    from milvus_lab.settings import Settings

    settings = Settings(repo_root=tmp_path, home=tmp_path)
    now = 1_795_400_000.0
    first = new_backup_dir(settings, now)
    assert first.parent == settings.path("backups", "06") and first.name == "20261123T021320Z"
    first.mkdir(parents=True)
    (first / backup.MANIFEST).write_text("{}")
    second = new_backup_dir(settings, now)  # the same second: still a new directory
    assert second != first and not second.exists()
    second.mkdir()
    third = new_backup_dir(settings, now)
    assert len({first, second, third}) == 3
    assert (first / backup.MANIFEST).read_text() == "{}"  # nothing overwritten
