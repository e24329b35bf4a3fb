"""Lab 03's dry run: what the lesson would do, and the target's own validation of both releases."""

from __future__ import annotations

from milvus_lab.labkit import LabRun
from milvus_lab.releases import ALIAS, V1, V2


def plan_lines() -> list[str]:
    """The lesson in four lines, in order."""
    return [f"ensure {V1.collection} ({V1.index.label()}) and alias {ALIAS} → it",
            f"deploy {V1.slot}/{V1.version} x{V1.replicas}, route 100% to {V1.slot}",
            f"build {V2.collection} ({V2.index.label()}), gate, alter alias",
            f"deploy {V2.slot}/{V2.version}, preview, switch, analyse, retire {V1.slot}"]


def plan(run: LabRun) -> None:
    """`--dry-run`: nothing changes; the target plans (kube: server dry-run) blue's and green's replicas."""
    with run.step("Plan (dry run)", "Nothing is changed: this is what the lesson would do.", None):
        for line in plan_lines():
            run.info(line)
        uri = run.target.api_milvus_uri()
        run.record(*run.target.plan([(V1.api_config(uri), V1.replicas), (V2.api_config(uri), V2.replicas)]))
