"""The protocol every target implements: reach Milvus, deploy and scale a slot, switch traffic.

Labs talk only to this protocol and ask for capabilities; no lab compares target names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from milvus_lab.app.config import ApiConfig
from milvus_lab.settings import Settings
from milvus_lab.targets.capabilities import Capability
from milvus_lab.verification import Verification


class Target(Protocol):
    """What a lab needs from where it runs."""

    name: str
    settings: Settings
    lab: str

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this target can do now (the local target's depend on its Milvus engine)."""

    def require(self, needs: frozenset[Capability]) -> None:
        """Provide what a lab needs if this target can (local: start the standalone engine); else do nothing."""

    def ensure_milvus(self) -> str:
        """Make sure Milvus answers; return the URI pymilvus uses from this machine."""

    def api_milvus_uri(self) -> str:
        """The Milvus URI as the search API replicas see it (in-cluster DNS on kube)."""

    def deploy(self, cfg: ApiConfig, replicas: int) -> list[str]:
        """Run `replicas` API processes/pods of `cfg` for its slot; wait until ready."""

    def scale(self, slot: str, replicas: int) -> list[str]:
        """Scale a deployed slot to `replicas` ready replicas without failing a request."""

    def route(self, weights: Mapping[str, int]) -> None:
        """Atomically send live traffic by weight (100 to one slot = blue-green switch)."""

    def set_preview(self, slot: str | None) -> None:
        """Point the preview route at a slot (test before it takes live traffic)."""

    def live_slots(self) -> list[str]:
        """Slots that take live traffic now."""

    def live_url(self) -> str:
        """Where users' traffic enters (router, or the Service's NodePort on kind)."""

    def preview_url(self) -> str:
        """Where the preview route answers."""

    def plan(self, deployments: Sequence[tuple[ApiConfig, int]]) -> list[Verification]:
        """For `--dry-run`: validate what deploying these would do, changing nothing."""

    def retire(self, slot: str) -> None:
        """Stop a slot's replicas (after the scale-down delay)."""

    def teardown(self) -> None:
        """Stop everything this target started for the lab (data is kept)."""

    def cleanup(self) -> None:
        """Remove what the lab made on this target (kube: delete by label)."""

    def describe(self) -> dict[str, str]:
        """A few facts for the settings table."""
