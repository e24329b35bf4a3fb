"""The optional `--installer helm` path: the official Milvus chart at a pinned version.

Plain manifests teach every object; the chart is what most teams run. Both give the same
Service name (`milvus`), so the search API does not care which installed Milvus.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from milvus_lab.errors import PrerequisiteError, VerificationFailed

REPO_NAME = "zilliztech"
REPO_URL = "https://zilliztech.github.io/milvus-helm"
CHART = f"{REPO_NAME}/milvus"
CHART_VERSION = "5.0.19"  # appVersion 2.6.15, the same Milvus as manifests.MILVUS_IMAGE
RELEASE = "milvus"
VALUES = Path("deploy/helm/milvus-values.yaml")
#: Labels of the chart's PVCs (Milvus, etcd, MinIO), which `helm uninstall` keeps.
PVC_SELECTORS = (f"app.kubernetes.io/instance={RELEASE}", f"release={RELEASE}")


def require_helm() -> str:
    path = shutil.which("helm")
    if not path:
        raise PrerequisiteError("--installer helm needs the `helm` CLI on PATH",
                                fix="install Helm 3.14+ (https://helm.sh/docs/intro/install/) or drop --installer helm")
    return path


def install_commands(namespace: str, values: Path, context: str) -> list[list[str]]:
    """The helm commands, in order (shown to the learner and then run)."""
    return [
        ["helm", "repo", "add", REPO_NAME, REPO_URL, "--force-update"],
        ["helm", "upgrade", "--install", RELEASE, CHART, "--version", CHART_VERSION,
         "--namespace", namespace, "--kube-context", context, "-f", str(values),
         "--wait", "--timeout", "15m"],
    ]


def uninstall_command(namespace: str, context: str) -> list[str]:
    return ["helm", "uninstall", RELEASE, "--namespace", namespace, "--kube-context", context, "--wait"]


def _run(cmd: list[str], timeout: float) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise VerificationFailed(f"`{' '.join(cmd[:3])} ...` failed: {proc.stderr.strip()[-800:]}",
                                 fix=" ".join(cmd))
    return proc.stdout


def install(namespace: str, values: Path, context: str, timeout: float = 960.0) -> None:
    require_helm()
    for cmd in install_commands(namespace, values, context):
        _run(cmd, timeout)


def uninstall(conn: Any, namespace: str) -> int:
    """`helm uninstall`, then the release's PVCs by label; returns PVCs deleted."""
    if shutil.which("helm"):
        proc = subprocess.run(uninstall_command(namespace, conn.context), capture_output=True, text=True,
                              timeout=300, check=False)
        if proc.returncode != 0 and "not found" not in proc.stderr:
            raise VerificationFailed(f"helm uninstall failed: {proc.stderr.strip()}")
    deleted = 0
    for selector in PVC_SELECTORS:
        for pvc in conn.core.list_namespaced_persistent_volume_claim(namespace, label_selector=selector).items:
            conn.core.delete_namespaced_persistent_volume_claim(pvc.metadata.name, namespace)
            deleted += 1
    return deleted


def release_exists(namespace: str, context: str) -> bool:
    if not shutil.which("helm"):
        return False
    proc = subprocess.run(["helm", "status", RELEASE, "-n", namespace, "--kube-context", context],
                          capture_output=True, text=True, timeout=60, check=False)
    return proc.returncode == 0
