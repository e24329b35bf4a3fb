"""The releases lab 03 ships: v1 is live, v2 is the candidate (new data and a better index).

Also used by `milvus-lab up`, which brings up exactly lab 03's starting point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from milvus_lab.app.config import ApiConfig
from milvus_lab.milvus.collections import IndexSpec
from milvus_lab.milvus.datasets import DatasetSpec

ALIAS = "products"


@dataclass(frozen=True)
class Release:
    """One version of the data (collection + index) and of the API that serves it."""

    version: str
    slot: str
    dataset: DatasetSpec
    index: IndexSpec
    replicas: int = 2
    api_search_params: dict = field(default_factory=dict)

    @property
    def collection(self) -> str:
        return f"products_{self.version}"

    def api_config(self, milvus_uri: str, fault_error_rate: float = 0.0) -> ApiConfig:
        return ApiConfig(
            slot=self.slot, version=self.version, milvus_uri=milvus_uri, collection=ALIAS,
            search_params=dict(self.api_search_params), dim=self.dataset.dim,
            fault_error_rate=fault_error_rate,
        )


# v1: a compact IVF_SQ8 index (8-bit quantised): small and fast, recall a little lower.
V1 = Release(
    version="v1", slot="blue",
    dataset=DatasetSpec(name="products-v1", version="v1", n=20_000, seed=42),
    index=IndexSpec.ivf("IVF_SQ8", nlist=128, nprobe=16),
    api_search_params={"nprobe": 16, "ef": 64},
)

# v2: the re-embedded catalogue (more products) on HNSW M=16: better recall.
V2 = Release(
    version="v2", slot="green",
    dataset=DatasetSpec(name="products-v2", version="v2", n=22_000, seed=4242),
    index=IndexSpec.hnsw(m=16, ef_construction=128, ef=64),
    api_search_params={"nprobe": 16, "ef": 64},
)
