"""Capacity planning: the pure sizing model and SLO-break logic, plus one real RSS measurement."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from milvus_lab.milvus.collections import IndexSpec
from milvus_lab.milvus.datasets import Dataset
from milvus_lab.monitoring import capacity
from milvus_lab.monitoring.capacity import Slo, StepMeasurement
from milvus_lab.settings import Settings
from milvus_lab.testing.milvus_fixtures import MilvusServer


def test_index_bytes_follow_the_data_layouts() -> None:
    n, dim = 1_000_000, 128
    raw = 4 * n * dim
    assert capacity.index_bytes(n, dim, IndexSpec.flat()) == raw
    hnsw16 = capacity.index_bytes(n, dim, IndexSpec.hnsw(m=16))
    hnsw32 = capacity.index_bytes(n, dim, IndexSpec.hnsw(m=32))
    # links: (2M + M/(M-1)) int32 per node + 12 bytes bookkeeping
    assert hnsw16 == pytest.approx(raw + n * (4 * (32 + 16 / 15) + 12))
    assert hnsw32 - hnsw16 == pytest.approx(n * 4 * (32 + 32 / 31 - 16 / 15))
    ivf = capacity.index_bytes(n, dim, IndexSpec.ivf("IVF_FLAT", nlist=1024))
    assert ivf == pytest.approx(raw + 8 * n + 4 * 1024 * dim)
    sq8 = capacity.index_bytes(n, dim, IndexSpec.ivf("IVF_SQ8", nlist=1024))
    assert sq8 < ivf / 3  # one byte per dimension instead of four
    with pytest.raises(ValueError):
        capacity.index_bytes(-1, dim, IndexSpec.flat())


def test_fit_recovers_a_known_model_and_predicts_replicas() -> None:
    index, dim = IndexSpec.hnsw(), 64
    truth = capacity.SizingModel(base_bytes=150 * capacity.MB, factor=2.5)
    points = [(n, truth.predict(n, dim, index)) for n in (5_000, 10_000, 20_000)]
    model = capacity.fit_model(points, dim, index)
    assert model.base_bytes == pytest.approx(truth.base_bytes, rel=1e-6)
    assert model.factor == pytest.approx(2.5, rel=1e-6)
    one = model.predict(1_000_000, dim, index)
    assert model.predict(1_000_000, dim, index, replicas=3) == pytest.approx(3 * one)
    with pytest.raises(ValueError, match="two or more"):
        capacity.fit_model(points[:1], dim, index)


def test_fit_and_test_reports_the_held_out_error() -> None:
    index = IndexSpec.hnsw()
    pts = [capacity.MemoryPoint(n, 128, index.label(), 100, 0, int(b), 1.0, 1.0)
           for n, b in ((5_000, 200e6), (10_000, 230e6), (20_000, 290e6), (40_000, 440e6))]
    cal = capacity.fit_and_test(pts, index, held_out=[40_000])
    held = [r for r in cal.rows if r.held_out]
    assert [r.n for r in held] == [40_000]
    # the fit line through the first three predicts 410 MB-ish for 40k: about -6.8%
    expected = cal.model.predict(40_000, 128, index)
    assert held[0].error_pct == pytest.approx(100 * (expected - 440e6) / 440e6, abs=0.01)
    assert cal.held_out_error_pct == pytest.approx(abs(held[0].error_pct))
    assert "held out" in capacity.format_table(cal)


def _step(users: int, rps: float, p95: float | None, fail: float = 0.0, requests: int = 100) -> StepMeasurement:
    return StepMeasurement(users, 0.0, rps, None, p95, None, fail, requests)


def test_find_slo_break_takes_the_last_passing_step() -> None:
    slo = Slo(p95_ms=100, max_failure_ratio=0.01)
    steps = [_step(8, 150, 120), _step(1, 30, 20), _step(2, 60, 35), _step(4, 110, 70)]
    br = capacity.find_slo_break(steps, slo)
    assert (br.sustainable_users, br.sustainable_qps) == (4, 110)
    assert br.breaking_users == 8 and "p95 120 ms > 100 ms" in br.reason
    errors = capacity.find_slo_break([_step(1, 30, 20), _step(2, 60, 30, fail=0.05)], slo)
    assert errors.breaking_users == 2 and "failure ratio" in errors.reason
    never = capacity.find_slo_break([_step(1, 30, 20)], slo)
    assert never.breaking_users is None and never.sustainable_qps == 30
    none = capacity.find_slo_break([_step(1, 0, None, requests=0)], slo)
    assert none.sustainable_qps == 0 and "no request" in none.reason


def test_plan_capacity_scales_qps_by_search_cost_and_counts_replicas() -> None:
    model = capacity.SizingModel(base_bytes=200 * capacity.MB, factor=3.0)
    plan = capacity.plan_capacity(10_000_000, 128, target_qps=500, model=model,
                                  measured_qps_per_replica=120, measured_n=20_000,
                                  index=IndexSpec.hnsw(), headroom=0.7)
    ratio = math.log(10_000_000) / math.log(20_000)
    assert plan.qps_per_replica == pytest.approx(120 / ratio, abs=0.01)
    assert plan.replicas == math.ceil(500 / (120 / ratio * 0.7))
    assert plan.total_memory_bytes == pytest.approx(plan.replicas * model.predict(10_000_000, 128, IndexSpec.hnsw()))
    assert len(plan.assumptions) == 3 and plan.summary()["total_memory_gib"] > 0
    flat = capacity.plan_capacity(40_000, 128, 100, model, 100, 20_000, IndexSpec.flat())
    assert flat.qps_per_replica == pytest.approx(50)  # brute force: twice the rows, half the QPS
    with pytest.raises(ValueError, match="no sustainable QPS"):
        capacity.plan_capacity(1, 128, 100, model, 0, 20_000)


def test_process_tree_rss_reads_this_process() -> None:
    rss = capacity.process_tree_rss(os.getpid())
    assert 10 * capacity.MB < rss < 8 * 1024 * capacity.MB
    with pytest.raises(ProcessLookupError):
        capacity.process_tree_rss(2**22 + 12345)


@pytest.mark.slow
def test_measured_memory_grows_with_rows_and_the_fit_holds_out(tmp_path: Path) -> None:
    """Real Milvus Lite servers: 3 small sizes, fit on two, the third held out."""
    index = IndexSpec.hnsw()
    seen: list[float] = []
    cal = capacity.calibrate((2_000, 8_000, 16_000), dim=64, index=index, held_out=[16_000],
                             work_dir=tmp_path, progress=lambda m, f: seen.append(f))
    loaded = [p.loaded_bytes for p in cal.points]
    assert loaded == sorted(loaded) and loaded[-1] - loaded[0] > 5 * capacity.MB, loaded
    assert all(p.empty_bytes > 50 * capacity.MB for p in cal.points)
    assert cal.model.factor > 0 and cal.model.base_bytes > 0
    assert cal.held_out_error_pct < 25, capacity.format_table(cal)  # loose: a busy 2-core box
    assert seen[-1] == pytest.approx(1.0)
    png = capacity.plot_calibration(cal, tmp_path / "fit.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_step_test_with_real_locust_finds_where_the_slo_breaks(
        lab_settings: Settings, milvus_server: MilvusServer, small_collection: str,
        small_dataset: Dataset, tmp_path: Path) -> None:
    """Real Locust against one real API replica: an impossible SLO breaks at the first step,
    a generous one never does, and the measured QPS is what Locust recorded."""
    from milvus_lab.app import replicas
    from milvus_lab.app.config import ApiConfig
    from milvus_lab.milvus import datasets

    ds_dir = datasets.save(small_dataset, tmp_path / "dataset")
    cfg = ApiConfig(milvus_uri=milvus_server.uri, collection=small_collection,
                    dim=small_dataset.spec.dim)
    (replica,) = replicas.start_replicas(lab_settings, cfg, 1)
    env = {"MILVUS_LAB_DATASET_DIR": str(ds_dir), "MILVUS_LAB_FILTER_RATIO": "0"}
    calls: list[float] = []
    generous = capacity.run_step_test(replica.url, [1, 3], step_s=5, out_dir=tmp_path / "ok",
                                      slo=Slo(p95_ms=5_000, max_failure_ratio=0.05), user_rps=4,
                                      warmup_s=1, env=env, progress=lambda m, f: calls.append(f))
    assert [s.users for s in generous.steps] == [1, 3]
    assert generous.result.breaking_users is None
    assert all(s.requests > 0 and s.failure_ratio == 0 for s in generous.steps), generous.steps
    assert generous.steps[1].achieved_rps > generous.steps[0].achieved_rps  # 3 users x 4/s vs 1 x 4/s
    assert generous.result.sustainable_qps == generous.steps[-1].achieved_rps
    assert calls[-1] == 1.0
    impossible = capacity.run_step_test(replica.url, [1, 3], step_s=4, out_dir=tmp_path / "no",
                                        slo=Slo(p95_ms=0.001), user_rps=4, warmup_s=1, env=env)
    assert len(impossible.steps) == 1, "stops at the first step that misses the SLO"
    assert impossible.result.breaking_users == 1 and impossible.result.sustainable_qps == 0
    assert "p95" in impossible.result.reason
