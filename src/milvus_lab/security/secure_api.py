"""The search API as lab 05 serves it: HTTPS, API keys, Milvus over mutual TLS as its own
least-privileged user, behind the router; and the moves of a certificate rotation.

A rotation without downtime is blue-green with a new certificate: new replicas start with a
new serving pair from the same CA, the router switches to them, the old ones stop. The
lesson keeps that order visible; this module holds the configuration and process plumbing.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import replace
from pathlib import Path

from cryptography import x509

from milvus_lab import pki
from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig
from milvus_lab.app.replicas import Replica
from milvus_lab.load import locustfile, start_locust
from milvus_lab.load.runner import LocustRun
from milvus_lab.milvus import datasets
from milvus_lab.router.client import RouterClient, ensure_router, stop_router
from milvus_lab.router.table import RoutingTable
from milvus_lab.security.apikeys import KeyStore
from milvus_lab.security.lab_files import LabFiles
from milvus_lab.security.workloads import ALIAS, DATA
from milvus_lab.settings import Settings


def api_config(milvus: Settings, files: LabFiles, store: KeyStore, tls: pki.ServicePki) -> ApiConfig:
    """Blue replicas: HTTPS with `tls`'s server pair, API keys from `store`, the audit chain,
    Milvus (`milvus`: the engine in mutual TLS) as the user whose token is in `files`."""
    from milvus_lab.milvus import standalone

    milvus_tls = standalone.client_tls(milvus)
    return ApiConfig(
        slot="blue", version="v1", milvus_uri=standalone.uri(milvus), collection=ALIAS, dim=DATA.dim,
        milvus_token_file=str(files.milvus_token), milvus_tls=milvus_tls.to_json() if milvus_tls else "",
        api_keys_file=str(store.path), api_key_pepper_file=str(store.pepper_path),
        audit_log=str(files.audit_log), audit_key_file=str(files.audit_key),
        tls_cert=str(tls.server.cert), tls_key=str(tls.server.key),
    )


def route_all(router: RouterClient, slot: str, backends: list[Replica]) -> None:
    router.put(RoutingTable({slot: tuple(r.url for r in backends)}, {slot: 100}))


def serve(settings: Settings, cfg: ApiConfig, ca: Path, count: int = 2) -> RouterClient:
    """`count` HTTPS replicas of `cfg` behind our router (which trusts `ca` for its backends)."""
    blue = replicas.start_replicas(settings, cfg, count)
    router = ensure_router(settings, ca_file=ca)
    route_all(router, cfg.slot, blue)
    return router


def stop(settings: Settings) -> None:
    """Every API replica (all slots) and the router; keys, logs and data stay."""
    replicas.stop_replicas(settings)
    stop_router(settings)


def keyed_load(settings: Settings, url: str, users: int, key_file: Path) -> LocustRun:
    """Locust with every user carrying the key in `key_file` (4 searches/s each)."""
    return start_locust(
        locustfile("secure_search"), url, users=users, spawn_rate=users, run_time_s=None,
        out_dir=settings.path("load", "05"),
        env={"MILVUS_LAB_DATASET_DIR": str(datasets.dataset_dir(settings, DATA.name)),
             "MILVUS_LAB_API_KEY_FILE": str(key_file), "MILVUS_LAB_USER_RPS": "4"},
    )


def expiry_line(tls: pki.ServicePki, within_days: float = 365) -> str:
    """Days left on the serving and CA certificates (the ones a rotation plan watches)."""
    expiring = pki.check_expiry([tls.server.cert, tls.ca.cert], within_days=within_days)
    return ", ".join(f"{e.subject} {e.days_left:.0f} d" for e in expiring)


def start_green(settings: Settings, cfg: ApiConfig, tls: pki.ServicePki,
                count: int = 2) -> tuple[pki.Pair, list[Replica]]:
    """A NEW serving pair from the same CA and `count` green replicas serving it (ready)."""
    pair = pki.rotate_server(tls, generation=int(time.time()))
    green_cfg = replace(cfg, slot="green", tls_cert=str(pair.cert), tls_key=str(pair.key))
    return pair, replicas.start_replicas(settings, green_cfg, count)


def serves(port: int, pair: pki.Pair) -> bool:
    """Does the server on 127.0.0.1:`port` present `pair`'s certificate?"""
    served = ssl.get_server_certificate(("127.0.0.1", port))
    return (x509.load_pem_x509_certificate(served.encode()).serial_number
            == pair.certificate().serial_number)
