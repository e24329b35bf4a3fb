"""The TLS lesson's evidence: who gets into Milvus in one-way and in mutual TLS.

Each attempt runs in a fresh process (`tls_probe`): pymilvus reuses the first secure channel
of a process, so a second attempt in the same process would prove nothing. The raw
handshake says *why* a certificate-less client is refused (TLS 1.3 reports it on first read).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from milvus_lab.security.tls_probe import ProbeResult, handshake, probe
from milvus_lab.settings import Settings


@dataclass(frozen=True)
class OneWay:
    """tlsMode 1: plaintext refused, a client that trusts our CA gets in."""

    plaintext: ProbeResult
    with_ca: ProbeResult

    def section(self) -> dict[str, object]:
        return {"plaintext_refused": not self.plaintext.ok, "plaintext_error": self.plaintext.error,
                "ca_client_ok": self.with_ca.ok}


@dataclass(frozen=True)
class Mutual:
    """tlsMode 2: only a client with our client certificate gets in."""

    no_cert: ProbeResult
    with_cert: ProbeResult
    plaintext: ProbeResult
    reason: ProbeResult  # the raw handshake's error: why the certificate-less client was refused

    @property
    def certless_error(self) -> str:
        return self.reason.error or self.no_cert.error

    def section(self) -> dict[str, object]:
        return {"certless_refused": not self.no_cert.ok, "reason": self.reason.error,
                "plaintext_refused": not self.plaintext.ok, "client_cert_ok": self.with_cert.ok}


def one_way(settings: Settings) -> OneWay:
    from milvus_lab.milvus import standalone

    tls = standalone.client_tls(settings)
    assert tls is not None, "one_way needs the engine in TLS mode 1"
    uri, root = standalone.uri(settings), standalone.root_token(settings)
    return OneWay(probe(uri, root), probe(uri, root, ca=Path(tls.ca_pem_path), server_name=tls.server_name))


def mutual(settings: Settings) -> Mutual:
    from milvus_lab.milvus import standalone

    tls = standalone.client_tls(settings)
    assert tls is not None, "mutual needs the engine in TLS mode 2"
    uri, root, ca = standalone.uri(settings), standalone.root_token(settings), Path(tls.ca_pem_path)
    return Mutual(
        no_cert=probe(uri, root, ca=ca, server_name=tls.server_name),
        with_cert=probe(uri, root, ca=ca, cert=Path(tls.client_pem_path), key=Path(tls.client_key_path),
                        server_name=tls.server_name),
        plaintext=probe(uri, root),
        reason=handshake("127.0.0.1", settings.standalone_port, ca, server_name=tls.server_name),
    )


@dataclass(frozen=True)
class TlsVerdict:
    held: bool
    observed: str


def judge(one: OneWay, two: Mutual) -> TlsVerdict:
    """Only clients with our CA (and, in mode 2, our client certificate) connect."""
    plaintext_refused = not one.plaintext.ok and not two.plaintext.ok
    held = plaintext_refused and one.with_ca.ok and not two.no_cert.ok and two.with_cert.ok
    return TlsVerdict(held, f"plaintext refused {plaintext_refused}, one-way ok {one.with_ca.ok}, "
                            f"cert-less refused {not two.no_cert.ok}, mutual ok {two.with_cert.ok}")
