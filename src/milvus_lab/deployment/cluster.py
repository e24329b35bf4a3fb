"""Whether lab 01's dry run can reach a cluster for a server-side dry-run, said once, plainly."""

from __future__ import annotations

from milvus_lab.errors import PrerequisiteError
from milvus_lab.kube.context import KubeConnection
from milvus_lab.labkit import LabRun
from milvus_lab.targets import Capability


def dry_run_connection(run: LabRun) -> KubeConnection | None:
    """The target's cluster, or None (with the reason printed): schema validation then stands alone."""
    try:  # reading the kube target's capabilities already connects: both inside the try
        if Capability.KUBE_API not in run.target.capabilities:
            run.info("no cluster on this target: schema validation only")
            return None
        return run.target.conn
    except PrerequisiteError as exc:
        run.warn(f"no cluster for a server dry-run ({exc.message}); schema validation only")
        return None
