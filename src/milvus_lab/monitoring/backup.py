"""Backup, restore and disaster recovery of a Milvus collection, client side, into Parquet.

A backup is a directory: Parquet files (rows read with pymilvus's `query_iterator`, typed
columns: vectors as fixed-size float32 lists) plus `manifest.json` with the schema, the
indexes, the row count, a SHA-256 per file, a content checksum of the rows, and a probe
(query vectors and the ids a search returned at backup time). It works against Milvus Lite
and real Milvus alike (the milvus-backup tool needs object storage and is not available
here); it is what `pymilvus[bulk-writer]`'s LocalBulkWriter does, written with pyarrow
directly so the manifest can carry checksums.

The content checksum is order independent: the sum modulo 2**256 of one SHA-256 per row over
a canonical encoding of every field (vectors as float32 bytes). The same function reads a
live collection, so "restored == backed up" is one comparison, whatever the segment layout.

The drill, step by step (each a function, so a lab can narrate them):
`backup_collection` -> `verify_backup` (before anything is destroyed; a damaged backup is a
`BackupError` and nothing changes) -> `measure_rpo` -> `destroy_collection` (needs the
verified manifest of that collection) -> `restore_collection` -> `verify_restore` ->
`switch_alias`; `run_drill` does all of it and measures RPO and RTO.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus.collections import alias_target, point_alias

if TYPE_CHECKING:
    import pyarrow as pa
    from pymilvus import MilvusClient

Progress = Callable[[str, float], None]
Row = dict[str, object]
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_INDEX_STATUS_KEYS = {"field_name", "index_name", "total_rows", "indexed_rows",
                      "pending_index_rows", "state", "index_type", "metric_type"}
_SCALAR_TYPES = {"BOOL", "INT8", "INT16", "INT32", "INT64", "FLOAT", "DOUBLE", "VARCHAR", "JSON"}


class BackupError(PrerequisiteError):
    """The backup cannot be trusted (missing, truncated, checksum mismatch): nothing was changed."""


def _noop(_msg: str, _frac: float) -> None:
    return None


def _monotonic(progress: Progress | None) -> Progress:
    """A progress callback whose fraction never goes back (sub-steps report their own 0..1)."""
    if progress is None:
        return _noop
    best = [0.0]

    def report(message: str, fraction: float) -> None:
        best[0] = max(best[0], min(1.0, round(fraction, 6)))
        progress(message, best[0])

    return report


# ---- the manifest --------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldInfo:
    """One field of the schema, enough to re-create it."""

    name: str
    dtype: str  # pymilvus DataType name, e.g. "FLOAT_VECTOR"
    is_primary: bool = False
    params: dict[str, int] = field(default_factory=dict)  # dim, max_length


@dataclass(frozen=True)
class IndexInfo:
    """One index as `describe_index` reported it."""

    field_name: str
    index_type: str
    metric_type: str = ""
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class FileInfo:
    name: str
    rows: int
    sha256: str
    size: int = 0  # bytes


@dataclass(frozen=True)
class Probe:
    """Searches run at backup time: the restored collection must answer them identically."""

    queries: list[list[float]]
    k: int
    search_params: dict[str, object]
    ids: list[list[int]]


@dataclass(frozen=True)
class BackupManifest:
    """What `manifest.json` holds; `directory` is where it was read from or written to."""

    collection: str
    aliases: list[str]
    description: str
    auto_id: bool
    enable_dynamic_field: bool
    fields: list[FieldInfo]
    indexes: list[IndexInfo]
    row_count: int
    checksum: str
    files: list[FileInfo]
    snapshot_at: float  # unix time the read began: the recovery point
    finished_at: float
    seconds: float
    probe: Probe | None
    format_version: int = FORMAT_VERSION
    directory: str = ""

    @property
    def primary(self) -> str:
        return next(f.name for f in self.fields if f.is_primary)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> str:
        body = asdict(self)
        body.pop("directory")
        return json.dumps(body, indent=1)

    @classmethod
    def from_json(cls, text: str, directory: Path) -> BackupManifest:
        raw = json.loads(text)
        probe = raw.pop("probe", None)
        return cls(
            **{k: v for k, v in raw.items() if k not in ("fields", "indexes", "files")},
            fields=[FieldInfo(**f) for f in raw["fields"]],
            indexes=[IndexInfo(**i) for i in raw["indexes"]],
            files=[FileInfo(**f) for f in raw["files"]],
            probe=Probe(**probe) if probe else None,
            directory=str(directory),
        )

    def summary(self) -> dict[str, object]:
        """JSON-ready facts for a report (no probe vectors)."""
        return {"collection": self.collection, "rows": self.row_count, "checksum": self.checksum,
                "files": len(self.files), "bytes": self.bytes, "seconds": round(self.seconds, 3),
                "snapshot_at": self.snapshot_at, "directory": self.directory}


# ---- schema <-> Arrow, canonical row encoding ---------------------------------------------
def describe_fields(client: MilvusClient, collection: str) -> tuple[dict[str, object], list[FieldInfo]]:
    """The collection's description and fields, with DataType names (not numbers)."""
    from pymilvus import DataType

    desc = client.describe_collection(collection)
    fields = []
    for f in desc["fields"]:
        dtype = DataType(int(f["type"])).name
        if dtype not in _SCALAR_TYPES and dtype != "FLOAT_VECTOR":
            raise PrerequisiteError(f"field {f['name']!r} has type {dtype}, which this backup does "
                                    "not support", fix="back up collections of scalar fields and "
                                    "FLOAT_VECTOR fields only")
        params = {k: int(v) for k, v in (f.get("params") or {}).items() if k in ("dim", "max_length")}
        fields.append(FieldInfo(f["name"], dtype, bool(f.get("is_primary")), params))
    return desc, fields


def arrow_schema(fields: Sequence[FieldInfo]) -> pa.Schema:
    import pyarrow as pa

    types = {"BOOL": pa.bool_(), "INT8": pa.int8(), "INT16": pa.int16(), "INT32": pa.int32(),
             "INT64": pa.int64(), "FLOAT": pa.float32(), "DOUBLE": pa.float64(),
             "VARCHAR": pa.string(), "JSON": pa.string()}
    cols = []
    for f in fields:
        if f.dtype == "FLOAT_VECTOR":
            cols.append(pa.field(f.name, pa.list_(pa.float32(), int(f.params["dim"])), nullable=False))
        else:
            cols.append(pa.field(f.name, types[f.dtype], nullable=False))
    return pa.schema(cols)


def _encode(f: FieldInfo, value: object) -> bytes:
    """Canonical bytes of one value: equal values, equal bytes, whatever Python type held them."""
    if f.dtype == "FLOAT_VECTOR":
        return np.asarray(value, dtype="<f4").tobytes()
    if f.dtype == "FLOAT":
        return struct.pack("<f", float(value))  # type: ignore[arg-type]
    if f.dtype == "DOUBLE":
        return struct.pack("<d", float(value))  # type: ignore[arg-type]
    if f.dtype == "BOOL":
        return b"\x01" if value else b"\x00"
    if f.dtype.startswith("INT"):
        return struct.pack("<q", int(value))  # type: ignore[call-overload]
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


class RowChecksum:
    """Order-independent content checksum: sum of per-row SHA-256 digests mod 2**256."""

    def __init__(self, fields: Sequence[FieldInfo]) -> None:
        self.fields = list(fields)
        self.total = 0
        self.rows = 0

    def add(self, rows: Sequence[Row]) -> None:
        for row in rows:
            h = hashlib.sha256()
            for f in self.fields:
                h.update(_encode(f, row[f.name]))
            self.total = (self.total + int.from_bytes(h.digest(), "big")) % (1 << 256)
        self.rows += len(rows)

    def hexdigest(self) -> str:
        return f"{self.total:064x}"


def _to_column(f: FieldInfo, rows: Sequence[Row]) -> list[object]:
    if f.dtype == "JSON":
        return [json.dumps(r[f.name], sort_keys=True) for r in rows]
    return [r[f.name] for r in rows]


def _from_table(table: pa.Table, fields: Sequence[FieldInfo]) -> list[Row]:
    cols = {f.name: table.column(f.name).to_pylist() for f in fields}
    out = []
    for i in range(table.num_rows):
        row: Row = {}
        for f in fields:
            v = cols[f.name][i]
            row[f.name] = json.loads(v) if f.dtype == "JSON" else v
        out.append(row)
    return out


def _iterate(client: MilvusClient, collection: str, fields: Sequence[FieldInfo],
             batch_size: int) -> Iterator[list[Row]]:
    """Every row of a collection in batches (pymilvus's query iterator: paged by primary key)."""
    # Milvus Lite has no MVCC timestamp to hand out; pymilvus warns and uses its own: expected
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    it = client.query_iterator(collection, batch_size=batch_size,
                               output_fields=[f.name for f in fields])
    try:
        while True:
            batch = it.next()
            if not batch:
                return
            yield [{f.name: r[f.name] for f in fields} for r in batch]
    finally:
        it.close()


def collection_checksum(client: MilvusClient, collection: str, batch_size: int = 4000) -> tuple[int, str]:
    """(rows, content checksum) of a live collection, comparable with a manifest's checksum."""
    _, fields = describe_fields(client, collection)
    digest = RowChecksum(fields)
    for batch in _iterate(client, collection, fields, batch_size):
        digest.add(batch)
    return digest.rows, digest.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _indexes(client: MilvusClient, collection: str) -> list[IndexInfo]:
    out = []
    for name in client.list_indexes(collection):
        info = client.describe_index(collection, name)
        params = {k: v for k, v in info.items() if k not in _INDEX_STATUS_KEYS}
        if isinstance(params.get("params"), dict):  # some servers nest the build params
            params = {**params.pop("params"), **params}  # type: ignore[dict-item]
        out.append(IndexInfo(str(info.get("field_name", name)), str(info.get("index_type", "")),
                             str(info.get("metric_type", "") or ""), params))
    return out


def _search_ids(client: MilvusClient, collection: str, queries: Sequence[Sequence[float]], k: int,
                search_params: dict[str, object], vector_field: str) -> list[list[int]]:
    hits = client.search(collection, [list(q) for q in queries], limit=k, anns_field=vector_field,
                         search_params=search_params)
    return [[int(h["id"]) for h in row] for row in hits]


def resolve(client: MilvusClient, name: str) -> str:
    """The collection behind `name` (an alias or a collection); PrerequisiteError if neither."""
    target = alias_target(client, name)
    if target:
        return target
    if client.has_collection(name):
        return name
    raise PrerequisiteError(f"no collection or alias named {name!r}",
                            fix=f"pick one of {client.list_collections()}")


def _vector_field(fields: Sequence[FieldInfo]) -> str:
    return next(f.name for f in fields if f.dtype == "FLOAT_VECTOR")


# ---- backup --------------------------------------------------------------------------------
def backup_collection(client: MilvusClient, collection: str, directory: Path, *,
                      probe_queries: np.ndarray | Sequence[Sequence[float]] | None = None,
                      k: int = 10, search_params: dict[str, object] | None = None,
                      batch_size: int = 4000, rows_per_file: int = 100_000,
                      progress: Progress | None = None) -> BackupManifest:
    """Back up `collection` (or the collection an alias names) into `directory`.

    Inputs: a connected client; the collection or alias; an empty or absent directory;
    optional probe queries whose top-`k` ids are stored for `verify_restore`.
    Output: the written `BackupManifest`. Refuses a directory that already holds a backup
    (a backup is never overwritten in place).
    """
    import pyarrow.parquet as pq

    report = progress or _noop
    name = resolve(client, collection)
    directory = Path(directory)
    if (directory / MANIFEST).exists():
        raise PrerequisiteError(f"{directory} already holds a backup",
                                fix="back up into a new directory (one per backup)")
    directory.mkdir(parents=True, exist_ok=True)
    desc, fields = describe_fields(client, name)
    schema = arrow_schema(fields)
    expected = int(client.get_collection_stats(name).get("row_count", 0))
    aliases = [a for a in client.list_aliases().get("aliases", []) if alias_target(client, a) == name]
    report(f"backup {name}: reading {expected:,} rows", 0.0)
    started = time.time()
    digest = RowChecksum(fields)
    files: list[FileInfo] = []
    writer: pq.ParquetWriter | None = None
    in_file = 0

    def close_file() -> None:
        nonlocal writer, in_file
        if writer is not None:
            writer.close()
            path = directory / f"part-{len(files):05d}.parquet"
            files.append(FileInfo(path.name, in_file, _sha256(path), path.stat().st_size))
            writer, in_file = None, 0

    import pyarrow as pa

    for batch in _iterate(client, name, fields, min(batch_size, rows_per_file)):
        if writer is None:
            writer = pq.ParquetWriter(directory / f"part-{len(files):05d}.parquet", schema)
        table = pa.Table.from_pydict({f.name: _to_column(f, batch) for f in fields}, schema=schema)
        writer.write_table(table)
        digest.add(batch)
        in_file += len(batch)
        if in_file >= rows_per_file:
            close_file()
        report(f"backup {name}: {digest.rows:,} rows", min(0.95, digest.rows / max(expected, 1)))
    close_file()
    probe = None
    if probe_queries is not None and len(probe_queries):
        params = dict(search_params or {})
        queries = [list(map(float, q)) for q in probe_queries]
        probe = Probe(queries, k, params, _search_ids(client, name, queries, k, params,
                                                      _vector_field(fields)))
    finished = time.time()
    manifest = BackupManifest(
        collection=name, aliases=aliases, description=str(desc.get("description", "")),
        auto_id=bool(desc.get("auto_id", False)),
        enable_dynamic_field=bool(desc.get("enable_dynamic_field", False)), fields=fields,
        indexes=_indexes(client, name), row_count=digest.rows, checksum=digest.hexdigest(),
        files=files, snapshot_at=started, finished_at=finished, seconds=finished - started,
        probe=probe, directory=str(directory))
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(manifest.to_json())
    tmp.replace(directory / MANIFEST)  # the manifest appears last: no manifest, no backup
    report(f"backup {name}: {digest.rows:,} rows in {len(files)} file(s)", 1.0)
    return manifest


def read_manifest(directory: Path) -> BackupManifest:
    path = Path(directory) / MANIFEST
    try:
        manifest = BackupManifest.from_json(path.read_text(), Path(directory))
    except FileNotFoundError:
        raise BackupError(f"no backup at {directory} ({MANIFEST} is missing: the backup never "
                          "finished, or this is the wrong directory)",
                          fix="point at a directory written by backup_collection") from None
    except (ValueError, TypeError, KeyError) as e:
        raise BackupError(f"{path} is not a valid backup manifest ({type(e).__name__}: {e})",
                          fix="restore from another backup; this one cannot be trusted") from None
    if manifest.format_version != FORMAT_VERSION:
        raise BackupError(f"{path} has format version {manifest.format_version}, "
                          f"this code reads {FORMAT_VERSION}", fix="restore with the matching "
                          "milvus-lab version")
    return manifest


def read_rows(manifest: BackupManifest, batch_rows: int = 2000) -> Iterator[list[Row]]:
    """The backed-up rows in batches, file by file (raises BackupError on an unreadable file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for info in manifest.files:
        path = Path(manifest.directory) / info.name
        try:
            pf = pq.ParquetFile(path)
            for rb in pf.iter_batches(batch_size=batch_rows):
                yield _from_table(pa.Table.from_batches([rb]), manifest.fields)
        except (OSError, pa.ArrowException) as e:
            raise BackupError(f"backup file {path} is unreadable ({type(e).__name__}: {e})",
                              fix="restore from another backup; this one is damaged") from None


def verify_backup(directory: Path, *, deep: bool = True,
                  progress: Progress | None = None) -> BackupManifest:
    """Check a backup before trusting it: manifest, every file's SHA-256 and row count, and
    (deep) the content checksum recomputed from the Parquet rows.

    Output: the manifest. Raises `BackupError` naming the first problem; reads only.
    """
    import pyarrow.parquet as pq

    report = progress or _noop
    manifest = read_manifest(Path(directory))
    for i, info in enumerate(manifest.files):
        path = Path(directory) / info.name
        if not path.is_file():
            raise BackupError(f"backup file {path} is missing", fix="restore from another backup")
        found = _sha256(path)
        if found != info.sha256:
            raise BackupError(f"checksum mismatch for {path}: SHA-256 {found[:12]}..., manifest "
                              f"says {info.sha256[:12]}... (truncated or modified)",
                              fix="restore from another backup; this one is damaged")
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception as e:  # pyarrow raises several types for a corrupt footer
            raise BackupError(f"backup file {path} is not readable Parquet ({e})",
                              fix="restore from another backup; this one is damaged") from None
        if rows != info.rows:
            raise BackupError(f"{path} holds {rows:,} rows, manifest says {info.rows:,}",
                              fix="restore from another backup")
        report(f"verify {info.name}", 0.3 * (i + 1) / max(len(manifest.files), 1))
    total = sum(f.rows for f in manifest.files)
    if total != manifest.row_count:
        raise BackupError(f"files hold {total:,} rows, manifest says {manifest.row_count:,}",
                          fix="restore from another backup")
    if deep:
        digest = RowChecksum(manifest.fields)
        for batch in read_rows(manifest):
            digest.add(batch)
            report("verify content checksum", 0.3 + 0.7 * digest.rows / max(total, 1))
        if digest.hexdigest() != manifest.checksum:
            raise BackupError(f"content checksum mismatch in {directory}: rows hash to "
                              f"{digest.hexdigest()[:12]}..., manifest says {manifest.checksum[:12]}...",
                              fix="restore from another backup; this one was modified")
    report("backup verified", 1.0)
    return manifest


# ---- destroy, restore, verify ----------------------------------------------------------------
def destroy_collection(client: MilvusClient, collection: str, verified: BackupManifest) -> list[str]:
    """The disaster: drop the collection (and the aliases on it, which real Milvus requires
    first). Needs the verified manifest OF THIS collection, so a drill never destroys data
    it could not restore. Returns the aliases that pointed at it."""
    if verified.collection != collection:
        raise PrerequisiteError(f"the verified backup is of {verified.collection!r}, not {collection!r}",
                                fix="back up and verify this collection first")
    aliases = [a for a in client.list_aliases().get("aliases", []) if alias_target(client, a) == collection]
    for alias in aliases:
        client.drop_alias(alias)
    client.drop_collection(collection)
    return aliases


@dataclass(frozen=True)
class RestoreResult:
    """What `restore_collection` built and how long each part took."""

    collection: str
    rows: int
    insert_s: float
    index_load_s: float
    seconds: float


def _index_params(manifest: BackupManifest, vector_index: dict[str, object] | None) -> object:
    from pymilvus import MilvusClient

    params = MilvusClient.prepare_index_params()
    for idx in manifest.indexes:
        build = dict(idx.params)
        kind, metric = idx.index_type, idx.metric_type
        if vector_index is not None and idx.field_name == _vector_field(manifest.fields):
            kind = str(vector_index.get("index_type", kind))
            metric = str(vector_index.get("metric_type", metric))
            build = dict(vector_index.get("params", build))  # type: ignore[call-overload]
        kwargs: dict[str, object] = {"index_type": kind, "params": build}
        if metric:
            kwargs["metric_type"] = metric
        params.add_index(idx.field_name, **kwargs)
    return params


def restore_collection(client: MilvusClient, directory: Path, name: str, *,
                       vector_index: dict[str, object] | None = None, batch_rows: int = 2000,
                       deep_verify: bool = True, progress: Progress | None = None) -> RestoreResult:
    """Restore a verified backup into a NEW collection `name`: create (schema + indexes from the
    manifest, or `vector_index={"index_type", "metric_type", "params"}` instead), insert,
    flush, load. The backup is verified first (`deep_verify=False` skips re-hashing the rows
    when the caller just verified it; file SHA-256s are always checked); an existing `name`
    is refused. Output: a `RestoreResult` (rows and the time of each part)."""
    from pymilvus import DataType, MilvusClient

    report = progress or _noop
    if client.has_collection(name):
        raise PrerequisiteError(f"collection {name!r} already exists; a restore never overwrites",
                                fix="restore into a new name (then switch the alias to it)")
    manifest = verify_backup(Path(directory), deep=deep_verify,
                             progress=lambda m, f: report(m, 0.2 * f))
    t0 = time.monotonic()
    schema = MilvusClient.create_schema(auto_id=manifest.auto_id, description=manifest.description,
                                        enable_dynamic_field=manifest.enable_dynamic_field)
    for f in manifest.fields:
        schema.add_field(f.name, DataType[f.dtype], is_primary=f.is_primary, **f.params)
    client.create_collection(name, schema=schema, index_params=_index_params(manifest, vector_index),
                             consistency_level="Strong")
    done = 0
    try:
        for batch in read_rows(manifest, batch_rows):
            client.insert(name, batch)
            done += len(batch)
            report(f"restore {name}: {done:,} rows", 0.2 + 0.7 * done / max(manifest.row_count, 1))
        insert_s = time.monotonic() - t0
        client.flush(name)
        client.load_collection(name)
    except BackupError:
        with contextlib.suppress(Exception):
            client.drop_collection(name)  # ours, half-built: never leave it to be served
        raise
    rows = int(client.get_collection_stats(name).get("row_count", 0))
    total = time.monotonic() - t0
    report(f"restore {name}: {rows:,} rows, loaded", 1.0)
    return RestoreResult(name, rows, insert_s, total - insert_s, total)


@dataclass(frozen=True)
class RestoreCheck:
    """The restored collection compared with its backup."""

    rows: int
    expected_rows: int
    checksum: str
    expected_checksum: str
    queries: int
    identical_queries: int  # probe queries whose top-k ids match exactly (same order)

    @property
    def rows_ok(self) -> bool:
        return self.rows == self.expected_rows

    @property
    def checksum_ok(self) -> bool:
        return self.checksum == self.expected_checksum

    @property
    def search_ok(self) -> bool:
        return self.identical_queries == self.queries

    @property
    def ok(self) -> bool:
        return self.rows_ok and self.checksum_ok and self.search_ok


def verify_restore(client: MilvusClient, name: str, manifest: BackupManifest,
                   progress: Progress | None = None) -> RestoreCheck:
    """Row count, content checksum (read back through the query iterator) and the probe
    searches of the restored collection against the backup's manifest."""
    report = progress or _noop
    report("count and checksum the restored rows", 0.0)
    rows, checksum = collection_checksum(client, name)
    queries = identical = 0
    if manifest.probe is not None:
        report("re-run the probe searches", 0.8)
        p = manifest.probe
        got = _search_ids(client, name, p.queries, p.k, p.search_params, _vector_field(manifest.fields))
        queries = len(p.ids)
        identical = sum(a == b for a, b in zip(got, p.ids, strict=True))
    report("restore verified", 1.0)
    return RestoreCheck(rows, manifest.row_count, checksum, manifest.checksum, queries, identical)


def switch_alias(client: MilvusClient, alias: str, collection: str) -> str | None:
    """Point `alias` at the restored collection (atomic); returns what it pointed at before."""
    return point_alias(client, alias, collection)


# ---- RPO / RTO ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rpo:
    """Recovery point: how much the restore will lose, measured at the disaster."""

    seconds: float  # disaster time - the backup's snapshot time
    rows_lost: int  # rows in the collection at the disaster - rows in the backup (>= 0)


def measure_rpo(client: MilvusClient, collection: str, manifest: BackupManifest,
                at: float | None = None) -> Rpo:
    """RPO of restoring `manifest` now (or at `at`): time since the backup's snapshot and
    the rows written after it (counted in the live collection before it is destroyed)."""
    now = time.time() if at is None else at
    live = int(client.get_collection_stats(collection).get("row_count", 0))
    return Rpo(max(0.0, now - manifest.snapshot_at), max(0, live - manifest.row_count))


def late_writes(rows: Sequence[Row], id_offset: int = 10_000_000) -> Callable[[MilvusClient, str], None]:
    """An `after_backup` for `run_drill`: copies of `rows` under new ids written after the
    backup, i.e. the writes the restore will lose (the RPO in rows)."""

    def write(client: MilvusClient, collection: str) -> None:
        extra = [{**row, "id": int(row["id"]) + id_offset} for row in rows]  # type: ignore[call-overload]
        if extra:
            client.insert(collection, extra)

    return write


@dataclass(frozen=True)
class DrillResult:
    """One disaster-recovery drill, end to end."""

    alias: str
    source: str
    restored: str
    manifest: BackupManifest
    rpo: Rpo
    rto_s: float  # disaster (collection dropped) -> alias serves the verified restore
    restore: RestoreResult
    check: RestoreCheck
    backup_s: float

    @property
    def ok(self) -> bool:
        return self.check.ok and self.restore.rows == self.manifest.row_count

    def summary(self) -> dict[str, object]:
        c = self.check
        return {"alias": self.alias, "source": self.source, "restored": self.restored,
                "backup": self.manifest.summary(), "backup_s": round(self.backup_s, 3),
                "rpo_s": round(self.rpo.seconds, 3), "rpo_rows": self.rpo.rows_lost,
                "rto_s": round(self.rto_s, 3), "restore_insert_s": round(self.restore.insert_s, 3),
                "restore_index_load_s": round(self.restore.index_load_s, 3),
                "rows": c.rows, "expected_rows": c.expected_rows, "checksum_ok": c.checksum_ok,
                "identical_queries": c.identical_queries, "queries": c.queries, "ok": self.ok}


def run_drill(client: MilvusClient, alias: str, directory: Path, *, restored_name: str | None = None,
              probe_queries: np.ndarray | Sequence[Sequence[float]] | None = None, k: int = 10,
              search_params: dict[str, object] | None = None,
              after_backup: Callable[[MilvusClient, str], None] | None = None,
              progress: Progress | None = None) -> DrillResult:
    """The whole drill on the collection behind `alias`: back up into `directory`, run
    `after_backup(client, collection)` (e.g. write rows that the restore will lose), verify
    the backup, measure RPO, destroy, restore into `restored_name`, verify, switch `alias`
    to it. RTO = wall time from the drop until the alias serves the verified restore.

    A damaged backup raises BackupError before anything is destroyed. A restore that fails
    verification leaves the alias unset (never pointing at unverified data): `.ok` is False.
    """
    report = _monotonic(progress)
    source = resolve(client, alias)
    restored_name = restored_name or f"{source}_restored_{int(time.time())}"
    t_backup = time.monotonic()
    backup_collection(client, source, directory, probe_queries=probe_queries, k=k,
                      search_params=search_params, progress=lambda m, f: report(m, 0.3 * f))
    backup_s = time.monotonic() - t_backup
    if after_backup is not None:
        after_backup(client, source)
    verified = verify_backup(directory, progress=lambda m, f: report(m, 0.3 + 0.1 * f))
    rpo = measure_rpo(client, source, verified)
    report(f"disaster: drop {source}", 0.4)
    destroy_collection(client, source, verified)
    t_disaster = time.monotonic()
    restore = restore_collection(client, directory, restored_name, deep_verify=False,
                                 progress=lambda m, f: report(m, 0.4 + 0.45 * f))
    check = verify_restore(client, restored_name, verified,
                           progress=lambda m, f: report(m, 0.85 + 0.1 * f))
    if check.ok:
        switch_alias(client, alias, restored_name)
    rto = time.monotonic() - t_disaster
    report(f"alias {alias} -> {restored_name}" if check.ok else "restore failed verification", 1.0)
    return DrillResult(alias, source, restored_name, verified, rpo, rto, restore, check, backup_s)
