"""The local target's two Milvus engines behind one interface.

`lite` (default): Milvus Lite's gRPC server, starts in under a second, every platform, but
no authentication, TLS, Milvus metrics or alias rules. `standalone`: the real Milvus 2.3.5
binary (RBAC, TLS, Prometheus metrics, real alias rules, ~6x faster search), Linux x86_64
and macOS arm64 only. The rest of the library asks an engine for an endpoint (uri, token,
TLS client parameters) and for its capabilities, never for its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from milvus_lab import processes
from milvus_lab.milvus import server, standalone
from milvus_lab.milvus.server import MilvusEndpoint
from milvus_lab.settings import Settings
from milvus_lab.targets.capabilities import Capability

# what only the real server offers (Milvus Lite lets drop_collection remove an aliased collection)
STANDALONE_CAPABILITIES = frozenset({Capability.MILVUS_AUTH, Capability.MILVUS_TLS,
                                     Capability.MILVUS_METRICS, Capability.ALIAS_RULES})


@dataclass(frozen=True)
class EngineStatus:
    """One row of `milvus-lab status`."""

    engine: str
    state: str  # running | dead (stale) | stopped
    pid: int | None
    uri: str
    detail: str


class MilvusEngine(Protocol):
    """What the local target needs from a Milvus engine."""

    name: str
    settings: Settings

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    def ensure(self) -> MilvusEndpoint:
        """Reuse our running engine or start it; wait until it answers (exit 2 when it cannot)."""

    def endpoint(self) -> MilvusEndpoint:
        """How a client reaches the engine (uri, token, TLS), without starting anything."""

    def ports(self) -> dict[str, int]:
        """Every port it listens on, by a label starting with "Milvus" (for --dry-run's checks)."""

    def stop(self) -> bool:
        """Stop it gracefully (data kept); True when one was running."""

    def status(self) -> EngineStatus: ...


class LiteEngine:
    name = "lite"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset()

    def ensure(self) -> MilvusEndpoint:
        return server.ensure_server(self.settings)

    def endpoint(self) -> MilvusEndpoint:
        rec = processes.read_record(self.settings, server.SERVER_NAME)
        return MilvusEndpoint(self.settings.milvus_uri, rec.pid if rec else None, False,
                              server.data_dir(self.settings))

    def ports(self) -> dict[str, int]:
        return {"Milvus": self.settings.milvus_port}

    def stop(self) -> bool:
        return server.stop_server(self.settings)

    def status(self) -> EngineStatus:
        rec = processes.read_record(self.settings, server.SERVER_NAME)
        state = "stopped" if rec is None else "running" if rec.alive() else "dead (stale)"
        return EngineStatus(self.name, state, rec.pid if rec else None, self.settings.milvus_uri,
                            f"data {server.data_dir(self.settings)}")


class StandaloneEngine:
    name = "standalone"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def capabilities(self) -> frozenset[Capability]:
        return STANDALONE_CAPABILITIES

    def ensure(self) -> MilvusEndpoint:
        return standalone.ensure_standalone(self.settings)

    def endpoint(self) -> MilvusEndpoint:
        rec = processes.read_record(self.settings, standalone.NAME)
        settings = standalone.running_settings(self.settings, rec) if rec else self.settings
        return standalone.endpoint(settings, rec.pid if rec else None)

    def ports(self) -> dict[str, int]:
        named = standalone.StandalonePorts.from_settings(self.settings).named()
        return {f"Milvus {name.replace('_', ' ')}": port for name, port in named.items()}

    def stop(self) -> bool:
        return standalone.stop_standalone(self.settings)

    def status(self) -> EngineStatus:
        st = standalone.status(self.settings)
        tls = {0: "off", 1: "one-way", 2: "mutual"}[st.tls]
        detail = (f"metrics http://127.0.0.1:{st.metrics_port}/metrics "
                  f"({'healthy' if st.healthy else 'not healthy'}), " if st.metrics_port else "")
        detail += f"auth {'on' if st.auth else 'off'}, TLS {tls}, data {st.data_dir}"
        return EngineStatus(self.name, st.state, st.pid, standalone.uri(self.settings), detail)


ENGINES: dict[str, type[LiteEngine] | type[StandaloneEngine]] = {
    "lite": LiteEngine, "standalone": StandaloneEngine}


def get_engine(settings: Settings, name: str | None = None) -> MilvusEngine:
    """The engine `settings.milvus` (or `name`) selects."""
    return ENGINES[name or settings.milvus](settings)


def all_engines(settings: Settings) -> list[MilvusEngine]:
    return [cls(settings) for cls in ENGINES.values()]
