"""Lab 06's lesson helpers (pure logic): flag validation, the series read back for anomaly
scoring, the console lines of the budget and the drill."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from milvus_lab.errors import PrerequisiteError
from milvus_lab.monitoring import anomaly, drill, lab_options, slo


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    lab_options.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(("argv", "says"), [
    (("--incidents", "errors,fire"), "unknown incident"),
    (("--incidents", " , "), "unknown incident"),
    (("--users", "0"), "must be positive"),
    (("--plan", "many"), "is not VECTORS,QPS"),
    (("--plan", "1,200"), "at least 2 vectors"),
    (("--prometheus-port", "70000"), "is not a port"),
])
def test_bad_flags_are_refused_with_a_fix(argv: tuple[str, ...], says: str) -> None:
    with pytest.raises(PrerequisiteError) as caught:
        lab_options.check_arguments(_args(*argv))
    assert says in str(caught.value) and caught.value.fix


def test_good_flags_derive_the_incident_list_and_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab_options.tools, "require", lambda tool: tool)  # the tools are not the point here
    args = _args("--incidents", "latency, errors", "--plan", "1000,50")
    lab_options.check_arguments(args)
    assert args.incident_list == ["latency", "errors"] and (args.plan_vectors, args.plan_qps) == (1000.0, 50.0)


def test_lab_series_with_too_few_points_are_skipped() -> None:
    def query_range(expr: str, start: float, end: float, step: float) -> tuple[np.ndarray, np.ndarray]:
        n = 120 if "5xx" in expr or "status" in expr else anomaly.MIN_POINTS - 1
        t = np.arange(start, start + n, step)
        v = np.ones(n)
        v[60:70] = 50.0 if n == 120 else 1.0  # a burst in the 5xx series
        return t, v

    detections = anomaly.detect_lab_series(query_range, 1000.0, 1120.0)
    assert [d.name for d in detections] == ["5xx per second"]
    assert detections[0].flagged, "the burst must be flagged"


def test_console_lines() -> None:
    assert drill.seconds(None) == "-" and drill.seconds(2.345) == "2.3s"
    line = slo.budget_line("requests-availability", {"sloth_remaining": None, "drill_remaining": 0.5,
                                                     "bad_events": 3.0, "events": 1000.0})
    assert line == "requests-availability: Sloth n/a left, drill events 50.0% left (3 bad of 1,000)"
