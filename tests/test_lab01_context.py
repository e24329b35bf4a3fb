"""The context guard and the no-cluster messages (DESIGN.md sections 2 and 7).

Why: a lab must never change a cluster the user did not mean (a non-kind context needs
`--context`), and "no cluster" must be one message naming `kind create cluster`.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from milvus_lab.errors import PrerequisiteError
from milvus_lab.kube import context


def test_requested_context_wins_and_is_explicit() -> None:
    assert context.resolve_context(["prod", "kind-milvus-lab"], "prod", "prod") == ("prod", True)


def test_default_kind_context_preferred_over_current() -> None:
    assert context.resolve_context(["prod", "kind-milvus-lab"], "prod", None) == ("kind-milvus-lab", False)
    assert context.resolve_context(["prod"], "prod", None) == ("prod", False)


def test_unknown_or_missing_context_is_a_prerequisite_error() -> None:
    with pytest.raises(PrerequisiteError, match="not in your kubeconfig"):
        context.resolve_context(["a"], "a", "b")
    with pytest.raises(PrerequisiteError) as err:
        context.resolve_context([], None, None)
    assert context.CREATE_CLUSTER in str(err.value)


def test_guard_refuses_non_kind_unless_named() -> None:
    context.guard_context("kind-other", explicit=False)
    context.guard_context("prod", explicit=True)
    with pytest.raises(PrerequisiteError) as err:
        context.guard_context("prod", explicit=False)
    assert "--context prod" in str(err.value) and err.value.exit_code == 2


def _kubeconfig(tmp_path: Path, name: str, server: str) -> Path:
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": name, "user": {"token": "t"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_connect_without_kubeconfig_names_kind_create(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteError) as err:
        context.connect(kubeconfig=str(tmp_path / "missing"))
    assert context.CREATE_CLUSTER in str(err.value)


def test_connect_refuses_current_non_kind_context(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, "prod", "https://127.0.0.1:1")
    with pytest.raises(PrerequisiteError, match="not a kind cluster"):
        context.connect(kubeconfig=str(path))


def test_connect_to_a_dead_kind_cluster_says_it_does_not_answer(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed after the block: nothing listens there
    path = _kubeconfig(tmp_path, "kind-milvus-lab", f"https://127.0.0.1:{port}")
    with pytest.raises(PrerequisiteError) as err:
        context.connect(kubeconfig=str(path), timeout=2)
    assert "does not answer" in str(err.value) and context.CREATE_CLUSTER in str(err.value)
