"""`compose`: Milvus standalone from docker-compose.yml; API replicas and router stay local."""

from __future__ import annotations

import shutil

from milvus_lab import processes
from milvus_lab.errors import PrerequisiteError
from milvus_lab.milvus import server
from milvus_lab.targets.capabilities import OFFERED_BY, Capability
from milvus_lab.targets.local import LocalTarget


class ComposeTarget(LocalTarget):
    """Like local, but Milvus is the real standalone server the user started with Docker."""

    name = "compose"

    @property
    def capabilities(self) -> frozenset[Capability]:
        return OFFERED_BY["compose"]

    def ensure_milvus(self) -> str:
        ours = processes.read_record(self.settings, server.SERVER_NAME)
        if ours is not None and ours.alive():
            raise PrerequisiteError(
                f"our Milvus Lite (target local) is running on port {ours.port}, so `compose` "
                "would test the wrong Milvus",
                fix="`milvus-lab down`, then `docker compose up -d --wait` and run again",
            )
        if not server.answers(self.settings.milvus_uri):
            if shutil.which("docker") is None:
                raise PrerequisiteError(
                    "target compose needs Docker, and `docker` is not on PATH",
                    fix="install Docker (https://docs.docker.com/get-docker/) or use --target local",
                )
            try:
                server.wait_for_uri(self.settings.milvus_uri, timeout=5)
            except PrerequisiteError as exc:
                # Milvus standalone needs up to ~90 s to turn healthy: a plain `up -d` returns
                # long before, so say `--wait` (returns once every healthcheck passes).
                raise PrerequisiteError(
                    exc.message,
                    fix="`docker compose up -d --wait` (returns once Milvus is healthy; the first "
                        "start pulls the images), then run again; `docker compose ps` shows what "
                        "is not healthy, or check MILVUS_LAB_MILVUS_HOST/PORT",
                ) from None
        return self.settings.milvus_uri

    def describe(self) -> dict[str, str]:
        return {"target": "compose (Milvus standalone from docker-compose.yml)",
                "milvus": self.settings.milvus_uri, "router": self.settings.router_url}
