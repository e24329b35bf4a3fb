"""A small PKI for the labs and the test control plane: a CA, server and client certificates.

Why one module: Milvus TLS (one-way and mutual), the search API over HTTPS and the kube
test environment all need the same three things (a CA, a serving certificate with the
right SANs, client certificates), plus an expiry check and a rotation that writes the
new pair next to the old one so running servers keep theirs until they are replaced.

Keys are ECDSA P-256 (generation is instant) and are written 0600; nothing here ever
prints key material.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Certificates start a few minutes in the past so a slightly slow clock accepts them.
BACKDATE = dt.timedelta(minutes=5)
SECRET_MODE = 0o600

PrivateKey = ec.EllipticCurvePrivateKey


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def pem_public_key(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_private(path: Path, data: bytes, mode: int = SECRET_MODE) -> Path:
    """Write atomically with `mode` set before any byte lands (no world-readable window)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.chmod(mode)
    tmp.replace(path)
    return path


def new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


@dataclass(frozen=True)
class Pair:
    """A certificate and its key on disk."""

    cert: Path
    key: Path

    def certificate(self) -> x509.Certificate:
        return load_cert(self.cert)


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA that issues server and client certificates."""

    key: PrivateKey
    cert: x509.Certificate

    @property
    def subject(self) -> x509.Name:
        return self.cert.subject

    @classmethod
    def create(cls, cn: str, days: float = 30) -> CertificateAuthority:
        key = new_key()
        subject = name(cn)
        start = now() - BACKDATE
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def load(cls, pair: Pair) -> CertificateAuthority:
        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{pair.key} is not an EC private key")
        return cls(key, load_cert(pair.cert))

    def save(self, directory: Path, stem: str, cert_mode: int = SECRET_MODE) -> Pair:
        return save_pair(directory, stem, self.cert, self.key, cert_mode)

    def issue(
        self,
        subject: x509.Name,
        *,
        server: bool,
        dns_names: Sequence[str] = (),
        ips: Sequence[str] = (),
        days: float = 30,
        not_before: dt.datetime | None = None,
    ) -> tuple[x509.Certificate, PrivateKey]:
        """A leaf certificate for a server (SANs) or a client (clientAuth)."""
        key = new_key()
        start = not_before or (now() - BACKDATE)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key


def save_pair(
    directory: Path, stem: str, cert: x509.Certificate, key: PrivateKey,
    cert_mode: int = SECRET_MODE,
) -> Pair:
    """`<stem>.crt` and `<stem>.key` in `directory` (the key always 0600)."""
    return Pair(
        write_private(directory / f"{stem}.crt", pem_cert(cert), cert_mode),
        write_private(directory / f"{stem}.key", pem_key(key)),
    )


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


# --------------------------------------------------------------------------- expiry


@dataclass(frozen=True)
class Expiry:
    """How long a certificate has left (negative: expired)."""

    path: Path
    subject: str
    not_after: dt.datetime
    days_left: float

    def expiring(self, within_days: float) -> bool:
        return self.days_left < within_days


def expiry(path: Path, at: dt.datetime | None = None) -> Expiry:
    cert = load_cert(path)
    left = cert.not_valid_after_utc - (at or now())
    return Expiry(path, cert.subject.rfc4514_string(), cert.not_valid_after_utc,
                  left.total_seconds() / 86400)


def check_expiry(paths: Sequence[Path], within_days: float) -> list[Expiry]:
    """The certificates among `paths` that expire within `within_days` (rotate them)."""
    return [e for e in (expiry(p) for p in paths) if e.expiring(within_days)]


# --------------------------------------------------------------------------- the lab's PKI


@dataclass(frozen=True)
class ServicePki:
    """What a TLS-enabled service and its clients need: CA, server pair, client pair."""

    ca: Pair
    server: Pair
    client: Pair
    server_name: str


def service_pki(
    directory: Path, *, server_name: str = "localhost", days: float = 30,
    client_cn: str = "milvus-lab-client",
) -> ServicePki:
    """A CA plus server (SAN `server_name`, localhost, 127.0.0.1) and client certificates.

    Reused when present and valid for more than a day, so re-running a lab keeps the
    certificates a running server already loaded.
    """
    ca_pair = Pair(directory / "ca.crt", directory / "ca.key")
    server = Pair(directory / "server.crt", directory / "server.key")
    client = Pair(directory / "client.crt", directory / "client.key")
    pairs = (ca_pair, server, client)
    if all(p.cert.is_file() and p.key.is_file() for p in pairs) and not check_expiry(
        [p.cert for p in pairs], 1.0
    ):
        return ServicePki(ca_pair, server, client, server_name)
    ca = CertificateAuthority.create("milvus-lab-ca", days=days * 2)
    ca.save(directory, "ca")
    issue_server(ca, directory, "server", server_name, days)
    cert, key = ca.issue(name(client_cn), server=False, days=days)
    save_pair(directory, "client", cert, key)
    return ServicePki(ca_pair, server, client, server_name)


def issue_server(
    ca: CertificateAuthority, directory: Path, stem: str, server_name: str, days: float = 30,
) -> Pair:
    """A serving certificate valid for `server_name`, localhost and 127.0.0.1."""
    dns = sorted({server_name, "localhost"})
    cert, key = ca.issue(name(server_name), server=True, dns_names=dns, ips=["127.0.0.1"],
                         days=days)
    return save_pair(directory, stem, cert, key)


def rotate_server(pki: ServicePki, generation: int, days: float = 30) -> Pair:
    """A NEW serving pair `server-gN` from the same CA, next to the old one.

    The old files stay: servers that loaded them keep serving until they are replaced
    (start new replicas with the new pair, switch traffic, stop the old ones).
    """
    ca = CertificateAuthority.load(pki.ca)
    return issue_server(ca, pki.server.cert.parent, f"server-g{generation}", pki.server_name, days)
