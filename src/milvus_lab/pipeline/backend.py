"""The Milvus the deployed replicas search: our Milvus Lite server (target local) or the
target's Milvus, with a small `pipeline_smoke` collection the smoke test and watch can query."""

from __future__ import annotations

import random

from pymilvus import MilvusClient

from milvus_lab.milvus import server
from milvus_lab.settings import Settings

ROWS = 200


def ensure_backend(settings: Settings, collection: str, uri: str = "", dim: int = 128) -> str:
    """Milvus up (our Milvus Lite started when no `uri` is given), `collection` present,
    loaded and non-empty; its URI."""
    uri = uri or (server.ensure_server(settings).uri if settings.target == "local" else settings.milvus_uri)
    client = MilvusClient(uri=uri, timeout=30)
    try:
        if not client.has_collection(collection):
            client.create_collection(collection, dimension=dim, metric_type="L2", consistency_level="Strong")
            rng = random.Random(3)
            rows = [{"id": i, "vector": [rng.random() for _ in range(dim)], "category": f"c{i % 5}",
                     "price": float(i), "title": f"item {i}", "release": "pipeline"} for i in range(ROWS)]
            client.insert(collection, rows)
            client.flush(collection)
        client.load_collection(collection)
    finally:
        client.close()
    return uri
