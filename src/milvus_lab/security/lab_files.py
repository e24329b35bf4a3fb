"""Where lab 05 keeps what it must not print: one 0700 directory of secrets (Milvus token,
API-key digests and pepper, the audit key, the API's TLS files, keys shown once) and the
audit log next to the state, so a re-run finds the same keys and extends the same chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LabFiles:
    secrets: Path
    audit_log: Path

    @classmethod
    def under(cls, state_dir: Path) -> LabFiles:
        files = cls(state_dir / "secrets" / "lab05", state_dir / "audit" / "lab05.jsonl")
        files.secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
        return files

    @property
    def milvus_token(self) -> Path:
        """The search API's "user:password" for Milvus (a mounted Secret on kube)."""
        return self.secrets / "milvus-search-api.token"

    @property
    def audit_key(self) -> Path:
        return self.secrets / "audit.key"

    @property
    def keys(self) -> Path:
        """New API keys, each written once to a 0600 file (the screen shows the id only)."""
        return self.secrets / "keys"

    @property
    def api_tls(self) -> Path:
        return self.secrets / "api-tls"
