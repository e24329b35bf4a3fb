"""What a target (and the Milvus engine behind it) can do, so a lab asks instead of guessing.

Labs never test a target's name: they declare the capabilities they need in their
`LabSpec` and branch on `Capability` membership where a lesson differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from milvus_lab.errors import PrerequisiteError


class Capability(str, Enum):
    """A feature a lab may need from where it runs."""

    WEIGHTED_SPLIT = "weighted traffic split between slots"
    MILVUS_AUTH = "Milvus authentication and RBAC"
    MILVUS_TLS = "Milvus TLS"
    MILVUS_METRICS = "Milvus Prometheus metrics"
    ALIAS_RULES = "real alias rules (a collection behind an alias cannot be dropped)"
    RUNNING_PODS = "pods that really run"
    KUBE_API = "a Kubernetes API server"


# Which target offers what (the local row is the embedded default, Milvus Lite; the
# standalone engine adds the Milvus rows on local). Used for the "use --target X" hint.
OFFERED_BY: dict[str, frozenset[Capability]] = {
    "local": frozenset({Capability.WEIGHTED_SPLIT}),
    "compose": frozenset({Capability.WEIGHTED_SPLIT, Capability.MILVUS_AUTH, Capability.MILVUS_TLS,
                          Capability.MILVUS_METRICS, Capability.ALIAS_RULES}),
    "kube": frozenset({Capability.KUBE_API, Capability.RUNNING_PODS, Capability.MILVUS_METRICS,
                       Capability.ALIAS_RULES}),
}


def missing(needs: Iterable[Capability], has: Iterable[Capability]) -> list[Capability]:
    have = set(has)
    return [c for c in needs if c not in have]


def refuse(target: str, lacking: list[Capability], lab_command: str) -> PrerequisiteError:
    """The exit-2 error for a lab whose target lacks a capability: the reason and a target that has it."""
    names = ", ".join(c.value for c in lacking)
    better = [name for name, caps in OFFERED_BY.items() if name != target and set(lacking) <= caps]
    fix = (f"{lab_command} --target {better[0]}" if better
           else "no single target offers all of these; see README.md's targets table")
    return PrerequisiteError(f"target {target} lacks {names}", fix=fix)
