"""Unit tests of the load timeline format, the failure rules, and the locustfile settings.

No processes here: these pin down the arithmetic the Locust runs in test_load_runner.py
and the labs rely on (per-second rows, percentiles, windows around marks).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from milvus_lab.errors import PrerequisiteError
from milvus_lab.load.config import LoadConfig
from milvus_lab.load.queries import load_queries
from milvus_lab.load.result import LoadFiles, LoadResult, Mark
from milvus_lab.load.timeline import (
    SecondStats,
    TimelineData,
    TimelineReader,
    TimelineRecorder,
    merge,
    percentile,
    read_timeline,
    round_ms,
    version_of,
)
from milvus_lab.load.validate import expected_versions, search_failure
from milvus_lab.testing.load_fixtures import write_tiny_dataset


class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _recorded(tmp_path: Path) -> Path:
    """3 s of traffic: 2 ok at t=100, nothing at 101, 1 ok + 1 empty-hits failure at 102."""
    clock = FakeClock(100.2)
    rec = TimelineRecorder(tmp_path / "t.jsonl", clock=clock)
    rec.start()
    rec.record(3.0, False, "blue/v1", "v1")
    rec.record(5.0, False, "blue/v1", "v1")
    clock.t = 101.5
    assert rec.flush() == 1  # second 100 is over: written now, readable while running
    clock.t = 102.3
    rec.record(40.0, False, "green/v2", "v2")
    rec.record(2.0, True, "green/v2", "v2", error="empty hits")
    rec.stop()
    rec.close()
    return tmp_path / "t.jsonl"


def test_recorder_writes_one_row_per_second_including_idle_seconds(tmp_path: Path) -> None:
    data = read_timeline(_recorded(tmp_path))
    assert [s.t for s in data.seconds] == [100, 101, 102]
    s100, s101, s102 = data.seconds
    assert (s100.requests, s100.failures, s100.served_by) == (2, 0, {"blue/v1": 2})
    assert (s101.requests, s101.served_by) == (0, {})  # an idle second is a zero row, not a gap
    assert (s102.requests, s102.failures) == (2, 1)
    assert s102.served_by == {"green/v2": 2} and s102.served_by_failures == {"green/v2": 1}
    assert s102.data_version == {"v2": 2} and s102.errors == {"empty hits": 1}
    assert data.started == pytest.approx(100.2) and data.stopped == pytest.approx(102.3)


def test_reader_tails_only_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    row = json.dumps(SecondStats(5, requests=1, hist={1.0: 1}).to_row())
    path.write_text(row + "\n" + row[:10])  # a writer caught mid-line
    reader = TimelineReader(path)
    assert len(reader.poll().seconds) == 1
    with open(path, "a") as fh:
        fh.write(row[10:] + "\n")
    assert len(reader.poll().seconds) == 2


def test_percentiles_are_nearest_rank_on_the_histogram() -> None:
    hist = {float(v): 1 for v in range(1, 101)}
    assert percentile(hist, 0.5) == 50 and percentile(hist, 0.95) == 95
    assert percentile(hist, 0.99) == 99 and percentile({}, 0.5) is None
    assert round_ms(3.14159) == 3.1 and round_ms(123.4) == 120 and round_ms(4567) == 4600


def test_merge_keeps_exact_percentiles_across_seconds() -> None:
    a = SecondStats(1, requests=2, hist={1.0: 2}, served_by={"blue/v1": 2})
    b = SecondStats(2, requests=2, hist={100.0: 2}, served_by={"green/v2": 2})
    m = merge([a, b])
    assert m.requests == 4 and m.p50 == 1.0 and m.p95 == 100.0
    assert m.versions == {"v1": 2, "v2": 2}
    assert version_of("blue/v1") == "v1" and version_of("") == "unknown"


def test_result_windows_and_phases_split_at_marks(tmp_path: Path) -> None:
    data = read_timeline(_recorded(tmp_path))
    result = LoadResult.build(data, [Mark(101.9, "switch to green")],
                              LoadFiles.in_dir(tmp_path), exit_code=0)
    assert (result.requests, result.failures) == (4, 1)
    assert result.served_by == {"blue/v1": 2, "green/v2": 2}
    before, after = result.phases()
    assert before.label == "before switch to green" and after.label == "after switch to green"
    assert (before.requests, before.failures, before.versions) == (2, 0, {"v1": 2})
    assert (after.requests, after.failures, after.versions) == (2, 1, {"v2": 2})
    assert after.errors == {"empty hits": 1} and after.p99_ms == 40.0
    ahead, behind = result.around("switch to green", before_s=1, after_s=1)
    assert ahead.requests == 0 and behind.requests == 2
    summary = json.loads(json.dumps(result.summary()))  # the JSON report can hold it
    assert summary["marks"][0]["label"] == "switch to green"


def test_phases_count_requests_that_end_after_the_stop(tmp_path: Path) -> None:
    """Requests in flight when Locust stops land in a second that starts after `stopped`
    (seen in CI on a busy machine): the last phase still counts them."""
    seconds = [SecondStats(100, 2, served_by={"blue/v1": 2}), SecondStats(101, 3, served_by={"green/v2": 3}),
               SecondStats(102, 1, served_by={"green/v2": 1})]
    data = TimelineData(seconds=seconds, started=100.4, stopped=101.02)
    result = LoadResult.build(data, [Mark(100.9, "switch to green")], LoadFiles.in_dir(tmp_path), exit_code=0)
    phases = result.phases()
    assert sum(w.requests for w in phases) == result.requests == 6
    assert phases[-1].versions == {"v2": 4}
    assert LoadResult.build(data, [], LoadFiles.in_dir(tmp_path), 0).phases()[0].requests == 6


@pytest.mark.parametrize(
    ("status", "body", "served_by", "expect", "why"),
    [
        (200, b'{"hits": [{"id": 1}]}', "blue/v1", frozenset(), None),
        (200, b'{"hits": []}', "blue/v1", frozenset(), "empty hits"),
        (200, b'{"hits": [{"id": 1}]}', "green/v2", frozenset({"v1"}), "unexpected version"),
        (200, b'{"hits": [{"id": 1}]}', None, frozenset({"v1"}), "unexpected version"),
        (503, b'{"error": "Milvus unavailable"}', "blue/v1", frozenset(), "HTTP 503: Milvus"),
        (200, b"<html>", "blue/v1", frozenset(), "not JSON"),
        (200, b'{"results": []}', "blue/v1", frozenset(), "no 'hits'"),
    ],
)
def test_search_failure_rules(status: int, body: bytes, served_by: str | None,
                              expect: frozenset[str], why: str | None) -> None:
    got = search_failure(status, body, served_by, expect)
    if why is None:
        assert got is None
    else:
        assert got is not None and why in got


def test_expected_versions_parsing() -> None:
    assert expected_versions(" v1, v2 ,") == {"v1", "v2"}
    assert expected_versions("") == frozenset()


def test_config_rejects_bad_values_with_the_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILVUS_LAB_FILTER_RATIO", "1.5")
    with pytest.raises(PrerequisiteError, match="MILVUS_LAB_FILTER_RATIO"):
        LoadConfig.from_env()
    monkeypatch.setenv("MILVUS_LAB_FILTER_RATIO", "0.25")
    monkeypatch.setenv("MILVUS_LAB_K", "five")
    with pytest.raises(PrerequisiteError, match="MILVUS_LAB_K"):
        LoadConfig.from_env()
    monkeypatch.setenv("MILVUS_LAB_K", "7")
    monkeypatch.setenv("MILVUS_LAB_EXPECT_VERSIONS", "v2")
    cfg = LoadConfig.from_env()
    assert (cfg.k, cfg.filter_ratio, cfg.expect_versions) == (7, 0.25, {"v2"})


def test_queries_load_once_and_a_missing_dataset_names_the_fix(tmp_path: Path) -> None:
    qs = load_queries(write_tiny_dataset(tmp_path / "products-v1", n_queries=4, dim=3))
    assert len(qs) == 4 and qs.dim == 3 and qs.categories
    assert json.loads(qs.vectors_json[0]) == pytest.approx(list(qs.vectors[0]), abs=1e-6)
    with pytest.raises(PrerequisiteError) as err:
        load_queries(tmp_path / "nope")
    assert "milvus-lab up" in str(err.value)
