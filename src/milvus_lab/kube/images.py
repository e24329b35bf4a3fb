"""Get the search API image into kind: `docker build`, then `kind load docker-image`.

kind nodes are containers with their own image store; an image built on the laptop is
invisible to them until it is loaded. The Deployment uses `imagePullPolicy: IfNotPresent`
so the loaded image is used and never pulled from a registry.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from milvus_lab.errors import PrerequisiteError, VerificationFailed
from milvus_lab.kube.context import KIND_CLUSTER


def build_command(image: str, repo_root: Path) -> list[str]:
    return ["docker", "build", "-t", image, str(repo_root)]


def load_command(image: str, cluster: str = KIND_CLUSTER) -> list[str]:
    return ["kind", "load", "docker-image", image, "--name", cluster]


def _require(tool: str, why: str) -> None:
    if not shutil.which(tool):
        raise PrerequisiteError(f"`{tool}` is not on PATH ({why})",
                                fix=f"install {tool}; see https://kind.sigs.k8s.io/docs/user/quick-start/")


def image_exists(image: str) -> bool:
    proc = subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=60, check=False)
    return proc.returncode == 0


def ensure_image_in_kind(image: str, repo_root: Path, cluster: str = KIND_CLUSTER, rebuild: bool = False) -> list[str]:
    """Build the image if missing (or asked), load it into the kind cluster; return the steps run."""
    _require("docker", "it builds the search API image")
    _require("kind", "it loads the image into the cluster")
    done: list[str] = []
    if rebuild or not image_exists(image):
        cmd = build_command(image, repo_root)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
        if proc.returncode != 0:
            raise VerificationFailed(f"docker build failed: {proc.stderr.strip()[-800:]}", fix=" ".join(cmd))
        done.append(" ".join(cmd))
    cmd = load_command(image, cluster)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise PrerequisiteError(f"kind load failed: {proc.stderr.strip()[-800:]}",
                                fix=f"kind get clusters (is {cluster} there?); then {' '.join(cmd)}")
    done.append(" ".join(cmd))
    return done
