"""Replicas publish Prometheus file_sd targets for the compose target's Prometheus."""

from __future__ import annotations

import json

from milvus_lab.app import replicas
from milvus_lab.app.config import ApiConfig


def test_replicas_write_and_remove_scrape_targets(lab_settings, milvus_server, small_collection):
    cfg = ApiConfig(slot="blue", version="v1", milvus_uri=milvus_server.uri,
                    collection=small_collection, dim=32)
    running = replicas.start_replicas(lab_settings, cfg, 2)
    path = replicas.scrape_targets_file(lab_settings, "blue")
    targets = json.loads(path.read_text())
    assert sorted(t["targets"][0] for t in targets) == sorted(
        f"host.docker.internal:{r.port}" for r in running)
    assert {t["labels"]["slot"] for t in targets} == {"blue"}
    replicas.stop_replicas(lab_settings, "blue")
    assert not path.exists(), "stopped replicas must not stay scrape targets"
