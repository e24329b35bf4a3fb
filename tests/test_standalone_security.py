"""The standalone engine's security and metrics, against the real Milvus 2.3.5 binary.

One server with authentication and mutual TLS serves the module. Negative TLS cases run
in a fresh Python process each: pymilvus reuses the first secure channel of a process, so
a refusal tested after a success in the same process would prove nothing.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymilvus import MilvusException

from milvus_lab.milvus import collections, standalone
from milvus_lab.milvus.client import TlsClient, connect
from milvus_lab.testing.standalone_fixtures import StandaloneServer

pytestmark = pytest.mark.slow


def _probe(uri: str, token: str, tls: TlsClient | None) -> dict[str, str]:
    """list_collections from a new process: {"ok": ...} or {"error", "message", "cause"}.

    `cause` is the server's own answer (gRPC status and details) under pymilvus's generic
    "Fail connecting" wrapper.
    """
    code = (
        "import json, sys\n"
        "from milvus_lab.milvus.client import TlsClient, connect\n"
        "uri, token, tls = sys.argv[1], sys.argv[2], TlsClient.from_json(sys.argv[3])\n"
        "try:\n"
        "    c = connect(uri, token=token, tls=tls, timeout=8)\n"
        "    print(json.dumps({'ok': str(c.list_collections(timeout=8))}))\n"
        "except Exception as exc:\n"
        "    cause = exc.__cause__\n"
        "    detail = f'{cause.code()}: {cause.details()}' if hasattr(cause, 'details') else repr(cause)\n"
        "    print(json.dumps({'error': type(exc).__name__, 'message': str(exc), 'cause': detail}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, uri, token, tls.to_json() if tls else ""],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"probe printed nothing: {proc.stdout[-500:]} {proc.stderr[-1500:]}"
    return json.loads(lines[-1])


def test_root_works_with_the_generated_password_which_is_private(secure_standalone: StandaloneServer) -> None:
    ep = secure_standalone.endpoint
    assert ep.token.startswith("root:") and ep.token != "root:Milvus"
    password_file = standalone.password_file(secure_standalone.settings)
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert (password_file.parent.stat().st_mode & 0o777) == 0o700
    client = ep.client()
    try:
        assert isinstance(client.list_collections(), list)
    finally:
        client.close()
    log = standalone.base_dir(secure_standalone.settings).parent / "logs" / f"{standalone.NAME}.log"
    assert ep.token.split(":", 1)[1] not in log.read_text(errors="replace"), "password leaked into the log"


def test_wrong_password_and_default_password_are_refused_by_milvus(secure_standalone: StandaloneServer) -> None:
    ep = secure_standalone.endpoint
    for token in ("root:wrong-password", "root:Milvus"):
        result = _probe(ep.uri, token, ep.tls)
        assert "ok" not in result, f"{token.split(':')[1]!r} was accepted"
        # Milvus's own words, under pymilvus's generic wrapper
        assert "UNAUTHENTICATED" in result["cause"] and "auth check failure" in result["cause"], result


def test_a_user_without_a_grant_is_refused_with_milvus_own_error(secure_standalone: StandaloneServer) -> None:
    ep = secure_standalone.endpoint
    admin = ep.client()
    try:
        admin.create_collection("rbac_probe", dimension=4)
        if "alice" in admin.list_users():
            admin.drop_user("alice")
        admin.create_user("alice", "Alice-pass-123")
        alice = connect(ep.uri, token="alice:Alice-pass-123", tls=ep.tls, timeout=10)
        try:
            # pymilvus 3 lets the gRPC error through here; either way the text is Milvus's own
            with pytest.raises((MilvusException, grpc.RpcError)) as refused:
                alice.insert("rbac_probe", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
            assert "PrivilegeInsert: permission deny to alice" in str(refused.value), refused.value
        finally:
            alice.close()
    finally:
        admin.drop_user("alice")
        collections.drop_collection(admin, "rbac_probe")
        admin.close()


def test_plaintext_is_refused_in_tls_mode(secure_standalone: StandaloneServer) -> None:
    ep = secure_standalone.endpoint
    plain = ep.uri.replace("https://", "http://")
    result = _probe(plain, ep.token, None)
    assert "ok" not in result, "a plaintext client got in"


def test_a_client_without_a_certificate_is_refused_in_mutual_mode(secure_standalone: StandaloneServer) -> None:
    ep = secure_standalone.endpoint
    assert ep.tls is not None and ep.tls.mode == 2
    one_way = TlsClient(1, ep.tls.ca_pem_path, server_name=ep.tls.server_name)
    result = _probe(ep.uri, ep.token, one_way)
    assert "ok" not in result, "a client without a certificate got in"
    assert "ok" in _probe(ep.uri, ep.token, ep.tls), "the lab's own client certificate must get in"


def test_tls_handshake_presents_the_lab_ca_signed_server_certificate(secure_standalone: StandaloneServer) -> None:
    ep = secure_standalone.endpoint
    assert ep.tls is not None
    ctx = ssl.create_default_context(cafile=ep.tls.ca_pem_path)
    ctx.load_cert_chain(ep.tls.client_pem_path, ep.tls.client_key_path)
    ctx.set_alpn_protocols(["h2"])
    import socket

    with socket.create_connection(("127.0.0.1", secure_standalone.settings.standalone_port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=ep.tls.server_name) as tls:
        cert = tls.getpeercert()
    subject = dict(item[0] for item in cert["subject"])
    assert subject["commonName"] == ep.tls.server_name and subject["organizationName"] == "milvus-lab"
    stranger = ssl.create_default_context()  # the system CAs do not know the lab CA
    with socket.create_connection(("127.0.0.1", secure_standalone.settings.standalone_port), timeout=10) as raw, \
            pytest.raises(ssl.SSLCertVerificationError):
        stranger.wrap_socket(raw, server_hostname=ep.tls.server_name)


def test_metrics_port_serves_prometheus_text_in_milliseconds(secure_standalone: StandaloneServer) -> None:
    ep = secure_standalone.endpoint
    client = ep.client()
    try:  # make some search traffic so the latency families have series
        client.create_collection("metrics_probe", dimension=4)
        client.insert("metrics_probe", [{"id": i, "vector": [i, 1.0, 0.5, 0.25]} for i in range(10)])
        for _ in range(5):
            client.search("metrics_probe", [[1.0, 1.0, 0.5, 0.25]], limit=3)
    finally:
        collections.drop_collection(client, "metrics_probe")
        client.close()
    port = secure_standalone.settings.standalone_metrics_port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert len(families) > 100, f"only {len(families)} metric families"
    search = [s for s in families["milvus_proxy_sq_latency"].samples
              if s.labels.get("query_type") == "search" and s.name.endswith("_count")]
    assert search and sum(s.value for s in search) >= 5, search
    assert standalone.healthy(port)
