"""Remove what lab 03 made: its alias first (real Milvus refuses to drop a collection behind one)."""

from __future__ import annotations

from milvus_lab.labkit import LabRun
from milvus_lab.milvus import collections
from milvus_lab.milvus.client import connect
from milvus_lab.releases import ALIAS, V1, V2


def lab_collections() -> tuple[str, ...]:
    return (V1.collection, V2.collection, f"{V2.collection}_faulty")


def drop_lab_data(uri: str) -> list[str]:
    """Drop the alias, then the lab's collections; return what was dropped."""
    client = connect(uri)
    dropped: list[str] = []
    try:
        if collections.alias_target(client, ALIAS) is not None:
            client.drop_alias(ALIAS)
            dropped.append(f"alias {ALIAS}")
        for name in lab_collections():
            if client.has_collection(name):
                client.drop_collection(name)
                dropped.append(name)
    finally:
        client.close()
    return dropped


def clean_up(run: LabRun) -> None:
    """`--cleanup`: processes (or kube objects by label), then the alias, then the collections."""
    with run.step("Clean up", "Processes (or kube objects by label), then the alias, then the collections.",
                  f"client.drop_alias('{ALIAS}'); client.drop_collection('{V2.collection}')"):
        run.target.cleanup()
        try:
            dropped = drop_lab_data(run.target.ensure_milvus())
        finally:
            run.target.teardown()
        run.result(True, f"removed: {', '.join(dropped) or 'nothing left'}")
