"""Lab 06's disaster-recovery run on the served release: back up the collection behind the
alias, write rows the backup lacks (so RPO is not zero by luck), drop it, restore it under
its name, verify, point the alias back. `backup.run_drill` does the drill; this module
chooses what it runs on and how the lesson reports it.
"""

from __future__ import annotations

import time
from pathlib import Path

from milvus_lab.milvus import datasets
from milvus_lab.milvus.client import connect
from milvus_lab.monitoring import backup
from milvus_lab.releases import Release
from milvus_lab.settings import Settings
from milvus_lab.targets.base import Target

LATE_ROWS = 200  # written after the backup: what the restore loses (the RPO in rows)
PROBES = 20  # searches recorded at backup time and compared after the restore


def new_backup_dir(settings: Settings, now: float | None = None) -> Path:
    """A directory of its own for this run's backup, named by its UTC time.

    Why: a backup is never overwritten in place, so a second run of the lab in the same
    state directory must not reuse the first run's directory (it refused with exit 2 after
    three minutes of lesson). Older backups are kept, as a real backup history is.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    base = settings.path("backups", "06")
    candidate, n = base / stamp, 1
    while candidate.exists():
        n += 1
        candidate = base / f"{stamp}-{n}"
    return candidate


def run(target: Target, settings: Settings, release: Release, alias: str, directory: Path) -> backup.DrillResult:
    """The drill on `release` behind `alias`, backed up into `directory` (see `new_backup_dir`)."""
    ds = datasets.ensure_dataset(settings, release.dataset)
    client = connect(target.ensure_milvus(), timeout=120)
    try:
        return backup.run_drill(client, alias, directory, restored_name=release.collection,
                                probe_queries=ds.queries[:PROBES], k=10, search_params=dict(release.index.search),
                                after_backup=backup.late_writes(ds.rows(0, LATE_ROWS)))
    finally:
        client.close()


def observed(dr: backup.DrillResult) -> str:
    c = dr.check
    return (f"{c.rows:,}/{c.expected_rows:,} rows, checksum {'ok' if c.checksum_ok else 'DIFFERS'}, "
            f"{c.identical_queries}/{c.queries} identical searches")


def timing(dr: backup.DrillResult) -> str:
    return (f"RPO {dr.rpo.seconds:.1f}s / {dr.rpo.rows_lost} rows; RTO {dr.rto_s:.1f}s "
            f"(backup {dr.backup_s:.1f}s, {dr.manifest.bytes / 1e6:.1f} MB)")
