"""A tiny private CA: a CA, a server and a client certificate for TLS on loopback.

Milvus's TLS modes need PEM files (`tls.serverPemPath`, `tls.serverKeyPath`,
`tls.caPemPath`); a lab makes its own with `cryptography` instead of shelling out to
openssl. Keys and certificates go to the secrets directory with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from milvus_lab.secrets import write_secret

SERVER_NAME = "localhost"


@dataclass(frozen=True)
class TlsFiles:
    """Where the PEM files live (all 0600)."""

    directory: Path

    @property
    def ca_pem(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_pem(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def client_pem(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client.key"

    def complete(self) -> bool:
        return all(p.is_file() for p in (self.ca_pem, self.ca_key, self.server_pem,
                                         self.server_key, self.client_pem, self.client_key))


def _key():  # noqa: ANN202 - cryptography's key type
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:  # noqa: ANN001
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str):  # noqa: ANN202
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "milvus-lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def issue_ca(common_name: str = "milvus-lab CA", days: int = 825):  # noqa: ANN201
    """A self-signed CA key and certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def issue_leaf(ca_key, ca_cert, common_name: str, server: bool, days: int = 825):  # noqa: ANN001, ANN201
    """A key and certificate signed by the CA: serverAuth with loopback SANs, or clientAuth."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def ensure_tls_files(directory: Path) -> TlsFiles:
    """The CA, server and client PEM files in `directory`, generated once and reused."""
    from cryptography.hazmat.primitives import serialization

    files = TlsFiles(directory)
    if files.complete():
        return files
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    ca_key, ca_cert = issue_ca()
    server_key, server_cert = issue_leaf(ca_key, ca_cert, SERVER_NAME, server=True)
    client_key, client_cert = issue_leaf(ca_key, ca_cert, "milvus-lab client", server=False)
    write_secret(files.ca_key, _pem_key(ca_key))
    write_secret(files.server_key, _pem_key(server_key))
    write_secret(files.client_key, _pem_key(client_key))
    write_secret(files.server_pem, server_cert.public_bytes(pem))
    write_secret(files.client_pem, client_cert.public_bytes(pem))
    write_secret(files.ca_pem, ca_cert.public_bytes(pem))  # last: complete() means all six exist
    return files
