"""Lab 06's capacity question answered in one call: calibrate the memory model on fresh
Milvus Lite servers, find the QPS a replica sustains under the SLO with a Locust step test,
and size the cluster for the asked vectors and QPS.

The lesson verifies the held-out error and prints the plan; the measurements (minutes of
processes and load) and their bookkeeping live here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from milvus_lab.milvus import datasets
from milvus_lab.monitoring import capacity
from milvus_lab.releases import Release
from milvus_lab.settings import Settings

SIZES = (5_000, 10_000, 20_000, 40_000)  # the last one is held out: the model never sees it
USER_STEPS = (2, 4, 8, 16)
STEP_S = 8.0
SLO = capacity.Slo(p95_ms=500.0)


@dataclass(frozen=True)
class LabCapacity:
    calibration: capacity.Calibration
    steps: capacity.StepTest
    plan: capacity.CapacityPlan
    replicas: int

    def lines(self) -> list[str]:
        r, p = self.steps.result, self.plan
        return [f"{r.sustainable_qps:.0f} QPS within the SLO on {self.replicas} replicas "
                f"(broke at {r.breaking_users or '-'} users: {r.reason or 'never'})",
                f"{p.n_vectors:,} vectors at {p.target_qps:g} QPS: {p.replicas} replicas x "
                f"{p.memory_per_replica_bytes / 1024**3:.1f} GiB = {p.total_memory_bytes / 1024**3:.1f} GiB"]

    def section(self) -> dict[str, object]:
        return {"calibration": self.calibration.summary(), "step_test": self.steps.summary(),
                "plan": self.plan.summary()}

    def plot(self, path: Path) -> Path:
        return capacity.plot_calibration(self.calibration, path)


def measure_and_plan(url: str, settings: Settings, release: Release, vectors: int, qps: float) -> LabCapacity:
    """Calibrate, step-test the live service at `url`, plan for `vectors` at `qps`."""
    dim = release.dataset.dim
    cal = capacity.calibrate(sizes=SIZES, dim=dim, index=release.index)
    steps = capacity.run_step_test(
        url, USER_STEPS, STEP_S, settings.path("load", "06-steps"), slo=SLO,
        env={"MILVUS_LAB_DATASET_DIR": str(datasets.dataset_dir(settings, release.dataset.name))})
    plan = capacity.plan_capacity(vectors, dim, qps, cal.model, steps.result.sustainable_qps / release.replicas,
                                  release.dataset.n, release.index)
    return LabCapacity(cal, steps, plan, release.replicas)
