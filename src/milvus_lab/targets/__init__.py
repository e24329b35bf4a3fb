"""Where a lab runs: `local` (Milvus Lite), `compose` (Milvus standalone in Docker), `kube`.

Labs talk to one small protocol (`Target`) and ask for `Capability`s, so the lesson is the
same on every target; only how Milvus is reached and how traffic is switched differ.
"""

from __future__ import annotations

from milvus_lab.settings import Settings
from milvus_lab.targets.base import Target
from milvus_lab.targets.capabilities import Capability


def get_target(settings: Settings, lab: str) -> Target:
    """The Target implementation for `settings.target`, labelling what it makes with `lab`."""
    if settings.target == "local":
        from milvus_lab.targets.local import LocalTarget

        return LocalTarget(settings, lab=lab)
    if settings.target == "compose":
        from milvus_lab.targets.compose import ComposeTarget

        return ComposeTarget(settings, lab=lab)
    from milvus_lab.targets.kube import KubeTarget

    return KubeTarget(settings, lab=lab)


__all__ = ["Capability", "Target", "get_target"]
