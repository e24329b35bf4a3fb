"""The Kubernetes conventions every object follows (DESIGN.md section 7): labels and field manager.

Cleanup and verification select by these labels only, never by name, so they live in
one small module that the builders, apply, cleanup and the tests share.
"""

from __future__ import annotations

import re

PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"
LAB_LABEL = "milvus-lab/lab"
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
VERSION_LABEL = "app.kubernetes.io/version"
SLOT_LABEL = "milvus-lab/slot"
PROJECT = "milvus-lab"
FIELD_MANAGER = "milvus-lab"  # server-side apply owner of every field we set
NAMESPACE = "milvus-lab"

_LAB_RE = re.compile(r"^\d{2}$")


def lab_labels(lab: str) -> dict[str, str]:
    """The labels every object gets: what cleanup and verification select on."""
    if not _LAB_RE.match(lab):
        raise ValueError(f"lab must be two digits like '01', got {lab!r}")
    return {PART_OF: PROJECT, MANAGED_BY: PROJECT, LAB_LABEL: lab}


def lab_selector(lab: str | None = None) -> str:
    """The label selector for everything one lab (or, with None, any lab) made."""
    parts = [f"{PART_OF}={PROJECT}", f"{MANAGED_BY}={PROJECT}"]
    if lab:
        parts.append(f"{LAB_LABEL}={lab}")
    return ",".join(parts)
