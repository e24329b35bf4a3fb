"""Lab 04's `--cleanup`: what the lab started (kube: by label), then its collection."""

from __future__ import annotations

from milvus_lab.abtest import setup
from milvus_lab.labkit import LabRun


def clean_up(run: LabRun) -> None:
    """Stop what the lab started (kube: delete by label), then drop its collection."""
    with run.step("Clean up", "Processes (or kube objects by label), then the collection.",
                  f"client.drop_collection('{setup.COLLECTION}')"):
        run.target.cleanup()
        try:
            dropped = setup.drop_collection(run.target.ensure_milvus())
        finally:
            run.target.teardown()
        run.result(True, f"{setup.COLLECTION} {'dropped' if dropped else 'was not there'}; processes stopped")
