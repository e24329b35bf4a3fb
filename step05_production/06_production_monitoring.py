# %% [markdown]
# # Lab 06: production monitoring with real Prometheus and Alertmanager
#
# You will run the search service under load with a real **Prometheus** scraping it and a
# real **Alertmanager** routing its alerts, define **SLOs** as code (Sloth turns them into
# multi-window multi-burn-rate alerts), then live through three incidents as the on-call
# engineer: an error burst, a latency regression and Milvus lost. For each, the lab times
# injection -> alert firing -> notification -> fix -> recovery, and prints the runbook step.
#
# - Targets: `local` (Milvus Lite + local router + Prometheus/Alertmanager on 127.0.0.1).
# - Time: about 4 minutes. The burn-rate windows are divided by 60 (one production hour =
#   one lab minute); the unscaled rules are what `promtool test rules` proves.
# - Drills: `--without-alertmanager` (alerts fire, nobody is told: the lab fails).
#
# ```
# python step05_production/06_production_monitoring.py
# ```

# %%
from __future__ import annotations

import argparse
import os
import sys
import time

import yaml

from milvus_lab.baseline import ensure_baseline
from milvus_lab.errors import PrerequisiteError
from milvus_lab.labkit import Drill, LabRun, LabSpec, lab_main
from milvus_lab.load import live_panel, locustfile, start_locust
from milvus_lab.milvus import datasets
from milvus_lab.monitoring import incidents, runbooks, slo, stack, tools, webhook
from milvus_lab.monitoring.drill import IncidentTiming, run_incident
from milvus_lab.monitoring.plots import plot_drill
from milvus_lab.releases import V1

INCIDENTS = ("errors", "latency", "milvus")
PORT_ENV = {"prometheus": "MILVUS_LAB_PROMETHEUS_PORT", "alertmanager": "MILVUS_LAB_ALERTMANAGER_PORT",
            "webhook": "MILVUS_LAB_WEBHOOK_PORT"}
OBJECTIVES = {"SearchApiHighErrorRate": 99.9, "SearchApiHighLatency": 99.0}

SPEC = LabSpec(
    number="06", slug="production_monitoring",
    title="Production monitoring: SLOs, burn-rate alerts, incident drill",
    learn=("define SLOs as code and generate multi-window multi-burn-rate alerts with Sloth",
           "run a real Prometheus + Alertmanager: routing, grouping, a page inhibits its ticket",
           "time an incident: injection -> alert -> notification -> fix -> recovery",
           "read the error budget left after real traffic"),
    targets=("local",), minutes=4,
    needs=frozenset(),
    exercise="lab06_monitoring",
    drills=(
        Drill("plain", (), exit_code=0,
              passes=("burn-rate thresholds match Sloth's rules", "every incident detected",
                      "every incident notified at the webhook", "every incident recovered after the fix",
                      "no ticket delivered while its page fired")),
        Drill("no alertmanager", ("--incidents", "errors", "--without-alertmanager", "--detect-timeout", "20"),
              exit_code=1, fails=("every incident notified at the webhook",)),
    ),
)


def _port(name: str) -> int:
    raw = os.environ.get(PORT_ENV[name], "0")
    return int(raw) if raw.isdigit() else -1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--incidents", default=",".join(INCIDENTS),
                        help=f"comma list of incidents to inject, in order (default {','.join(INCIDENTS)})")
    parser.add_argument("--users", type=int, default=12, help="Locust users (default 12)")
    parser.add_argument("--user-rps", type=float, default=3.0, help="searches/s per user (default 3)")
    parser.add_argument("--scale", type=float, default=slo.LAB_SCALE,
                        help=f"divide every burn-rate window by this (default {slo.LAB_SCALE}: 1h -> 1 min)")
    parser.add_argument("--detect-timeout", type=float, default=60.0,
                        help="seconds to wait for an alert and for its recovery (default 60)")
    parser.add_argument("--without-alertmanager", action="store_true",
                        help="drill: Prometheus evaluates alerts but no Alertmanager delivers them")
    for name in PORT_ENV:
        parser.add_argument(f"--{name}-port", type=int, default=_port(name),
                            help=f"{name} port on 127.0.0.1 (default ${PORT_ENV[name]}, else a free port)")


def check_arguments(args: argparse.Namespace) -> None:
    chosen = [i.strip() for i in args.incidents.split(",") if i.strip()]
    unknown = [i for i in chosen if i not in INCIDENTS]
    if unknown or not chosen:
        raise PrerequisiteError(f"unknown incident(s) {unknown or args.incidents!r}",
                                fix=f"--incidents takes a comma list of {', '.join(INCIDENTS)}")
    args.incident_list = chosen
    if args.users < 1 or args.user_rps <= 0 or args.scale <= 0 or args.detect_timeout <= 0:
        raise PrerequisiteError("--users, --user-rps, --scale and --detect-timeout must be positive",
                                fix="e.g. --users 12 --user-rps 3 --scale 60 --detect-timeout 60")
    for name in PORT_ENV:
        port = getattr(args, f"{name}_port")
        if not 0 <= port < 65536:
            raise PrerequisiteError(f"--{name}-port {port} is not a port", fix=f"unset {PORT_ENV[name]} or pass 1-65535")
    for tool in ("prometheus", "promtool") + (() if args.without_alertmanager else ("alertmanager",)):
        tools.require(tool)


# %% [markdown]
# ## The lesson
# Each step below is printed as a numbered panel with the equivalent command.


# %%
def lesson(run: LabRun) -> None:
    args, settings, target, impl = run.args, run.settings, run.target, run.impl
    rules_dir = settings.repo_root / stack.RULES_DIR

    # Step 1: SLOs as code -------------------------------------------------------------
    with run.step("SLOs as code",
                  "deploy/slo/search-api.yaml declares two SLOs (99.9% of searches without 5xx, 99% under "
                  "500 ms over 30 days). Sloth v0.12.0 generated the recording rules and the page/ticket "
                  "alerts in deploy/prometheus/rules/; promtool checks them. Your exercise computes the "
                  "same burn-rate thresholds.",
                  "sloth generate -i deploy/slo/search-api.yaml -o deploy/prometheus/rules/search-api-slos.yml"):
        mismatches = []
        conditions = slo.rule_conditions(yaml.safe_load((settings.repo_root / slo.RULES).read_text()))
        for c in conditions:
            window = next(w for w in impl.WINDOWS if w.severity == c.severity and c.window_s in (w.long_s, w.short_s))
            mine = impl.error_ratio_threshold(OBJECTIVES[c.alert], impl.burn_rate(window.budget_spent, window.long_s))
            if abs(mine - c.threshold) > 1e-9:
                mismatches.append(f"{c.alert}/{c.severity}/{c.window_s:g}s: {mine:.5f} vs {c.threshold:.5f}")
        run.result(not mismatches, f"{len(conditions)} burn-rate comparisons in Sloth's alerts; "
                                   f"{len(conditions) - len(mismatches)} equal yours")
        run.verify("burn-rate thresholds match Sloth's rules", not mismatches,
                   observed="all equal" if not mismatches else "; ".join(mismatches[:3]),
                   required="burn x (1 - objective) for 14.4x/6x (page), 3x/1x (ticket)",
                   hint="solutions/lab06_monitoring.py: burn_rate and error_ratio_threshold")
        for alert in sorted({c.alert for c in conditions}):
            run.result(True, f"{alert}: runbook {runbooks.runbook_for(rules_dir, alert)}")
        run.section["scale"] = args.scale

    # Step 2: the service ----------------------------------------------------------------
    with run.step("The search service is live",
                  f"{V1.collection} behind alias 'products', API {V1.slot}/{V1.version} x{V1.replicas} "
                  f"through the router. Two faulty builds are deployed but get no traffic yet: "
                  f"{incidents.ERRORS_VERSION} (fails searches) and {incidents.SLOW_VERSION} (slow searches).",
                  "client.load_collection('products_v1'); kubectl rollout status deploy/search-api"):
        base = ensure_baseline(target, V1)
        good = V1.api_config(target.api_milvus_uri())
        for cfg in incidents.bad_releases(good, error_rate=0.5, latency_s=1.0, latency_rate=0.6):
            target.deploy(cfg, 1)
        target.route({V1.slot: 100})
        run.result(True, f"live: {V1.slot} x{len(base.backends)} at {target.live_url()}; standby: "
                         f"{incidents.ERRORS_SLOT}/{incidents.ERRORS_VERSION}, {incidents.SLOW_SLOT}/{incidents.SLOW_VERSION}")

    # Step 3: Prometheus + Alertmanager ---------------------------------------------------
    with run.step("Prometheus and Alertmanager",
                  f"A real Prometheus scrapes every API replica (file_sd, 1 s) and evaluates the rules with "
                  f"windows divided by {args.scale:g}; a real Alertmanager routes pages and tickets to a local "
                  "webhook. Milvus Lite has no /metrics endpoint; with Milvus standalone Prometheus also "
                  "scrapes Milvus (milliseconds, converted to seconds by deploy/prometheus/rules/milvus.yml).",
                  "prometheus --config.file=prometheus.yml; alertmanager --config.file=alertmanager.yml"):
        mon = stack.start_stack(settings, factor=args.scale, prometheus_port=args.prometheus_port or None,
                                alertmanager_port=args.alertmanager_port or None,
                                webhook_port=args.webhook_port or None)
        if not args.keep_running:
            run.on_exit(lambda: stack.stop_stack(settings))
        if args.without_alertmanager:
            from milvus_lab.monitoring import alertmanager

            alertmanager.stop(settings)
            run.result(True, "drill: Alertmanager stopped; Prometheus still evaluates the alerts")
        _wait_for_targets(mon, 2 + 2, timeout=60)
        run.result(True, f"Prometheus {mon.prometheus_url}, Alertmanager {mon.alertmanager_url}, "
                         f"webhook -> {mon.notifications}")
        run.section["prometheus"] = mon.prometheus_url

    # Step 4: load ---------------------------------------------------------------------
    with run.step("Load starts",
                  f"{args.users} Locust users search continuously; the SLIs need a few scrapes of traffic.",
                  f"locust -f loadtests/search_api.py --host {target.live_url()} --headless -u {args.users}"):
        load = start_locust(locustfile("search_api"), target.live_url(), users=args.users, spawn_rate=args.users,
                            run_time_s=None, out_dir=settings.path("load", "06"),
                            env={"MILVUS_LAB_DATASET_DIR": str(datasets.dataset_dir(settings, V1.dataset.name)),
                                 "MILVUS_LAB_USER_RPS": str(args.user_rps)})
        run.on_exit(load.stop)
        _wait_for_sli(mon, timeout=60)
        run.result(True, f"Locust pid {load.pid}; SLIs recorded")

    drill_start = time.time()
    timings: list[IncidentTiming] = []
    with live_panel(load, title="live traffic"):
        for name in args.incident_list:
            incident = _incident(name, target)
            runbook = runbooks.runbook_for(rules_dir, incident.alert) or ""
            with run.step(f"Incident: {incident.name}",
                          f"{incident.description}. Watch {incident.alert} ({incident.labels}) fire in "
                          f"Prometheus, reach the webhook, and resolve after the fix ({incident.fix_text}).",
                          f"curl {mon.prometheus_url}/api/v1/alerts"):
                _wait_quiet(mon, timeout=args.detect_timeout)
                load.mark(f"{incident.name}: inject")
                timing = run_incident(incident, mon.api, mon.notifications, timeout_s=args.detect_timeout,
                                      tick=lambda line: run.result(True, line))
                load.mark(f"{incident.name}: fixed")
                timings.append(timing)
                run.result(timing.firing_at is not None,
                           f"firing in Prometheus after {_s(timing.detection_s)}")
                run.result(timing.notified_at is not None,
                           f"notification at the webhook ({timing.notified_via or 'none'}) after {_s(timing.notification_s)}")
                run.result(True, f"runbook {runbook}: {runbooks.first_step(settings.repo_root, runbook)}")
                run.result(timing.resolved_at is not None, f"resolved {_s(timing.recovery_s)} after the fix")
    load.stop()
    drill_end = time.time()
    run.section["incidents"] = [t.to_dict() for t in timings]

    run.verify("every incident detected", all(t.firing_at for t in timings),
               observed=", ".join(f"{t.name}: {_s(t.detection_s)}" for t in timings),
               required=f"alert firing within {args.detect_timeout:.0f}s",
               hint="read the SLI panel of the plot: did the error ratio cross the page threshold?")
    run.verify("every incident notified at the webhook", all(t.notified_at for t in timings),
               observed=", ".join(f"{t.name}: {_s(t.notification_s)}" for t in timings),
               required="a firing notification via Alertmanager",
               hint="is Alertmanager running? `amtool check-config deploy/alertmanager/alertmanager.yml`")
    run.verify("every incident recovered after the fix", all(t.resolved_at for t in timings),
               observed=", ".join(f"{t.name}: {_s(t.recovery_s)}" for t in timings),
               required=f"alert resolved within {args.detect_timeout:.0f}s of the fix",
               hint="the 30m window (30 s scaled) must drain: wait longer or check the fix")
    leaks = _tickets_during_pages(mon.notifications, timings)
    run.verify("no ticket delivered while its page fired", not leaks,
               observed=f"{len(leaks)} ticket(s) during a page", required="0 (inhibit_rules: page inhibits ticket)",
               hint="deploy/alertmanager/alertmanager.yml inhibit_rules: equal labels must match")

    # Error budget ----------------------------------------------------------------------------
    with run.step("Error budget left",
                  "Sloth's slo:period_error_budget_remaining:ratio averages the error ratio over the (scaled) "
                  "30-day period; your budget_remaining counts events over the drill. 1 = untouched, "
                  "< 0 = overspent.",
                  "slo:period_error_budget_remaining:ratio{sloth_slo=\"requests-availability\"}"):
        window = f"{max(1, round(drill_end - drill_start))}s"
        budgets = {}
        for slo_name, alert, errors_q, total_q in (
            ("requests-availability", "SearchApiHighErrorRate",
             'sum(increase(search_api_requests_total{endpoint="/search",status=~"5.."}[W]))',
             'sum(increase(search_api_requests_total{endpoint="/search"}[W]))'),
            ("requests-latency", "SearchApiHighLatency",
             'sum(increase(search_api_request_duration_seconds_count[W])) - '
             'sum(increase(search_api_request_duration_seconds_bucket{le="0.5"}[W]))',
             "sum(increase(search_api_request_duration_seconds_count[W]))"),
        ):
            sloth_left = mon.api.query(f'slo:period_error_budget_remaining:ratio{{sloth_slo="{slo_name}"}}')
            errors = mon.api.query(errors_q.replace("W", window), at=drill_end) or 0.0
            total = mon.api.query(total_q.replace("W", window), at=drill_end) or 0.0
            mine = impl.budget_remaining(OBJECTIVES[alert], errors, total)
            budgets[slo_name] = {"sloth_remaining": sloth_left, "drill_remaining": mine,
                                 "errors": errors, "total": total}
            run.result(True, f"{slo_name}: Sloth {_pct(sloth_left)}, drill events {_pct(mine)} "
                             f"({errors:,.0f} bad of {total:,.0f})")
        run.section["error_budget"] = budgets

    with run.step("Plot", "SLIs, burn rates and the page alerts' firing bands.", None):
        png = plot_drill(mon.api, timings, drill_start - 10, drill_end, settings.path("reports", "06_slo_drill.png"),
                         args.scale)
        run.artifact(png, "SLIs and burn rates with the page alerts firing marked")
        run.result(True, str(png))


# %%
def _incident(name: str, target: object) -> incidents.Incident:
    if name == "errors":
        return incidents.error_burst(target, V1.slot)
    if name == "latency":
        return incidents.latency_regression(target, V1.slot)
    return incidents.milvus_lost(target, V1.collection, V1.dataset.dim)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _wait_for_targets(mon: stack.MonitoringStack, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while mon.api.targets_up("search-api") < count:
        if time.monotonic() > deadline:
            raise PrerequisiteError(f"Prometheus sees {mon.api.targets_up('search-api')} of {count} API replicas up",
                                    fix=f"open {mon.prometheus_url}/targets; read .milvus-lab/logs/prometheus.log")
        time.sleep(0.5)


def _wait_for_sli(mon: stack.MonitoringStack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while mon.api.query('slo:sli_error:ratio_rate1h{sloth_slo="requests-availability"}') is None:
        if time.monotonic() > deadline:
            raise PrerequisiteError("no SLI recorded after the load started",
                                    fix=f"query search_api_requests_total at {mon.prometheus_url}")
        time.sleep(0.5)


def _wait_quiet(mon: stack.MonitoringStack, timeout: float) -> None:
    """Start each incident with no page firing, so its detection time is its own."""
    deadline = time.monotonic() + timeout
    while any(a.state == "firing" and a.labels.get("severity") == "page" for a in mon.api.alerts()):
        if time.monotonic() > deadline:
            return
        time.sleep(0.5)


def _tickets_during_pages(path: object, timings: list[IncidentTiming], margin_s: float = 3.0) -> list[str]:
    """Ticket notifications that arrived while the same alert's page was firing."""
    leaks = []
    for n in webhook.read(path):
        if n.labels.get("severity") != "ticket" or n.status != "firing":
            continue
        for t in timings:
            if (t.alert == n.alertname and t.notified_at and t.resolved_at
                    and t.notified_at + margin_s < n.received_at < t.resolved_at - margin_s):
                leaks.append(f"{n.alertname} at {n.received_at:.0f}")
    return leaks


def plan(run: LabRun) -> None:
    for line in (f"check Sloth's rules against your thresholds (scale /{run.args.scale:g})",
                 f"ensure {V1.collection}, API {V1.slot} x{V1.replicas}, faulty builds on standby",
                 "start Prometheus, Alertmanager and the webhook on 127.0.0.1",
                 f"Locust {run.args.users} users; incidents: {', '.join(run.args.incident_list)}",
                 "report detection/notification/recovery times, error budget, plot"):
        run.result(True, line)


def cleanup(run: LabRun) -> None:
    stopped = stack.stop_stack(run.settings)
    for slot in (incidents.ERRORS_SLOT, incidents.SLOW_SLOT):
        run.target.retire(slot)
    run.target.cleanup()
    run.result(True, f"stopped {', '.join(stopped) or 'nothing of the monitoring stack'}; API replicas and router")


def main(argv: list[str] | None = None) -> int:
    return lab_main(SPEC, lesson, argv=argv, add_arguments=add_arguments,
                    check_arguments=check_arguments, plan=plan, cleanup=cleanup)


# %% [markdown]
# ## Run it
# From a shell: `python step05_production/06_production_monitoring.py [flags]`.
# In Jupyter this cell runs the whole lesson with the default flags.

# %%
if "ipykernel" in sys.modules:
    exit_code = main([])
    assert exit_code == 0, f"the lesson exited with {exit_code}: read the output above"
elif __name__ == "__main__":
    sys.exit(main())
