"""The search API's side of an A/B test: assign the request's user, pick the variant's params.

Assignment happens in the application (a feature flag evaluated locally), not in a
service mesh, so the same experiment runs on every target. The experiment comes from the
replica's environment (`MILVUS_LAB_API_EXPERIMENT`, the GrowthBook features JSON), so a
Kubernetes Deployment carries it like any other setting.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from milvus_lab.abtest.assignment import Assignment, Experiment

USER_HEADER = "x-user-id"
VARIANT_HEADER = "X-Variant"
EXPERIMENT_HEADER = "X-Experiment"


@dataclass(frozen=True)
class Served:
    """How one request is served: its assignment, and the headers that say so."""

    assignment: Assignment
    headers: dict[str, str]
    fail: bool  # the drill's injected error for this request


class ApiExperiment:
    """Assigns requests (thread-safe: one SDK evaluation per request, no shared state)."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self._rng = random.Random()

    @classmethod
    def from_config(cls, experiment_json: str) -> ApiExperiment | None:
        return cls(Experiment.from_json(experiment_json)) if experiment_json else None

    def serve(self, user_id: str | None) -> Served:
        assignment = self.experiment.assign(user_id)
        headers = {EXPERIMENT_HEADER: self.experiment.key}
        if assignment.in_experiment:
            headers[VARIANT_HEADER] = assignment.variant
        faults = assignment.faults
        if faults.delay_ms:
            time.sleep(faults.delay_ms / 1000)
        return Served(assignment, headers, self._rng.random() < faults.error_rate)
