"""Grafana dashboards as code (grafana-foundation-sdk, the "next" build for Grafana 12, the
line docker-compose.yml runs): this module writes the JSON that compose provisions from
`deploy/compose/grafana/dashboards/`. Edit here, then

    python -m milvus_lab.monitoring.dashboards          # rewrite the JSON
    python -m milvus_lab.monitoring.dashboards --check  # exit 1 when the JSON is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import DataSourceRef

from milvus_lab.settings import find_repo_root

OUT_DIR = Path("deploy/compose/grafana/dashboards")
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")  # provisioning fixes this uid
SLO = 'sloth_service="search-api", sloth_slo="{slo}"'


def _panel(title: str, unit: str, *queries: tuple[str, str], width: int = 12) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).height(8).span(width)
    for i, (expr, legend) in enumerate(queries):
        panel = panel.with_target(prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(65 + i)))
    return panel


def _dashboard(uid: str, title: str, tags: list[str]) -> db.Dashboard:
    return (db.Dashboard(title).uid(uid).tags(tags).timezone("browser").refresh("5s")
            .time("now-30m", "now").readonly())


def overview() -> db.Dashboard:
    """Traffic, errors and latency of the search API and of Milvus (seconds everywhere)."""
    api = 'search_api_requests_total{endpoint="/search"}'
    return (
        _dashboard("milvus-lab-overview", "Milvus Lab: search API and Milvus", ["milvus-lab"])
        .with_panel(_panel("Search API requests/s by slot and version", "reqps",
                           (f"sum by (slot, version, status) (rate({api}[1m]))", "{{slot}}/{{version}} {{status}}")))
        .with_panel(_panel("Search API error ratio (5xx)", "percentunit",
                           ('sum by (slot) (rate(search_api_requests_total{endpoint="/search", status=~"5.."}[1m]))'
                            f" / sum by (slot) (rate({api}[1m]))", "{{slot}}")))
        .with_panel(_panel("Search API latency p95 (seconds)", "s",
                           ("histogram_quantile(0.95, sum by (le, slot) "
                            "(rate(search_api_request_duration_seconds_bucket[1m])))", "{{slot}} p95")))
        .with_panel(_panel("Router slot weights", "percent", ("router_slot_weight", "{{slot}}")))
        .with_panel(_panel("Milvus search requests/s", "reqps",
                           ('sum by (status) (rate(milvus_proxy_req_count{function_name="Search"}[1m]))', "{{status}}")))
        # Milvus reports milliseconds: / 1000 gives the seconds every other panel uses
        .with_panel(_panel("Milvus search latency p99 (seconds)", "s",
                           ('histogram_quantile(0.99, sum by (le) (rate(milvus_proxy_sq_latency_bucket'
                            '{query_type="search"}[1m]))) / 1000', "p99")))
    )


def slos() -> db.Dashboard:
    """The SLO view Sloth's recording rules feed: SLI, burn rate, error budget left."""
    board = _dashboard("milvus-lab-slos", "Milvus Lab: search API SLOs", ["milvus-lab", "slo"])
    for slo, label in (("requests-availability", "availability (99.9%)"), ("requests-latency", "latency < 500 ms (99%)")):
        sel = SLO.format(slo=slo)
        board = (
            board
            .with_panel(_panel(f"Error ratio, {label}", "percentunit",
                               (f"slo:sli_error:ratio_rate5m{{{sel}}}", "5m"),
                               (f"slo:sli_error:ratio_rate1h{{{sel}}}", "1h"),
                               (f"slo:error_budget:ratio{{{sel}}}", "budget (1 - objective)"), width=8))
            .with_panel(_panel(f"Burn rate, {label}", "none",
                               (f"slo:current_burn_rate:ratio{{{sel}}}", "now (5m)"),
                               (f"slo:period_burn_rate:ratio{{{sel}}}", "30-day period"), width=8))
            .with_panel(_panel(f"Error budget left (30 days), {label}", "percentunit",
                               (f"slo:period_error_budget_remaining:ratio{{{sel}}}", "remaining"), width=8))
        )
    return board


DASHBOARDS = {"milvus-lab-overview.json": overview, "milvus-lab-slos.json": slos}


def render(name: str) -> str:
    return json.dumps(DASHBOARDS[name]().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def stale(root: Path | None = None) -> list[str]:
    """Dashboard files whose committed JSON differs from what this module generates."""
    out = (root or find_repo_root()) / OUT_DIR
    return [name for name in DASHBOARDS
            if not (out / name).is_file() or (out / name).read_text() != render(name)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m milvus_lab.monitoring.dashboards")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed JSON is stale")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        if names:
            print(f"stale: {', '.join(names)}; run: python -m milvus_lab.monitoring.dashboards", file=sys.stderr)
            return 1
        print("dashboards are up to date")
        return 0
    out = find_repo_root() / OUT_DIR
    for name in DASHBOARDS:
        (out / name).write_text(render(name))
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
