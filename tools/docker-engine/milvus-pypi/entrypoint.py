"""Start the Milvus 2.3.5 standalone binary from PyPI's `milvus` package as PID 1.

Applies the fixes the package's own launcher lacks (shared/reference notes): every port
set explicitly, the embedded etcd bound where we say (its own config file), every
component registered on 127.0.0.1, a short queryNode graceful stop. Then exec's the
binary so `docker stop` sends SIGTERM straight to Milvus (it ends with
"panic: context canceled", exit 134, after every component stopped: a clean stop).

`--healthcheck`: exit 0 when GET /healthz on the metrics port answers 200.
"""

import os
import sys
import urllib.request
from pathlib import Path

BIN_DIR = "/opt/milvus/bin"


def env_int(name: str) -> int:
    return int(os.environ[name])


def healthcheck() -> int:
    url = f"http://127.0.0.1:{env_int('MILVUS_METRICS_PORT')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as resp:
            return 0 if resp.status == 200 else 1
    except OSError:
        return 1


def main() -> None:
    from milvus import MilvusServerConfig

    data_dir = Path(os.environ["MILVUS_DATA_DIR"])
    base = env_int("MILVUS_INTERNAL_PORT_BASE")
    ports = {
        "proxy_port": env_int("MILVUS_PORT"),
        "proxy_internal_port": base, "root_coord_port": base + 1, "query_coord_port": base + 2,
        "query_node_port": base + 3, "index_coord_port": base + 4, "index_node_port": base + 5,
        "data_coord_port": base + 6, "data_node_port": base + 7, "etcd_port": base + 8,
    }
    etcd_peer = base + 9
    cfg = MilvusServerConfig(data_dir=str(data_dir), **ports)
    for key in ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode"):
        cfg.set(f"{key}.ip", "127.0.0.1")
    cfg.resolve()  # writes configs/milvus.yaml (ports, data paths)
    etcd_yaml = data_dir / "configs" / "etcd.yaml"
    client_url, peer_url = f"http://127.0.0.1:{ports['etcd_port']}", f"http://127.0.0.1:{etcd_peer}"
    etcd_yaml.write_text(
        "name: milvus-lab\n"
        f"data-dir: {data_dir / 'data' / 'etcd.data'}\n"
        f"listen-client-urls: {client_url}\nadvertise-client-urls: {client_url}\n"
        f"listen-peer-urls: {peer_url}\ninitial-advertise-peer-urls: {peer_url}\n"
        f"initial-cluster: milvus-lab={peer_url}\n"
    )
    env = dict(os.environ)
    env.update({
        "DEPLOY_MODE": "STANDALONE",
        "METRICS_PORT": os.environ["MILVUS_METRICS_PORT"],
        "MILVUS_RUN_DIR": str(data_dir / "run"),
        "LD_LIBRARY_PATH": BIN_DIR,
        "ETCD_CONFIG_PATH": str(etcd_yaml),
        "QUERYNODE_GRACEFULSTOPTIMEOUT": os.environ.get("MILVUS_GRACEFUL_STOP_SECONDS", "5"),
    })
    for key in ("ROOTCOORD", "PROXY", "QUERYCOORD", "QUERYNODE", "INDEXNODE", "DATACOORD", "DATANODE"):
        env[f"{key}_IP"] = "127.0.0.1"
    os.chdir(data_dir)
    print(f"milvus-pypi 2.3.5: gRPC 127.0.0.1:{ports['proxy_port']}, /healthz on "
          f":{env['METRICS_PORT']}, internal ports {base}-{etcd_peer}, data {data_dir}", flush=True)
    os.execve(f"{BIN_DIR}/milvus", [f"{BIN_DIR}/milvus", "run", "standalone"], env)


if __name__ == "__main__":
    if sys.argv[1:] == ["--healthcheck"]:
        raise SystemExit(healthcheck())
    main()
