"""The per-request records, the arms and the live monitor (pure logic, fixed inputs)."""

from __future__ import annotations

import json

import numpy as np

from milvus_lab.abtest.arms import split
from milvus_lab.abtest.design import Design
from milvus_lab.abtest.guardrails import evaluate
from milvus_lab.abtest.monitor import STOP_MAX, STOP_PRIMARY, STOP_SRM, Monitor
from milvus_lab.abtest.records import Record, RecordReader, outcome

TRUTH = np.array([[5, 6, 7, 8], [9, 10, 11, 12]])


def rec(variant: str, q: int = 0, ids: tuple[int, ...] = (5, 1, 2, 3), status: int = 200,
        user: str = "u", latency: float = 10.0) -> Record:
    return Record(1.0, user, variant, status, latency, q, ids if status == 200 else ())


def test_outcome_success_is_top1_in_top3_and_recall_from_ids():
    assert outcome(rec("A", ids=(1, 2, 3, 5)), TRUTH, k=4).success is False  # top-1 at rank 4
    assert outcome(rec("A", ids=(1, 2, 5, 3)), TRUTH, k=4).success is True  # rank 3 still counts
    got = outcome(rec("A", ids=(2, 5, 6, 7)), TRUTH, k=4)
    assert got.success and got.recall == 0.75
    assert outcome(rec("A", status=503), TRUTH, k=4) == outcome(rec("A", q=99), TRUTH, k=4)
    assert not outcome(rec("A", status=503), TRUTH, k=4).success


def test_records_round_trip_and_torn_lines(tmp_path):
    path = tmp_path / "r.jsonl"
    first = rec("B", user="u1")
    path.write_text(first.to_line() + "\n" + '{"t": 2, "user": "u2", "vari')
    reader = RecordReader(path)
    assert reader.poll() == [first]
    with open(path, "a") as fh:
        fh.write('ant": "A", "status": 200, "latency_ms": 3, "q": 1, "ids": [9]}\nnot json\n')
    got = reader.poll()
    assert len(got) == 2 and got[1].variant == "A" and got[1].ids == (9,)
    assert json.loads(first.to_line())["variant"] == "B"


def test_split_counts_errors_and_leaves_unassigned_out():
    arms = split([rec("A", user="a1"), rec("A", status=500, user="a2"), rec("B", user="b1"), rec("")],
                 TRUTH, ["A", "B"], k=4)
    assert (arms["A"].requests, arms["A"].errors, arms["A"].successes) == (2, 1, 1)
    assert arms["A"].users == {"a1", "a2"} and arms["B"].requests == 1


def arms_with(n_a: int, s_a: int, n_b: int, s_b: int, users_b: int | None = None, err_b: int = 0):
    records = [rec("A", ids=(5,) if i < s_a else (1,), user=f"a{i // 2}") for i in range(n_a)]
    records += [rec("B", ids=(5,) if i < s_b else (1,), user=f"b{i % users_b}" if users_b else f"b{i // 2}",
                    status=500 if i >= n_b - err_b else 200) for i in range(n_b)]
    return split(records, TRUTH, ["A", "B"], k=4)


def test_monitor_previews_then_decides_on_a_clear_winner():
    mon = Monitor(Design(), n_max_per_arm=900)
    early = mon.look(1.0, arms_with(50, 45, 50, 50))
    assert early.primary is not None and not early.stop  # previewed, burn-in: never stops
    assert mon.primary.looks == []
    late = mon.look(2.0, arms_with(400, 360, 400, 398))
    assert late.stop == STOP_PRIMARY and late.primary.crossed


def test_monitor_stops_on_srm_and_guardrail_and_max():
    mon = Monitor(Design(), n_max_per_arm=900)
    srm = mon.look(1.0, arms_with(600, 540, 600, 540, users_b=150))  # A 300 users, B 150
    assert srm.stop.startswith(STOP_SRM), srm.stop
    mon = Monitor(Design(), n_max_per_arm=900)
    bad = mon.look(1.0, arms_with(400, 370, 400, 370, err_b=40))
    assert bad.stop.startswith("guardrail: error rate"), bad.stop
    mon = Monitor(Design(), n_max_per_arm=300)
    same = mon.look(1.0, arms_with(300, 279, 300, 279))
    assert same.stop == STOP_MAX


def latency_arms(lat_a: list[float], lat_b: list[float]):
    records = [rec("A", user=f"a{i}", latency=x) for i, x in enumerate(lat_a)]
    records += [rec("B", user=f"b{i}", latency=x) for i, x in enumerate(lat_b)]
    return split(records, TRUTH, ["A", "B"], k=4)


def test_p95_guardrail_needs_a_significantly_slower_b():
    rng = np.random.default_rng(3)
    base = np.sort(rng.lognormal(np.log(100), 0.3, 400))
    # a fatter tail at the same mean: B's slowest 21 requests 3x slower, its fastest 300 a bit
    # faster; B's p95 is far over 1.5 x A's, yet B is not slower on average
    tail = base.copy()
    tail[-21:] *= 3
    tail[:300] -= (tail.sum() - base.sum()) / 300
    assert tail.min() > 0 and abs(tail.mean() - base.mean()) < 1e-9
    hiccup = latency_arms(list(base), list(tail))
    mon = Monitor(Design(), n_max_per_arm=10_000)
    mon.look(1.0, hiccup)
    got = {g.name: g for g in evaluate(hiccup["A"], hiccup["B"], Design().guardrails, mon)}
    assert hiccup["B"].p95_ms() > 1.5 * hiccup["A"].p95_ms() + 10
    assert got["p95 latency"].passed, got["p95 latency"]
    # without a monitor the p95 alone decides
    assert not evaluate(hiccup["A"], hiccup["B"], Design().guardrails)[0].passed
    # B really slower (+200 ms on every request): the always-valid test crosses, the veto holds
    slow = latency_arms(list(base), [x + 200 for x in base])
    mon = Monitor(Design(), n_max_per_arm=10_000)
    tick = mon.look(1.0, slow)
    got = {g.name: g for g in evaluate(slow["A"], slow["B"], Design().guardrails, mon)}
    assert tick.stop.startswith("guardrail: p95"), tick.stop
    assert not got["p95 latency"].passed, got["p95 latency"]
