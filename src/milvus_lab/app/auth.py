"""API-key authentication for the search API (lab 05): a FastAPI dependency per scope.

Off unless `api_keys_file` is set, so labs 01-04 run unchanged. Failures (401/403) go to
the audit chain with the key id (never the key), the client address and the path; 429s
are counted, not audited (a flood must not flood the log). Probes and /metrics stay open.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import Header, HTTPException, Request

from milvus_lab.app.config import ApiConfig
from milvus_lab.security.apikeys import Decision, Verifier, bearer
from milvus_lab.security.audit import AuditLog


class ApiAuth:
    """The replica's verifier and audit writer."""

    def __init__(self, cfg: ApiConfig, on_deny: Callable[[str, int], None] | None = None) -> None:
        self.on_deny = on_deny
        self.enabled = bool(cfg.api_keys_file)
        self.verifier = (
            Verifier.from_files(Path(cfg.api_keys_file), Path(cfg.api_key_pepper_file))
            if self.enabled else None
        )
        self.audit = (
            AuditLog.open(Path(cfg.audit_log), Path(cfg.audit_key_file))
            if cfg.audit_log and cfg.audit_key_file else None
        )
        self.actor = f"search-api/{cfg.replica or cfg.served_by}"

    def record(self, decision: Decision, request: Request, scope: str) -> None:
        if self.audit is None or decision.status == 429:
            return
        self.audit.append(
            decision.owner or "anonymous", "api.auth" if not decision.ok else f"api.{scope}",
            "allowed" if decision.ok else "denied",
            status=decision.status, reason=decision.reason, key_id=decision.key_id,
            path=request.url.path, client=request.client.host if request.client else "",
            replica=self.actor,
        )

    def key_metadata(self) -> list[dict[str, object]]:
        if self.verifier is None:
            return []
        store = self.verifier.snapshot()
        now = self.verifier.clock()
        return [rec.public(now) for rec in store.values()]

    def require(self, scope: str) -> Callable[..., Decision | None]:
        """A dependency: the request's key must be valid, active, scoped and within its rate."""

        def dependency(
            request: Request,
            authorization: str | None = Header(None),
            x_api_key: str | None = Header(None),
        ) -> Decision | None:
            if self.verifier is None:
                return None
            decision = self.verifier.check(bearer(authorization, x_api_key), scope)
            if not decision.ok:
                self.record(decision, request, scope)
                if self.on_deny:
                    self.on_deny(request.url.path, decision.status)
                headers = {"WWW-Authenticate": "Bearer"} if decision.status == 401 else {}
                if decision.status == 429:
                    headers = {"Retry-After": f"{max(1, round(decision.retry_after))}"}
                raise HTTPException(decision.status, decision.reason, headers=headers)
            if scope == "admin":  # every admin action is audited, not only failures
                self.record(decision, request, scope)
            return decision

        return dependency
