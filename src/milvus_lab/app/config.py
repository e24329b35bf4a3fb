"""The search API's configuration: environment variables, because replicas are processes
(and Kubernetes Pods) that get their settings from the environment."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

#: Paths only (never secrets themselves), passed as MILVUS_LAB_API_<FIELD> variables.
_SECURITY_FIELDS = (
    "api_keys_file", "api_key_pepper_file", "audit_log", "audit_key_file", "tls_cert",
    "tls_key", "milvus_token_file",
)


@dataclass(frozen=True)
class ApiConfig:
    """One replica's identity (slot, version, variant) and what it searches."""

    slot: str = "blue"
    version: str = "v1"
    variant: str = ""
    milvus_uri: str = "http://127.0.0.1:19530"
    milvus_token: str = ""
    milvus_tls: str = ""  # TlsClient as JSON (PEM paths) when Milvus requires TLS
    collection: str = "products"
    search_params: dict = field(default_factory=lambda: {"ef": 64})
    dim: int = 128
    timeout_s: float = 2.0
    fault_error_rate: float = 0.0  # lab 03's injected fault: fail this share of searches
    fault_latency_s: float = 0.0  # lab 06's latency regression: this much extra search time ...
    fault_latency_rate: float = 0.0  # ... on this share of searches
    replica: str = ""  # pod name on kube (downward API), process name locally
    # lab 05: API keys (hashes only) + the audit chain; empty = no authentication
    api_keys_file: str = ""
    api_key_pepper_file: str = ""
    audit_log: str = ""
    audit_key_file: str = ""
    # lab 05: HTTPS for the API itself (uvicorn --ssl-*) and TLS towards Milvus
    tls_cert: str = ""
    tls_key: str = ""
    milvus_token_file: str = ""  # "user:password" in a 0600 file (a mounted Secret on kube)
    experiment: str = ""  # lab 04: GrowthBook features JSON; the user's variant picks search params

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
            milvus_tls=e.get("MILVUS_LAB_MILVUS_TLS", ""),
            collection=e.get("MILVUS_LAB_API_COLLECTION", "products"),
            search_params=json.loads(e.get("MILVUS_LAB_API_SEARCH_PARAMS", '{"ef": 64}')),
            dim=int(e.get("MILVUS_LAB_DIM", "128")),
            timeout_s=float(e.get("MILVUS_LAB_API_TIMEOUT_S", "2.0")),
            fault_error_rate=float(e.get("MILVUS_LAB_API_FAULT_ERROR_RATE", "0")),
            fault_latency_s=float(e.get("MILVUS_LAB_API_FAULT_LATENCY_S", "0")),
            fault_latency_rate=float(e.get("MILVUS_LAB_API_FAULT_LATENCY_RATE", "0")),
            replica=e.get("MILVUS_LAB_API_REPLICA", ""),
            **{f: e.get(f"MILVUS_LAB_API_{f.upper()}", "") for f in _SECURITY_FIELDS},
            experiment=e.get("MILVUS_LAB_API_EXPERIMENT", ""),
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
        if self.fault_latency_s and self.fault_latency_rate:
            env["MILVUS_LAB_API_FAULT_LATENCY_S"] = str(self.fault_latency_s)
            env["MILVUS_LAB_API_FAULT_LATENCY_RATE"] = str(self.fault_latency_rate)
        if self.milvus_token:
            env["MILVUS_LAB_MILVUS_TOKEN"] = self.milvus_token
        env.update({f"MILVUS_LAB_API_{f.upper()}": getattr(self, f)
                    for f in _SECURITY_FIELDS if getattr(self, f)})
        if self.milvus_tls:
            env["MILVUS_LAB_MILVUS_TLS"] = self.milvus_tls
        if self.experiment:
            env["MILVUS_LAB_API_EXPERIMENT"] = self.experiment
        return env
