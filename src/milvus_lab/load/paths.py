"""Where the project's locustfiles are, so labs name a scenario instead of a path."""

from __future__ import annotations

from pathlib import Path

from milvus_lab.errors import PrerequisiteError
from milvus_lab.settings import find_repo_root

LOCUSTFILES = {
    "search_api": "search_api.py",  # HTTP load on the search API / router
    "milvus_grpc": "milvus_grpc.py",  # direct gRPC load on Milvus
    "blue_green": "blue_green.py",  # lab 03: search_api with the release's expectations
    "secure_search": "secure_search.py",  # lab 05: search_api with an API key on every request
    "ab_testing": "ab_testing.py",  # lab 04: end users with stable ids, per-request records
}


def locustfile(name: str, repo_root: Path | None = None) -> Path:
    """The path of `loadtests/<name>.py` in the repo."""
    if name not in LOCUSTFILES:
        raise PrerequisiteError(f"unknown load scenario {name!r}",
                                fix=f"use one of {', '.join(LOCUSTFILES)}")
    path = (repo_root or find_repo_root()) / "loadtests" / LOCUSTFILES[name]
    if not path.is_file():
        raise PrerequisiteError(f"locustfile {path} is missing",
                                fix="run from a checkout of the repo (git status loadtests/)")
    return path
