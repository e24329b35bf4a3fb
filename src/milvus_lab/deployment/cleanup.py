"""Lab 01's `--cleanup`: everything labelled milvus-lab/lab=01, never anything by name."""

from __future__ import annotations

from milvus_lab.kube import cleanup, helm
from milvus_lab.labkit import LabRun
from milvus_lab.targets import Capability


def clean_up(run: LabRun) -> None:
    """kube: the Helm release (and its PVCs), then every labelled object; local: processes and
    the rendered manifests (the data stays)."""
    with run.step("Clean up by label", "Everything labelled milvus-lab/lab=01 is deleted, never anything by name "
                  "(local: processes stop, rendered manifests go; data stays).", cleanup.kubectl_cleanup_command("01")):
        if Capability.KUBE_API in run.target.capabilities:
            conn = run.target.conn
            if helm.release_exists(run.settings.namespace, conn.context):
                run.result(True, f"helm release uninstalled, {helm.uninstall(conn, run.settings.namespace)} PVCs deleted")
            with run.progress() as bars:
                result = cleanup.cleanup(conn, "01", on_progress=bars)
            for kind, n in sorted(result.counts().items()):
                run.result(True, f"{kind}: {n} deleted")
        else:
            run.target.teardown()
            for path in run.settings.path("manifests", "01", "x").parent.glob("*.yaml"):
                path.unlink()
            run.result(True, "processes stopped, .milvus-lab/manifests/01/ emptied")
