"""The search API's configuration: environment variables, because replicas are processes
(and Kubernetes Pods) that get their settings from the environment."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ApiConfig:
    """One replica's identity (slot, version, variant) and what it searches."""

    slot: str = "blue"
    version: str = "v1"
    variant: str = ""
    milvus_uri: str = "http://127.0.0.1:19530"
    milvus_token: str = ""
    collection: str = "products"
    search_params: dict = field(default_factory=lambda: {"ef": 64})
    dim: int = 128
    timeout_s: float = 2.0
    fault_error_rate: float = 0.0  # lab 03's injected fault: fail this share of searches
    replica: str = ""  # pod name on kube (downward API), process name locally

    @property
    def served_by(self) -> str:
        return f"{self.slot}/{self.version}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ApiConfig:
        e = os.environ if env is None else env
        return cls(
            slot=e.get("MILVUS_LAB_API_SLOT", "blue"),
            version=e.get("MILVUS_LAB_API_VERSION", "v1"),
            variant=e.get("MILVUS_LAB_API_VARIANT", ""),
            milvus_uri=e.get("MILVUS_LAB_MILVUS_URI", "http://127.0.0.1:19530"),
            milvus_token=e.get("MILVUS_LAB_MILVUS_TOKEN", ""),
            collection=e.get("MILVUS_LAB_API_COLLECTION", "products"),
            search_params=json.loads(e.get("MILVUS_LAB_API_SEARCH_PARAMS", '{"ef": 64}')),
            dim=int(e.get("MILVUS_LAB_DIM", "128")),
            timeout_s=float(e.get("MILVUS_LAB_API_TIMEOUT_S", "2.0")),
            fault_error_rate=float(e.get("MILVUS_LAB_API_FAULT_ERROR_RATE", "0")),
            replica=e.get("MILVUS_LAB_API_REPLICA", ""),
        )

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces this config in another process."""
        env = {
            "MILVUS_LAB_API_SLOT": self.slot,
            "MILVUS_LAB_API_VERSION": self.version,
            "MILVUS_LAB_API_VARIANT": self.variant,
            "MILVUS_LAB_MILVUS_URI": self.milvus_uri,
            "MILVUS_LAB_API_COLLECTION": self.collection,
            "MILVUS_LAB_API_SEARCH_PARAMS": json.dumps(self.search_params),
            "MILVUS_LAB_DIM": str(self.dim),
            "MILVUS_LAB_API_TIMEOUT_S": str(self.timeout_s),
            "MILVUS_LAB_API_FAULT_ERROR_RATE": str(self.fault_error_rate),
        }
        if self.milvus_token:
            env["MILVUS_LAB_MILVUS_TOKEN"] = self.milvus_token
        return env
