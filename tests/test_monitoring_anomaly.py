"""Anomaly detection (pure logic): synthetic series with injected incidents, event-level scoring."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from milvus_lab.monitoring import anomaly

SEASONAL_INCIDENTS = [(1200.0, 300.0, 60.0), (2400.0, 240.0, -70.0), (6000.0, 180.0, 45.0)]


def _intervals(incidents: list[tuple[float, float, float]], t0: float = 0.0) -> list[tuple[float, float]]:
    return [(t0 + off, t0 + off + dur) for off, dur, _ in incidents]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stl_finds_every_incident_on_a_seasonal_series_without_false_alarms(seed: int) -> None:
    series = anomaly.synthetic_series(3 * 3600, 15, incidents=SEASONAL_INCIDENTS, seed=seed)
    det = anomaly.detect(series, name="qps", period_s=600, trend_s=1800)
    assert det.method.startswith("STL"), det.method
    ev = anomaly.evaluate(det.flagged, _intervals(SEASONAL_INCIDENTS), tolerance_s=30)
    assert ev.recall == 1.0, (det.flagged, ev)
    assert ev.precision == 1.0, (det.flagged, ev)
    assert all(d is not None and d <= 30 for d in ev.delays_s), ev.delays_s


def test_an_incident_smaller_than_the_season_is_found_only_with_the_decomposition() -> None:
    # +30 during a trough of a +-40 cycle: within the normal range of the raw values
    incident = [(2 * 600 + 400.0, 120.0, 30.0)]
    series = anomaly.synthetic_series(3 * 3600, 15, amplitude=40, noise=2, incidents=incident, seed=4)
    with_stl = anomaly.detect(series, period_s=600, trend_s=1800)
    assert anomaly.evaluate(with_stl.flagged, _intervals(incident)).recall == 1.0
    assert anomaly.evaluate(with_stl.flagged, _intervals(incident)).precision == 1.0
    no_season = anomaly.detect(series, period_s=None, trend_s=1800)
    assert anomaly.evaluate(no_season.flagged, _intervals(incident)).recall == 0.0


def test_short_lab_series_uses_a_running_median_and_catches_up_and_down() -> None:
    incidents = [(60.0, 25.0, 40.0), (140.0, 30.0, -60.0)]
    series = anomaly.synthetic_series(240, 2, period_s=None, noise=4, incidents=incidents,
                                      start=1_700_000_000, seed=5)
    det = anomaly.detect(series, name="latency", trend_s=90)
    assert det.method.startswith("rolling median")
    ev = anomaly.evaluate(det.flagged, _intervals(incidents, 1_700_000_000), tolerance_s=10)
    assert (ev.precision, ev.recall) == (1.0, 1.0), det.flagged
    up_only = anomaly.detect(series, name="latency", trend_s=90, direction="up")
    ev_up = anomaly.evaluate(up_only.flagged, _intervals(incidents, 1_700_000_000), 10)
    assert ev_up.detected == [True, False], "direction=up must ignore the drop"


def test_evaluate_counts_false_alarms_misses_and_tolerance() -> None:
    incidents = [(100.0, 130.0), (300.0, 320.0), (500.0, 510.0)]
    flagged = [(135.0, 150.0), (310.0, 330.0), (700.0, 720.0)]
    ev = anomaly.evaluate(flagged, incidents, tolerance_s=10)
    assert ev.true_positives == 2 and ev.false_positives == 1
    assert ev.detected == [True, True, False]
    assert math.isclose(ev.precision, 2 / 3) and math.isclose(ev.recall, 2 / 3)
    assert ev.delays_s == [35.0, 10.0, None]
    strict = anomaly.evaluate(flagged, incidents, tolerance_s=0)
    assert strict.detected == [False, True, False]  # 135 > 130 without tolerance
    assert anomaly.evaluate([], incidents).precision == 1.0
    assert anomaly.evaluate([], incidents).recall == 0.0
    with pytest.raises(ValueError):
        anomaly.evaluate(flagged, incidents, tolerance_s=-1)


def test_union_merges_overlapping_flags_of_two_detectors() -> None:
    assert anomaly.union([(5, 9), (0, 3), (2, 4), (10, 12)]) == [(0, 4), (5, 9), (10, 12)]
    assert anomaly.union([(0, 3), (4, 6)], gap_s=1) == [(0, 6)]


def test_parse_prometheus_range_query_with_nan_and_gaps() -> None:
    values = [[1000 + 5 * i, "NaN" if i == 3 else str(10.0 + (i % 2))] for i in range(20)]
    del values[7]  # a missed scrape
    payload = {"status": "success",
               "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}}
    series = anomaly.parse_prometheus(payload)
    assert len(series) == 19 and math.isnan(series[3][1])
    times, vals = anomaly.regularize(series)
    assert len(times) == 20 and np.all(np.isfinite(vals))
    assert np.allclose(np.diff(times), 5.0)
    two = {"data": {"result": [{"values": values}, {"values": values}]}}
    with pytest.raises(ValueError, match="aggregate in PromQL"):
        anomaly.parse_prometheus(two)


def test_bad_series_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="at least"):
        anomaly.detect([(0, 1.0), (1, 2.0)])
    with pytest.raises(ValueError, match="finite"):
        anomaly.detect([(float(i), float("nan")) for i in range(20)])


def test_flat_series_with_one_jump_scores_finite() -> None:
    series = [(float(i), 5.0) for i in range(30)]
    series[15] = (15.0, 50.0)
    series[16] = (16.0, 50.0)
    det = anomaly.detect(series, trend_s=11)
    assert np.all(np.isfinite(det.scores))
    assert det.flagged and det.flagged[0][0] == 15.0


def test_plot_writes_a_png(tmp_path: Path) -> None:
    series = anomaly.synthetic_series(1800, 10, incidents=SEASONAL_INCIDENTS[:1], seed=6)
    det = anomaly.detect(series, period_s=600, trend_s=900)
    calls: list[tuple[str, float]] = []
    det2 = anomaly.detect(series, name="again", period_s=600, trend_s=900,
                          progress=lambda m, f: calls.append((m, f)))
    assert calls[0][1] == 0.0 and calls[-1][1] == 1.0
    out = anomaly.plot_detections([det, det2], _intervals(SEASONAL_INCIDENTS[:1]),
                                  tmp_path / "scores.png", incident_labels=["burst"])
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"
