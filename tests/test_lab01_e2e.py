"""Lab 01 end to end, as a user runs it: the real script, asserted from its JSON report.

- (the `local` run and its drills are in tests/test_labs.py, which runs every lab's drills);
- `--dry-run` with no cluster at all, and with a deliberately invalid object;
- `kube` against a real API server (kind or the KWOK testenv): apply, rollout, verify,
  scale, re-run, cleanup; the data-plane check says it needs kind there;
- `kind` only: the same with pods that really run, load balancing included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from milvus_lab.settings import find_repo_root
from milvus_lab.testing.kube_fixtures import require_kind
from milvus_lab.testing.milvus_fixtures import lab_env, new_lab_settings

ROOT = find_repo_root()
SCRIPT = ROOT / "step05_production" / "01_kubernetes_deployment.py"


def run_lab(home: Path, *flags: str, env: dict[str, str] | None = None,
            timeout: float = 600) -> tuple[int, dict[str, Any], str]:
    settings = new_lab_settings(home)
    report = home / f"report-{uuid.uuid4().hex[:6]}.json"
    full_env = {**os.environ, **lab_env(settings), "COLUMNS": "160", **(env or {})}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--report", str(report), *flags],
                          cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


def checks_by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["verifications"]}


def test_dry_run_needs_no_cluster(tmp_path: Path) -> None:
    no_cluster = {"KUBECONFIG": str(tmp_path / "no-kubeconfig")}
    code, _, out = run_lab(tmp_path, "--dry-run", "--target", "kube", env=no_cluster)
    assert code == 0, out[-3000:]
    assert "schema validation only" in out and "17 objects valid" in out
    assert "nothing was changed" in out


def test_dry_run_catches_an_invalid_object_with_a_clear_message(tmp_path: Path) -> None:
    code, _, out = run_lab(tmp_path, "--dry-run", "--inject-invalid",
                           env={"KUBECONFIG": str(tmp_path / "no-kubeconfig")})
    assert code == 2, out[-3000:]
    assert "2 of 19 objects fail the Kubernetes 1.33 schema" in out
    assert "Deployment milvus-lab/search-api-broken: spec: Additional properties are not allowed ('replica'" in out
    assert "autoscaling/v2beta2" in out and "fix:" in out


def test_unfinished_exercise_says_so_before_anything_starts(tmp_path: Path) -> None:
    code, report, out = run_lab(tmp_path, "--impl", "labs")
    assert code == 2 and "is not finished" in out and "--impl solutions" in out, out[-2000:]
    assert report["steps"] == [] and not (tmp_path / ".milvus-lab" / "run").exists(), "nothing may start"


def test_non_kind_context_is_refused_without_context_flag(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "prod", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "prod", "user": {"token": "t"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}],
    }))
    code, _, out = run_lab(tmp_path, "--target", "kube", env={"KUBECONFIG": str(kubeconfig)})
    assert code == 2 and "not a kind cluster" in out and "--context prod" in out, out[-2000:]


def _kube_env(kube_api: Any, namespace: str) -> dict[str, str]:
    return {"KUBECONFIG": str(kube_api.kubeconfig), "MILVUS_LAB_NAMESPACE": namespace}


@pytest.mark.kube
@pytest.mark.slow
def test_kube_target_apply_verify_scale_rerun_cleanup(kube_api: Any, tmp_path: Path) -> None:
    if kube_api.is_kind:
        pytest.skip("on kind the full lab runs in test_kind_data_plane")
    ns = f"lab01-e2e-{uuid.uuid4().hex[:6]}"
    env = _kube_env(kube_api, ns)
    flags = ("--target", "kube", "--context", kube_api.context)
    try:
        code, report, out = run_lab(tmp_path, *flags, env=env)
        assert code == 0, out[-4000:]
        checks = checks_by_name(report)
        skipped = checks.pop("requests through the NodePort reach every API pod")
        assert skipped["passed"] is None and "needs kind" in skipped["hint"] + skipped["observed"]
        assert all(c["passed"] for c in checks.values()), [c for c in checks.values() if not c["passed"]]
        assert [s["to"] for s in report["section"]["scale"]] == [3, 2]
        assert report["section"]["applied"][f"Deployment {ns}/search-api-blue"] == "created"

        code, report, out = run_lab(tmp_path, *flags, env=env)  # re-run: idempotent
        assert code == 0, out[-4000:]
        assert set(report["section"]["applied"].values()) == {"unchanged"}, report["section"]["applied"]
    finally:
        code, _, out = run_lab(tmp_path, *flags, "--cleanup", env=env)
    assert code == 0 and "Namespace: 1 deleted" in out, out[-3000:]
    from kubernetes import client

    assert not client.CoreV1Api(kube_api.api_client).list_namespace(field_selector=f"metadata.name={ns}").items


@pytest.mark.kind
@pytest.mark.slow
def test_kind_data_plane(kube_api: Any, tmp_path: Path) -> None:
    require_kind(kube_api)
    env = {"KUBECONFIG": str(kube_api.kubeconfig)}
    flags = ("--target", "kube", "--context", kube_api.context)
    try:
        code, report, out = run_lab(tmp_path, *flags, env=env, timeout=1800)
        assert code == 0, out[-4000:]
        balance = checks_by_name(report)["requests reach every replica"]
        assert balance["passed"], balance
    finally:
        run_lab(tmp_path, *flags, "--cleanup", env=env)
