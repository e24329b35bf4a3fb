"""One Settings object, read from MILVUS_LAB_* environment variables and CLI flags.

Everything a lab needs to know about where it runs lives here, so no module hard-codes
an endpoint, a port or a path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from milvus_lab.errors import PrerequisiteError

TARGETS = ("local", "compose", "kube")
ENGINES = ("lite", "standalone")  # Milvus on the local target: Milvus Lite, or the real 2.3.5 binary
TLS_MODES = (0, 1, 2)  # Milvus's common.security.tlsMode: off, one-way, mutual


def find_repo_root(start: Path | None = None) -> Path:
    """The checkout (pyproject.toml + step05_production/), else the current directory.

    Labs find `solutions/`, `labs/` and `loadtests/` there whatever directory they are
    started from.
    """
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "step05_production").is_dir():
            return candidate
    package_repo = Path(__file__).resolve().parents[2]
    if (package_repo / "step05_production").is_dir():
        return package_repo
    return here


def _home_from_env() -> Path | None:
    home = os.environ.get("MILVUS_LAB_HOME")
    return Path(home).resolve() if home else None


@dataclass(frozen=True)
class Settings:
    """Where a lab runs and what it talks to. Immutable: derive a changed copy with `with_()`."""

    target: str = "local"
    milvus: str = "lite"  # the Milvus engine on the local target (MILVUS_LAB_MILVUS)
    repo_root: Path = field(default_factory=find_repo_root)
    milvus_host: str = "127.0.0.1"
    milvus_port: int = 19530
    router_port: int = 8080
    router_control_port: int = 8081
    kube_context: str | None = None
    namespace: str = "milvus-lab"
    dim: int = 128
    # the standalone engine's pinned ports (all < 32768:
    # the kernel's ephemeral range starts there) and security switches
    standalone_port: int = 19540  # gRPC (proxy) port clients use
    standalone_metrics_port: int = 19591  # /metrics and /healthz (plain HTTP)
    standalone_internal_ports: int = 19550  # first of 10: etcd client/peer, coordinators, nodes
    standalone_auth: bool = False  # common.security.authorizationEnabled
    standalone_tls: int = 0  # common.security.tlsMode
    # MILVUS_LAB_HOME, read once when the Settings is made: a Settings keeps pointing at the
    # same state whatever the environment does later (a test fixture's, a lab's)
    home: Path | None = field(default_factory=_home_from_env)

    @property
    def state_dir(self) -> Path:
        """Runtime state (data, logs, pids, reports): `$MILVUS_LAB_HOME/.milvus-lab`, else in the repo.

        Tests point MILVUS_LAB_HOME at a temp dir so they never touch a user's state.
        """
        return (self.home or self.repo_root) / ".milvus-lab"

    @property
    def milvus_uri(self) -> str:
        return f"http://{self.milvus_host}:{self.milvus_port}"

    @property
    def router_url(self) -> str:
        return f"http://127.0.0.1:{self.router_port}"

    @property
    def router_control_url(self) -> str:
        return f"http://127.0.0.1:{self.router_control_port}"

    def path(self, *parts: str) -> Path:
        """A path under `.milvus-lab/`, its parent created."""
        p = self.state_dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from MILVUS_LAB_<FIELD> variables, then explicit (non-None) overrides."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"MILVUS_LAB_{f.name.upper()}")
            if raw is None or f.name in ("repo_root", "home"):
                continue
            values[f.name] = _parse(f.name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def pinned_ports(self) -> dict[str, int]:
        """Setting name -> port, for the checks and for choosing other ports around them."""
        return {"milvus_port": self.milvus_port, "router_port": self.router_port,
                "router_control_port": self.router_control_port,
                "standalone_port": self.standalone_port,
                "standalone_metrics_port": self.standalone_metrics_port}

    def validate(self) -> None:
        """Refuse values nothing could run with, before anything starts (PrerequisiteError)."""
        if self.target not in TARGETS:
            raise PrerequisiteError(
                f"unknown target {self.target!r}",
                fix=f"use --target one of {', '.join(TARGETS)} (or MILVUS_LAB_TARGET)",
            )
        ports = self.pinned_ports()
        for name, port in ports.items():
            if not 1 <= port <= 65535:
                raise PrerequisiteError(
                    f"MILVUS_LAB_{name.upper()}={port} is not a usable TCP port",
                    fix=f"export MILVUS_LAB_{name.upper()}=<1-65535> (e.g. {getattr(Settings, name)}) or unset it",
                )
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                raise PrerequisiteError(
                    f"MILVUS_LAB_{name.upper()} and MILVUS_LAB_{seen[port].upper()} are both {port}",
                    fix="give Milvus, the router, its control port and the standalone engine different ports",
                )
            seen[port] = name
        if self.dim < 1:
            raise PrerequisiteError(f"MILVUS_LAB_DIM={self.dim} is not a dimension",
                                    fix="export MILVUS_LAB_DIM=<integer >= 1> (default 128) or unset it")
        if self.milvus not in ENGINES:
            raise PrerequisiteError(
                f"unknown Milvus engine {self.milvus!r}",
                fix=f"use --milvus one of {', '.join(ENGINES)} (or MILVUS_LAB_MILVUS)",
            )
        if self.standalone_tls not in TLS_MODES:
            raise PrerequisiteError(
                f"MILVUS_LAB_STANDALONE_TLS={self.standalone_tls} is not a TLS mode",
                fix="use 0 (off), 1 (one-way) or 2 (mutual)",
            )


def _parse(name: str, raw: str, type_: object) -> object:
    if "bool" in str(type_):
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise PrerequisiteError(
            f"MILVUS_LAB_{name.upper()}={raw!r} is not true or false",
            fix=f"export MILVUS_LAB_{name.upper()}=1 (or 0), or unset it",
        )
    if "int" in str(type_):
        try:
            return int(raw)
        except ValueError:
            raise PrerequisiteError(
                f"MILVUS_LAB_{name.upper()}={raw!r} is not a number",
                fix=f"export MILVUS_LAB_{name.upper()}=<integer> or unset it",
            ) from None
    return raw
