"""Lab 02's `--cleanup`: every environment's replicas stop, the pipeline's state goes."""

from __future__ import annotations

import shutil

from milvus_lab.labkit import LabRun
from milvus_lab.pipeline import deploy, envconfig


def clean_up(run: LabRun) -> None:
    """Stop every environment's replicas and remove the pipeline's state (registry, releases)."""
    stopped = sum(deploy.stop(run.settings, env) for env in envconfig.ENVIRONMENTS)
    run.target.cleanup()
    state = run.settings.path("pipeline", "x").parent
    shutil.rmtree(state, ignore_errors=True)
    run.info(f"stopped {stopped} replica(s); removed {state}")
