"""Try to reach a TLS-protected Milvus the way a (mis)configured client would, in a FRESH process.

Why a subprocess per attempt: pymilvus reuses the first secure gRPC channel inside one
process, so a second attempt with other credentials silently rides on the first one's
channel; a fresh interpreter is the only honest negative test. pymilvus's refusal text is
generic, so `handshake()` also opens a raw TLS connection with the stdlib `ssl` module to
show the real reason (certificate required, unknown CA, wrong protocol).

    python -m milvus_lab.security.tls_probe --uri http://127.0.0.1:19540 --token u:p \
        [--ca ca.pem [--cert client.pem --key client.key]] [--server-name localhost]
prints one JSON line: {"ok": bool, "error": "..."}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from milvus_lab.processes import python_argv


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    error: str


def probe(uri: str, token: str, ca: Path | None = None, cert: Path | None = None,
          key: Path | None = None, server_name: str = "localhost",
          timeout: float = 30.0) -> ProbeResult:
    """Run one connection attempt (list_collections) in a fresh Python process."""
    argv = python_argv("-m", "milvus_lab.security.tls_probe", "--uri", uri,
                       "--server-name", server_name)
    for flag, value in (("--ca", ca), ("--cert", cert), ("--key", key)):
        if value:
            argv += [flag, str(value)]
    env_token = {"MILVUS_LAB_PROBE_TOKEN": token}  # not in argv: `ps` would show it
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, **env_token})
    except subprocess.TimeoutExpired:
        return ProbeResult(False, f"no answer within {timeout:.0f} s")
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            data = json.loads(line)
            return ProbeResult(bool(data["ok"]), str(data["error"]))
    return ProbeResult(False, f"probe crashed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")


def handshake(host: str, port: int, ca: Path, cert: Path | None = None, key: Path | None = None,
              server_name: str = "localhost", timeout: float = 5.0) -> ProbeResult:
    """A raw TLS handshake (plus one read, where TLS 1.3 reports a missing client cert)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.set_alpn_protocols(["h2"])
    if cert and key:
        ctx.load_cert_chain(str(cert), str(key))
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            tls.settimeout(1.0)
            with contextlib.suppress(TimeoutError):
                tls.recv(1)  # the server's alert, if it refuses us after the handshake
            return ProbeResult(True, f"handshake ok ({tls.version()})")
    except ssl.SSLError as exc:
        return ProbeResult(False, exc.reason or str(exc))
    except OSError as exc:
        return ProbeResult(False, f"{type(exc).__name__}: {exc}")


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--ca")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--server-name", default="localhost")
    args = parser.parse_args(argv)
    from pymilvus import MilvusClient

    kwargs: dict[str, object] = {}
    uri = args.uri
    if args.ca:
        uri = uri.replace("http://", "https://")
        kwargs = {"secure": True, "server_name": args.server_name}
        if args.cert:
            kwargs.update(ca_pem_path=args.ca, client_pem_path=args.cert, client_key_path=args.key)
        else:
            kwargs["server_pem_path"] = args.ca
    try:
        client = MilvusClient(uri=uri, token=os.environ.get("MILVUS_LAB_PROBE_TOKEN", ""),
                              timeout=8, **kwargs)
        client.list_collections(timeout=8)
        result = {"ok": True, "error": ""}
    except Exception as exc:  # noqa: BLE001 - any refusal is the answer we report
        text = str(getattr(exc, "message", "") or exc).strip().splitlines()
        result = {"ok": False, "error": f"{type(exc).__name__}: {(text or [''])[0][:200]}"}
    print(json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip grpc's slow channel teardown


if __name__ == "__main__":
    sys.exit(_main())
