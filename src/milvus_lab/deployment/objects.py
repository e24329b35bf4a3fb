"""The objects lab 01 renders: the stack, a generated API key, and two deliberate mistakes."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from milvus_lab.kube import apply
from milvus_lab.kube import manifests as m
from milvus_lab.kube.apply import KubeObject
from milvus_lab.settings import Settings


def api_secret(settings: Settings) -> dict[str, str]:
    """A generated API key, kept in `.milvus-lab/secrets/` (0600) so re-runs reuse it; never printed."""
    path = settings.path("secrets", "01-search-api.env")
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"MILVUS_LAB_API_KEY={secrets.token_urlsafe(24)}\n")
    key, _, value = path.read_text().strip().partition("=")
    return {key: value}


def broken_objects(namespace: str, builders: m.Builders) -> list[KubeObject]:
    """Two mistakes people make: a misspelt field and an API version Kubernetes removed."""
    dep = apply.to_dict(m.search_api_deployment("broken", namespace=namespace, lab="01"))
    dep["metadata"]["name"] = "search-api-broken"
    dep["spec"]["replica"] = dep["spec"].pop("replicas")
    hpa = apply.to_dict(builders.hpa("search-api-broken", namespace, "01"))
    hpa["apiVersion"] = "autoscaling/v2beta2"
    return [dep, hpa]


def write_manifests(objs: list[KubeObject], folder: Path) -> list[Path]:
    """One YAML file per object, numbered in apply order (Secrets redacted by `to_yaml`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    paths = []
    for i, obj in enumerate(objs, 1):
        r = apply.ref(obj)
        path = folder / f"{i:02d}-{r.kind.lower()}-{r.name}.yaml"
        path.write_text(apply.to_yaml([obj]))
        paths.append(path)
    return paths


def by_kind(objs: list[KubeObject], *kinds: str, exclude: bool = False) -> list[KubeObject]:
    return [o for o in objs if (apply.ref(o).kind in kinds) != exclude]


def split_stack(objs: list[KubeObject]) -> tuple[list[KubeObject], list[KubeObject], list[KubeObject]]:
    """(namespace + quota + limits, Milvus objects, search API objects), in apply order."""
    foundation = objs[:3]
    milvus = [o for o in objs[3:]
              if (apply.to_dict(o)["metadata"].get("labels") or {}).get(m.NAME_LABEL) == m.MILVUS_NAME]
    return foundation, milvus, [o for o in objs[3:] if o not in milvus]
