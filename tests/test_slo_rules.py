"""SLO rules, alert routing and dashboards as code, checked with the field's tools:
promtool (check + unit tests), amtool (config + routing tree), Sloth (staleness), and the
grafana-foundation-sdk generator (staleness).

promtool/amtool missing: skip with the apt command (MILVUS_LAB_REQUIRE_MONITORING_TOOLS=1,
set by CI, makes that a failure). Sloth not built: skip naming tools/sloth/build.sh
(MILVUS_LAB_REQUIRE_SLOTH=1 in CI).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from milvus_lab.monitoring import alertmanager, dashboards, runbooks, slo, tools

pytestmark = pytest.mark.tools  # Sloth: built by .ci/run in the background

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "deploy" / "prometheus" / "rules"
RULE_TESTS = REPO / "deploy" / "prometheus" / "tests"
AM_CONFIG = REPO / alertmanager.CONFIG


def _need(tool: str) -> str:
    path = tools.find(tool)
    if path is None:
        reason = f"{tool} is not installed: {tools.fix_for(tool)}"
        if os.environ.get("MILVUS_LAB_REQUIRE_MONITORING_TOOLS") == "1":
            pytest.fail(reason + " (MILVUS_LAB_REQUIRE_MONITORING_TOOLS=1)", pytrace=False)
        pytest.skip(reason)
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def rule_files() -> list[Path]:
    files = sorted(RULES.glob("*.yml"))
    assert files, f"no rule files in {RULES}"
    return files


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_rule_file_passes_promtool_check(path):
    proc = _run(_need("promtool"), "check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", sorted(RULE_TESTS.glob("*.yml")), ids=lambda p: p.name)
def test_promtool_unit_tests_pass(path):
    """Fast burn pages, slow burn tickets, a blip does neither; Milvus ms -> s (see the files)."""
    proc = _run(_need("promtool"), "test", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_rule_file_has_unit_tests():
    tested = {Path(f).name for t in RULE_TESTS.glob("*.yml")
              for f in yaml.safe_load(t.read_text())["rule_files"]}
    assert {p.name for p in rule_files()} <= tested


def test_every_alert_names_a_runbook_that_exists_with_a_first_step():
    alerts = runbooks.alert_rules(RULES)
    assert {a["alert"] for a in alerts} >= {"SearchApiHighErrorRate", "SearchApiHighLatency"}
    for alert in alerts:
        runbook = alert.get("annotations", {}).get("runbook_url")
        assert runbook, f"{alert['alert']} has no runbook_url annotation"
        assert (REPO / runbook).is_file(), f"{alert['alert']}: {runbook} does not exist"
        assert not runbooks.first_step(REPO, runbook).startswith("(no"), runbook


def test_committed_slo_rules_match_the_spec():
    if not os.access(tools.sloth_path(), os.X_OK):
        reason = f"Sloth is not built ({tools.sloth_path()}): bash tools/sloth/build.sh"
        if os.environ.get("MILVUS_LAB_REQUIRE_SLOTH") == "1":
            pytest.fail(reason + " (MILVUS_LAB_REQUIRE_SLOTH=1)", pytrace=False)
        pytest.skip(reason)
    reason = slo.stale(REPO)
    assert reason is None, f"{reason}; run: python -m milvus_lab.monitoring.slo generate"


def test_scaled_rules_divide_every_window_and_still_pass_promtool(tmp_path):
    written = slo.write_scaled(RULES, tmp_path, slo.LAB_SCALE)
    text = (tmp_path / "search-api-slos.yml").read_text()
    assert "[5s]" in text and "[1m]" in text and "[12h]" in text  # 5m, 1h, 30d divided by 60
    assert "[5m]" not in text and "[30d]" not in text
    doc = yaml.safe_load((tmp_path / "milvus.yml").read_text())
    assert doc["groups"][0]["rules"][2]["for"] == "5s"
    proc = _run(_need("promtool"), "check", "rules", *map(str, written))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_duration_helpers():
    assert slo.parse_duration("1h30m") == 5400
    assert slo.format_duration(300 / 60) == "5s" and slo.format_duration(86400 * 30 / 60) == "12h"
    assert slo.scale_expr("rate(x[5m]) / rate(x[1h:1m])", 60) == "rate(x[5s]) / rate(x[1m:1m])"
    with pytest.raises(ValueError):
        slo.parse_duration("5 minutes")


# ---- Alertmanager ------------------------------------------------------------------------
def test_alertmanager_config_passes_amtool():
    proc = _run(_need("amtool"), "check-config", str(AM_CONFIG))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("labels", "receiver"), [
    (["severity=page", "alertname=SearchApiHighErrorRate"], "oncall-page"),
    (["severity=ticket", "alertname=SearchApiHighErrorRate"], "ticket-queue"),
    (["alertname=Watchdog"], "default"),
])
def test_routes_send_each_severity_to_its_receiver(labels, receiver):
    amtool = _need("amtool")
    proc = _run(amtool, "config", "routes", "test", f"--config.file={AM_CONFIG}",
                f"--verify.receivers={receiver}", *labels)
    assert proc.returncode == 0, f"{labels} did not route to {receiver}: {proc.stdout}{proc.stderr}"
    wrong = _run(amtool, "config", "routes", "test", f"--config.file={AM_CONFIG}",
                 "--verify.receivers=nobody", *labels)
    assert wrong.returncode != 0, "amtool --verify.receivers must fail for a wrong receiver"


def test_page_inhibits_the_matching_ticket():
    (rule,) = yaml.safe_load(AM_CONFIG.read_text())["inhibit_rules"]
    assert rule["source_matchers"] == ['severity="page"'] and rule["target_matchers"] == ['severity="ticket"']
    assert {"alertname", "sloth_slo"} <= set(rule["equal"]), "only the SAME SLO's ticket may be inhibited"


def test_lab_copy_of_alertmanager_config_passes_amtool(tmp_path):
    doc = alertmanager.lab_config(yaml.safe_load(AM_CONFIG.read_text()), webhook_port=23456, factor=60)
    assert doc["route"]["group_wait"] == "1s" and doc["route"]["group_interval"] == "5s"
    urls = [h["url"] for r in doc["receivers"] for h in r["webhook_configs"]]
    assert urls and all(u.startswith("http://127.0.0.1:23456/") for u in urls)
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(doc))
    proc = _run(_need("amtool"), "check-config", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---- dashboards as code --------------------------------------------------------------------
def test_committed_dashboards_match_the_generator():
    assert dashboards.stale(REPO) == [], "run: python -m milvus_lab.monitoring.dashboards"


def test_slo_dashboard_reads_sloth_recording_rules():
    import json

    board = json.loads((REPO / dashboards.OUT_DIR / "milvus-lab-slos.json").read_text())
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    for record in ("slo:sli_error:ratio_rate5m", "slo:current_burn_rate:ratio",
                   "slo:period_error_budget_remaining:ratio"):
        assert record in exprs
        assert f"record: {record}" in (RULES / "search-api-slos.yml").read_text()
