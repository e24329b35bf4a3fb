"""Docker for real: a private Docker Engine, images built without a registry, containers.

Needs a Docker Engine (``python -m milvus_lab.dockerenv up``, or DOCKER_HOST): without one
every test here skips with that command; MILVUS_LAB_REQUIRE_DOCKER=1 (CI) fails instead.

The Milvus in these containers is **Milvus 2.3.5**, the standalone binary from PyPI's
``milvus`` wheel, built into ``milvus-lab/milvus-pypi:2.3.5`` on the local Debian base. It
is NOT the official ``milvusdb/milvus:v2.6.15`` image users run with docker-compose.yml:
embedded etcd and local storage in one container, no 2.6-only APIs.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from milvus_lab.dockerenv import engine, images
from milvus_lab.milvus.client import varchar_index_type
from milvus_lab.processes import free_ports
from milvus_lab.testing.docker_fixtures import wait_http

pytestmark = pytest.mark.docker


# ---- pure logic (no engine) ---------------------------------------------------------
@pytest.mark.parametrize("flag", ["--iptables=false", "--bridge=none", "--ip-masq=false"])
def test_engine_keeps_to_itself(flag, tmp_path):
    """Own data root, exec root, socket and pid file; no iptables, no bridge."""
    p = engine.EnginePaths(tmp_path)
    argv = engine.dockerd_argv(p)
    assert flag in argv
    for opt, path in (("--data-root", p.data_root), ("--exec-root", p.exec_root / "exec"),
                      ("--pidfile", p.pidfile), ("--host", p.docker_host)):
        assert argv[argv.index(opt) + 1] == str(path)
    assert "/var/run/docker.sock" not in " ".join(argv)


def test_base_tag_follows_its_inputs(tmp_path):
    spec = images.BaseSpec()
    ca = tmp_path / "proxy.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    plain, with_ca = images.base_tag(spec, []), images.base_tag(spec, [ca])
    assert plain == images.base_tag(images.BaseSpec(), [])
    assert plain != with_ca
    assert plain != images.base_tag(images.BaseSpec(packages=(*images.BASE_PACKAGES, "curl")), [])
    assert plain.startswith("milvus-lab/debian-python:bookworm-")


def test_api_image_name_matches_target_kube():
    manifests = pytest.importorskip("milvus_lab.kube.manifests")
    assert images.API_IMAGE == manifests.API_IMAGE


# ---- the engine and the images ------------------------------------------------------
def test_engine_answers_and_is_not_the_system_docker(docker_client, docker_host):
    info = docker_client.info()
    assert docker_client.version()["ApiVersion"]
    if docker_host == engine.paths().docker_host:
        assert info["DockerRootDir"] == str(engine.paths().data_root)
        assert "runc" in info["Runtimes"]


def test_base_image_is_debian_bookworm_with_python_311(docker_client, base_image):
    """Run the base with no network at all: it is self-contained."""
    out = docker_client.containers.run(
        base_image, ["python3", "-c",
                     "import sys, ssl; print(sys.version_info[:2], open('/etc/debian_version').read().strip(),"
                     " ssl.get_default_verify_paths().cafile)"],
        network_mode="none", remove=True).decode()
    assert out.startswith("(3, 11) 12."), out
    # Built offline: no registry image in its history, one imported rootfs layer + the CA layer.
    history = docker_client.api.history(base_image)
    assert any("update-ca-certificates" in (h.get("CreatedBy") or "") for h in history), history


def test_search_api_container_answers_readyz(docker_client, search_api_image, milvus_container):
    """The project's Dockerfile, built FROM the local base, runs and is ready against real Milvus."""
    from pymilvus import DataType, MilvusClient

    mc = MilvusClient(milvus_container.uri)
    schema = mc.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("title", DataType.VARCHAR, max_length=64)
    schema.add_field("category", DataType.VARCHAR, max_length=32)
    schema.add_field("price", DataType.FLOAT)
    schema.add_field("release", DataType.VARCHAR, max_length=8)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=8)
    index = mc.prepare_index_params()
    index.add_index("embedding", index_type="HNSW", metric_type="COSINE", params={"M": 8, "efConstruction": 64})
    mc.drop_collection("docker_api")
    mc.create_collection("docker_api", schema=schema, index_params=index, consistency_level="Strong")
    mc.insert("docker_api", [{"id": i, "title": f"p{i}", "category": "c", "price": float(i), "release": "v1",
                              "embedding": [float((i + j) % 5) + 1.0 for j in range(8)]} for i in range(50)])
    mc.load_collection("docker_api")
    mc.close()

    (port,) = free_ports(1)
    env = {"MILVUS_LAB_MILVUS_URI": milvus_container.uri, "MILVUS_LAB_API_COLLECTION": "docker_api",
           "MILVUS_LAB_DIM": "8", "MILVUS_LAB_API_SLOT": "blue", "MILVUS_LAB_API_VERSION": "v1",
           "MILVUS_LAB_API_TIMEOUT_S": "10"}
    container = docker_client.containers.run(
        search_api_image,
        ["uvicorn", "milvus_lab.app.main:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)],
        environment=env, network_mode="host", read_only=True, detach=True,
        labels={"app.kubernetes.io/part-of": "milvus-lab"})
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120, container=container)
        assert container.attrs["Config"]["User"] == "10001:10001"
        req = urllib.request.Request(f"http://127.0.0.1:{port}/search", method="POST",
                                     data=json.dumps({"vector": [1.0] * 8, "k": 3}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.loads(resp.read())
            assert resp.headers["X-Served-By"].startswith("blue/v1")
        assert len(body["hits"]) == 3, body
    finally:
        container.remove(force=True)


def test_milvus_container_is_real_milvus_2_3_5(milvus_container):
    """testcontainers started it (HEALTHCHECK wait strategy); it is Milvus 2.3.5, not Lite."""
    from pymilvus import MilvusClient

    mc = MilvusClient(milvus_container.uri)
    try:
        assert mc.get_server_version().startswith("v2.3.5"), mc.get_server_version()
        mc.drop_collection("docker_smoke")
        mc.create_collection("docker_smoke", dimension=4, metric_type="L2", consistency_level="Strong")
        mc.insert("docker_smoke", [{"id": i, "vector": [float(i)] * 4} for i in range(10)])
        hits = mc.search("docker_smoke", [[3.0] * 4], limit=1)[0]
        assert hits[0]["id"] == 3, hits
        # Aliases (what lab 03's data switch uses) resolve on the server.
        mc.drop_alias("docker_smoke_live")
        mc.create_alias("docker_smoke", "docker_smoke_live")
        assert mc.describe_alias("docker_smoke_live")["collection_name"] == "docker_smoke"
        assert mc.search("docker_smoke_live", [[7.0] * 4], limit=1)[0][0]["id"] == 7
        mc.drop_alias("docker_smoke_live")
    finally:
        mc.close()
    with urllib.request.urlopen(f"{milvus_container.metrics_url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    assert "milvus_proxy_req_count" in text


def test_milvus_container_labels_say_what_it_is(docker_client, milvus_pypi_image):
    labels = docker_client.images.get(milvus_pypi_image).labels
    assert labels["org.opencontainers.image.version"] == "2.3.5"
    assert "Not the official" in labels["org.opencontainers.image.description"]


def test_docker_cli_talks_to_the_same_engine(docker_host):
    """The plain `docker` CLI (what users type) reaches the engine through DOCKER_HOST."""
    proc = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                          env={"DOCKER_HOST": docker_host, "PATH": "/usr/local/bin:/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode == 127 or "not found" in proc.stderr:
        pytest.skip("no docker CLI on PATH")
    assert proc.returncode == 0 and proc.stdout.strip() == engine.answers(docker_host), proc.stderr


def test_products_schema_builds_on_milvus_2_3_5(milvus_container):
    """The labs' collection code adapts its scalar index to 2.3.5 (Trie; INVERTED is 2.4+)."""
    from pymilvus import MilvusClient

    from milvus_lab.milvus import collections
    from milvus_lab.milvus.collections import IndexSpec

    mc = MilvusClient(milvus_container.uri)
    try:
        assert varchar_index_type(mc) == "Trie"
        mc.drop_collection("docker_products")
        mc.create_collection("docker_products", schema=collections.products_schema(8),
                             index_params=collections.index_params(IndexSpec.hnsw(), varchar_index_type(mc)))
        assert set(mc.list_indexes("docker_products")) >= {"vector", "category"}
        mc.drop_collection("docker_products")
    finally:
        mc.close()


def test_hnsw_filtered_search_on_2_3_5_returns_hits(milvus_container):
    """Every category filter finds hits on the containerised 2.3.5 (lab 03 needs 0 failed
    requests; the defect and the probe: milvus_lab/testing/hnsw_probe.py)."""
    from pymilvus import MilvusClient

    from milvus_lab.testing.hnsw_probe import probe_filtered_hnsw

    mc = MilvusClient(milvus_container.uri)
    try:
        probe = probe_filtered_hnsw(mc, "hnsw_filter_probe")
        assert sum(probe.empty.values()) == 0, probe.message()
    finally:
        mc.drop_collection("hnsw_filter_probe")
        mc.close()
