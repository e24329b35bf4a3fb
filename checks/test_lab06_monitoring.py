"""Lab 06 checks: burn rates, alert thresholds, the multi-window decision, the error budget.

Run `pytest checks -k lab06` (your code) or `pytest checks -k lab06 --impl solutions`.
Your numbers are compared with the rules Sloth generated (deploy/prometheus/rules/) and,
for the error budget, with what promtool computes from those rules.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from conftest import attempt

from milvus_lab.monitoring import slo

REPO = Path(__file__).resolve().parents[1]
SLO_RULES = REPO / slo.RULES
OBJECTIVES = {"SearchApiHighErrorRate": 99.9, "SearchApiHighLatency": 99.0}


@pytest.fixture(scope="module")
def lab06(impl_loader) -> ModuleType:
    return impl_loader("lab06_monitoring")


@pytest.mark.parametrize(("spent", "window_s", "expected"), [
    (0.02, 3600, 14.4), (0.05, 6 * 3600, 6.0), (0.10, 86400, 3.0), (0.10, 3 * 86400, 1.0)])
def test_burn_rate_matches_the_workbook_table(lab06, spent, window_s, expected):
    got = attempt(lab06.burn_rate, spent, window_s)
    assert got == pytest.approx(expected), (
        f"burn_rate({spent}, {window_s}) = {got}, expected {expected}. "
        "Hint: spending `spent` of a 30-day budget in `window` means burning (30 days / window) x spent as fast.")


def test_thresholds_equal_the_ones_sloth_generated(lab06):
    conditions = slo.rule_conditions(yaml.safe_load(SLO_RULES.read_text()))
    assert len(conditions) == 16, "expected 4 alerts x 4 window comparisons in the Sloth rules"
    for c in conditions:
        window = next(w for w in lab06.WINDOWS
                      if w.severity == c.severity and c.window_s in (w.long_s, w.short_s))
        rate = attempt(lab06.burn_rate, window.budget_spent, window.long_s)
        threshold = attempt(lab06.error_ratio_threshold, OBJECTIVES[c.alert], rate)
        assert threshold == pytest.approx(c.threshold, rel=1e-6), (
            f"{c.alert} ({c.severity}, {c.window_s:g}s window): Sloth compares the error ratio with "
            f"{c.threshold:.5f}, you computed {threshold:.5f}. Hint: threshold = burn rate x (1 - objective/100).")


def _ratios(short_long: dict[str, float]) -> dict[float, float]:
    return {slo.parse_duration(k): v for k, v in short_long.items()}


@pytest.mark.parametrize(("name", "ratios", "expected"), [
    # the promtool unit tests' cases (deploy/prometheus/tests/search-api-slos_test.yml)
    ("fast burn", {"5m": 0.2, "30m": 0.2, "1h": 0.04, "2h": 0.02, "6h": 0.007, "1d": 0.004, "3d": 0.004}, "page"),
    ("slow burn", {"5m": 0.005, "30m": 0.005, "1h": 0.005, "2h": 0.005, "6h": 0.005, "1d": 0.005, "3d": 0.005},
     "ticket"),
    ("short blip", {"5m": 0.022, "30m": 0.0037, "1h": 0.0018, "2h": 0.0009, "6h": 0.0003, "1d": 0.0001,
                    "3d": 0.0001}, None),
    ("over, but already over", {"5m": 0.0, "30m": 0.0, "1h": 0.05, "2h": 0.0, "6h": 0.0, "1d": 0.002,
                                "3d": 0.0008}, None),
])
def test_alert_severity_uses_both_windows(lab06, name, ratios, expected):
    got = attempt(lab06.alert_severity, _ratios(ratios), 99.9)
    assert got == expected, (
        f"{name}: expected {expected!r}, got {got!r}. Hint: a condition needs BOTH its long and its "
        "short window above the threshold; a page beats a ticket.")


def test_missing_windows_never_fire(lab06):
    assert attempt(lab06.alert_severity, {300: 0.5}, 99.9) is None, "only the 5m window is known: no decision"


@pytest.mark.parametrize(("errors", "total", "expected"), [(0, 1000, 1.0), (5, 10_000, 0.5), (10, 10_000, 0.0),
                                                           (30, 10_000, -2.0), (0, 0, 1.0)])
def test_budget_remaining(lab06, errors, total, expected):
    got = attempt(lab06.budget_remaining, 99.9, errors, total)
    assert got == pytest.approx(expected), (
        f"budget_remaining(99.9, {errors}, {total}) = {got}, expected {expected}. "
        "Hint: 1 - (errors/total) / (1 - objective/100); no traffic spends nothing.")


def test_budget_remaining_agrees_with_sloths_recording_rule(lab06, tmp_path):
    """promtool evaluates Sloth's slo:period_error_budget_remaining:ratio on the same traffic."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed: apt-get install prometheus")
    good, bad = 9_997, 3  # per minute, for two hours
    expected = round(attempt(lab06.budget_remaining, 99.9, bad, good + bad), 3)
    test = {"rule_files": [str(SLO_RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": 'search_api_requests_total{endpoint="/search",status="200"}', "values": f"0+{good}x120"},
            {"series": 'search_api_requests_total{endpoint="/search",status="500"}', "values": f"0+{bad}x120"}],
        "promql_expr_test": [{
            "expr": 'round(slo:period_error_budget_remaining:ratio{sloth_slo="requests-availability"}, 0.001)',
            "eval_time": "2h",
            "exp_samples": [{"labels": '{owner="milvus-lab", sloth_id="search-api-requests-availability", '
                                       'sloth_service="search-api", sloth_slo="requests-availability", sloth_window="30d", '
                                       'tier="1"}',
                             "value": expected}]}]}]}
    path = tmp_path / "budget_test.yml"
    path.write_text(yaml.safe_dump(test))
    proc = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, (
        f"your budget_remaining gives {expected}; Sloth's rule disagrees:\n{proc.stdout[-1500:]}{proc.stderr[-500:]}")
