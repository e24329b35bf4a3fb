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
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from milvus_lab.baseline import ensure_baseline
from milvus_lab.errors import PrerequisiteError
from milvus_lab.labkit import (
    Drill,
    LabRun,
    LabSpec,
    lab_main,
    notebook_finish,
    notebook_run,
    run_steps,
)
from milvus_lab.load import locustfile, open_live_panel, start_locust
from milvus_lab.load.runner import LocustRun
from milvus_lab.milvus import datasets
from milvus_lab.monitoring import (
    alertmanager,
    anomaly,
    health,
    incidents,
    runbooks,
    slo,
    stack,
    tools,
    webhook,
)
from milvus_lab.monitoring.drill import IncidentTiming, run_incident
from milvus_lab.monitoring.plots import plot_drill
from milvus_lab.releases import V1
from milvus_lab.targets import Target

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
class ProductionMonitoring:
    """Lab 06's steps over one LabRun: SLOs, the service, the monitoring stack, load, the
    incidents, the error budget and the plot."""

    def __init__(self, run: LabRun) -> None:
        self.run = run
        self.args = run.args
        self.target = run.target
        self.settings = run.settings
        self.rules_dir = run.settings.repo_root / stack.RULES_DIR
        self.mon: stack.MonitoringStack | None = None
        self.load: LocustRun | None = None
        self.timings: list[IncidentTiming] = []
        self.drill_start = self.drill_end = 0.0

    def steps(self) -> list[Callable[[], None]]:
        incidents_steps = [lambda name=name: self.incident(name) for name in self.args.incident_list]
        return [self.slos_as_code, self.service_is_live, self.start_monitoring, self.start_load,
                *incidents_steps, self.verify_drill, self.error_budget, self.plot, self.anomalies, self.health]

    def slos_as_code(self) -> None:
        run, impl = self.run, self.run.impl
        with run.step("SLOs as code",
                      "deploy/slo/search-api.yaml declares two SLOs (99.9% of searches without 5xx, 99% under "
                      "500 ms, over 30 days). Sloth v0.12.0 generated the recording rules and the page/ticket "
                      "alerts in deploy/prometheus/rules/ (promtool tests prove them). Your exercise computes "
                      "the same burn-rate thresholds.",
                      "sloth generate -i deploy/slo/search-api.yaml -o deploy/prometheus/rules/search-api-slos.yml"):
            mismatches = []
            conditions = slo.rule_conditions(yaml.safe_load((self.settings.repo_root / slo.RULES).read_text()))
            for c in conditions:
                window = next(w for w in impl.WINDOWS
                              if w.severity == c.severity and c.window_s in (w.long_s, w.short_s))
                mine = impl.error_ratio_threshold(OBJECTIVES[c.alert],
                                                  impl.burn_rate(window.budget_spent, window.long_s))
                if abs(mine - c.threshold) > 1e-9:
                    mismatches.append(f"{c.alert}/{c.severity}/{c.window_s:g}s: {mine:.5f} vs {c.threshold:.5f}")
            run.result(not mismatches, f"{len(conditions)} burn-rate comparisons in Sloth's alerts; "
                                       f"{len(conditions) - len(mismatches)} equal yours")
            run.verify("burn-rate thresholds match Sloth's rules", not mismatches,
                       observed="all equal" if not mismatches else "; ".join(mismatches[:3]),
                       required="burn x (1 - objective) for 14.4x/6x (page), 3x/1x (ticket)",
                       hint="solutions/lab06_monitoring.py: burn_rate and error_ratio_threshold")
            for alert in sorted({c.alert for c in conditions}):
                run.result(True, f"{alert}: runbook {runbooks.runbook_for(self.rules_dir, alert)}")
            run.section["scale"] = self.args.scale

    def service_is_live(self) -> None:
        run = self.run
        with run.step("The search service is live",
                      f"{V1.collection} behind alias 'products', API {V1.slot}/{V1.version} x{V1.replicas} "
                      f"through the router. Two faulty builds are deployed but get no traffic yet: "
                      f"{incidents.ERRORS_VERSION} (fails searches) and {incidents.SLOW_VERSION} (slow searches).",
                      "client.load_collection('products_v1'); kubectl rollout status deploy/search-api"):
            base = ensure_baseline(self.target, V1)
            good = V1.api_config(self.target.api_milvus_uri())
            for cfg in incidents.bad_releases(good, error_rate=0.5, latency_s=1.0, latency_rate=0.6):
                self.target.deploy(cfg, 1)
            self.target.route({V1.slot: 100})
            run.result(True, f"live: {V1.slot} x{len(base.backends)} at {self.target.live_url()}; standby: "
                             f"{incidents.ERRORS_SLOT}/{incidents.ERRORS_VERSION}, "
                             f"{incidents.SLOW_SLOT}/{incidents.SLOW_VERSION}")

    def start_monitoring(self) -> None:
        run, args = self.run, self.args
        with run.step("Prometheus and Alertmanager",
                      f"A real Prometheus scrapes every API replica (file_sd, every 1 s) and evaluates the rules "
                      f"with every window divided by {args.scale:g}; a real Alertmanager routes pages and tickets "
                      "to a local webhook. Milvus Lite has no /metrics endpoint; with Milvus standalone "
                      "Prometheus scrapes Milvus too (milliseconds, converted to seconds by "
                      "deploy/prometheus/rules/milvus.yml).",
                      "prometheus --config.file=prometheus.yml; alertmanager --config.file=alertmanager.yml"):
            self.mon = mon = stack.start_stack(
                self.settings, factor=args.scale, prometheus_port=args.prometheus_port or None,
                alertmanager_port=args.alertmanager_port or None, webhook_port=args.webhook_port or None)
            if not args.keep_running:
                run.on_exit(lambda: stack.stop_stack(self.settings))
            if args.without_alertmanager:
                alertmanager.stop(self.settings)
                run.result(True, "drill: Alertmanager stopped; Prometheus still evaluates the alerts")
            _wait_for_targets(mon, V1.replicas + 2, timeout=60)
            run.result(True, f"Prometheus {mon.prometheus_url} (4 API replicas up), Alertmanager "
                             f"{mon.alertmanager_url}, notifications -> {mon.notifications}")
            run.section["prometheus"] = mon.prometheus_url

    def start_load(self) -> None:
        run, args, mon = self.run, self.args, self._mon()
        with run.step("Load starts",
                      f"{args.users} Locust users search continuously; the SLIs need a few scrapes of traffic.",
                      f"locust -f loadtests/search_api.py --host {self.target.live_url()} --headless -u {args.users}"):
            self.load = start_locust(
                locustfile("search_api"), self.target.live_url(), users=args.users, spawn_rate=args.users,
                run_time_s=None, out_dir=self.settings.path("load", "06"),
                env={"MILVUS_LAB_DATASET_DIR": str(datasets.dataset_dir(self.settings, V1.dataset.name)),
                     "MILVUS_LAB_USER_RPS": str(args.user_rps)})
            run.on_exit(self.load.stop)
            run.on_exit(open_live_panel(self.load, title="live traffic"))
            _wait_for_sli(mon, timeout=60)
            self.drill_start = time.time()
            run.result(True, f"Locust pid {self.load.pid}; SLIs recorded")

    def incident(self, name: str) -> None:
        run, mon, load = self.run, self._mon(), self.load
        incident = _incident(name, self.target)
        runbook = runbooks.runbook_for(self.rules_dir, incident.alert) or ""
        with run.step(f"Incident: {incident.name}",
                      f"{incident.description}. Watch {incident.alert} (severity page) fire in Prometheus, "
                      f"reach the webhook, and resolve after the fix ({incident.fix_text}).",
                      f"curl {mon.prometheus_url}/api/v1/alerts"):
            _wait_quiet(mon, timeout=self.args.detect_timeout)
            if load:
                load.mark(f"{incident.name}: inject")
            timing = run_incident(incident, mon.api, mon.notifications, timeout_s=self.args.detect_timeout)
            if load:
                load.mark(f"{incident.name}: fixed")
            self.timings.append(timing)
            run.result(timing.firing_at is not None, f"firing in Prometheus after {_s(timing.detection_s)}")
            run.result(timing.notified_at is not None, f"notification at the webhook "
                       f"({timing.notified_via or 'none'}) after {_s(timing.notification_s)}")
            run.result(True, f"runbook {runbook}: {runbooks.first_step(self.settings.repo_root, runbook)}")
            run.result(timing.resolved_at is not None, f"fixed ({incident.fix_text}); resolved "
                                                       f"{_s(timing.recovery_s)} after the fix")
            run.section["incidents"] = [t.to_dict() for t in self.timings]

    def verify_drill(self) -> None:
        run, timings = self.run, self.timings
        if self.load:
            self.load.stop()
        self.drill_end = time.time()
        run.verify("every incident detected", bool(timings) and all(t.firing_at for t in timings),
                   observed=", ".join(f"{t.name}: {_s(t.detection_s)}" for t in timings),
                   required=f"alert firing within {self.args.detect_timeout:.0f}s",
                   hint="read the SLI panel of the plot: did the error ratio cross the page threshold?")
        run.verify("every incident notified at the webhook", bool(timings) and all(t.notified_at for t in timings),
                   observed=", ".join(f"{t.name}: {_s(t.notification_s)}" for t in timings),
                   required="a firing notification through Alertmanager",
                   hint="is Alertmanager running? `amtool check-config deploy/alertmanager/alertmanager.yml`")
        run.verify("every incident recovered after the fix", bool(timings) and all(t.resolved_at for t in timings),
                   observed=", ".join(f"{t.name}: {_s(t.recovery_s)}" for t in timings),
                   required=f"alert resolved within {self.args.detect_timeout:.0f}s of the fix",
                   hint="the 30m window (30 s scaled) must drain: wait longer, or check the fix worked")
        leaks = _tickets_during_pages(self._mon().notifications, timings)
        run.verify("no ticket delivered while its page fired", not leaks,
                   observed=f"{len(leaks)} ticket(s) during a page",
                   required="0 (inhibit_rules: a page inhibits the same SLO's ticket)",
                   hint="deploy/alertmanager/alertmanager.yml inhibit_rules: the equal labels must match")

    def error_budget(self) -> None:
        run, mon, impl = self.run, self._mon(), self.run.impl
        with run.step("Error budget left",
                      "Sloth's slo:period_error_budget_remaining:ratio averages the error ratio over the (scaled) "
                      "30-day period, here the minutes Prometheus has seen; your budget_remaining counts the "
                      "drill's events. 1 = untouched, 0 = spent, < 0 = overspent.",
                      'slo:period_error_budget_remaining:ratio{sloth_slo="requests-availability"}'):
            window = f"{max(1, round(self.drill_end - self.drill_start))}s"
            budgets: dict[str, dict[str, float | None]] = {}
            for slo_name, alert, errors_q, total_q in BUDGET_QUERIES:
                sloth_left = mon.api.query(f'slo:period_error_budget_remaining:ratio{{sloth_slo="{slo_name}"}}')
                errors = mon.api.query(errors_q.replace("W", window), at=self.drill_end) or 0.0
                total = mon.api.query(total_q.replace("W", window), at=self.drill_end) or 0.0
                mine = impl.budget_remaining(OBJECTIVES[alert], errors, total)
                budgets[slo_name] = {"sloth_remaining": sloth_left, "drill_remaining": mine,
                                     "bad_events": errors, "events": total}
                run.result(True, f"{slo_name}: Sloth {_pct(sloth_left)} left, drill events {_pct(mine)} left "
                                 f"({errors:,.0f} bad of {total:,.0f})")
            run.section["error_budget"] = budgets

    def plot(self) -> None:
        run = self.run
        with run.step("Plot", "SLIs (short and long window), burn rates, and the page alerts' firing bands.", None):
            png = plot_drill(self._mon().api, self.timings, self.drill_start - 10, self.drill_end or time.time(),
                             self.settings.path("reports", "06_slo_drill.png"), self.args.scale)
            run.artifact(png, "SLIs and burn rates with the page alerts firing marked")
            run.result(True, str(png))

    def anomalies(self) -> None:
        """Part B's detector (monitoring.anomaly) on the series read back from Prometheus."""
        run, mon = self.run, self._mon()
        with run.step("Anomaly detection",
                      "QPS, p95 latency and the 5xx rate read back from Prometheus's HTTP API, scored with a "
                      "running-median baseline and a robust z-score; the flagged intervals are compared with "
                      "the incidents the lab injected (precision = flags that were real, recall = incidents "
                      "flagged).",
                      f"curl '{mon.prometheus_url}/api/v1/query_range?query=...&step=1'"):
            start, end = self.drill_start - 10, self.drill_end or time.time()
            detections = []
            for name, expr, direction in ANOMALY_SERIES:
                t, v = mon.api.query_range(expr, start, end, 1.0)
                if len(t) >= 8:
                    detections.append(anomaly.detect(list(zip(t.tolist(), v.tolist(), strict=True)), name=name,
                                                     direction=direction, trend_s=60.0, step_s=1.0))
            incidents_iv = [(t.injected_at, t.fixed_at or t.injected_at) for t in self.timings]
            flagged = anomaly.union([iv for d in detections for iv in d.flagged], gap_s=5.0)
            ev = anomaly.evaluate(flagged, incidents_iv, tolerance_s=15.0)
            run.result(ev.recall > 0, f"precision {ev.precision:.2f}, recall {ev.recall:.2f} "
                                      f"({ev.true_positives} true, {ev.false_positives} false flags)")
            png = anomaly.plot_detections(detections, incidents_iv, self.settings.path("reports", "06_anomalies.png"),
                                          incident_labels=[t.name for t in self.timings])
            run.artifact(png, "anomaly scores with the injected incidents")
            run.section["anomalies"] = {"evaluation": ev.summary(), "series": [d.summary() for d in detections]}

    def health(self) -> None:
        """Part B's `milvus-lab health`: one exit bit per component."""
        run = self.run
        with run.step("Health check", "Every component after the drill: Milvus (alias served), API replicas, "
                      "router, Prometheus, Alertmanager. The exit code has one bit per component.",
                      "milvus-lab health"):
            report = health.check_health(self.settings)
            for c in report.components:
                run.result(c.state.value == "healthy" or c.name == "alertmanager" and self.args.without_alertmanager,
                           f"{c.name}: {c.state.value} ({c.detail})")
            run.section["health"] = report.summary()

    def _mon(self) -> stack.MonitoringStack:
        if self.mon is None:
            raise PrerequisiteError("the monitoring stack is not running", fix="run the steps in order")
        return self.mon


ANOMALY_SERIES = (
    ("QPS", 'sum(rate(search_api_requests_total{endpoint="/search"}[5s]))', "both"),
    ("p95 latency (s)", "histogram_quantile(0.95, sum by (le) (rate(search_api_request_duration_seconds_bucket[5s])))",
     "up"),
    ("5xx per second", 'sum(rate(search_api_requests_total{endpoint="/search",status=~"5.."}[5s])) or vector(0)', "up"),
)

BUDGET_QUERIES = (
    ("requests-availability", "SearchApiHighErrorRate",
     'sum(increase(search_api_requests_total{endpoint="/search",status=~"5.."}[W]))',
     'sum(increase(search_api_requests_total{endpoint="/search"}[W]))'),
    ("requests-latency", "SearchApiHighLatency",
     'sum(increase(search_api_request_duration_seconds_count[W])) - '
     'sum(increase(search_api_request_duration_seconds_bucket{le="0.5"}[W]))',
     "sum(increase(search_api_request_duration_seconds_count[W]))"),
)


def lesson(run: LabRun) -> None:
    run_steps(run, ProductionMonitoring(run).steps())


# %%
def _incident(name: str, target: Target) -> incidents.Incident:
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


def _tickets_during_pages(path: Path, timings: list[IncidentTiming], margin_s: float = 3.0) -> list[str]:
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


# %% [markdown]
# ## Dry run and cleanup


# %%
def plan(run: LabRun) -> None:
    with run.step("Plan (dry run)", "Nothing is changed: this is what the lesson would do.", None):
        for line in (f"compare your burn-rate thresholds with Sloth's rules (windows / {run.args.scale:g} in the lab)",
                     f"ensure {V1.collection}, API {V1.slot} x{V1.replicas}, faulty builds on standby",
                     "start Prometheus, Alertmanager and the webhook receiver on 127.0.0.1",
                     f"Locust {run.args.users} users; incidents: {', '.join(run.args.incident_list)}",
                     "report detection / notification / recovery times, the error budget, a plot"):
            run.info(line)
        scaled = slo.write_scaled(run.settings.repo_root / stack.RULES_DIR,
                                  run.settings.state_dir / "monitoring" / "dry-run-rules", run.args.scale)
        proc = subprocess.run([tools.require("promtool"), "check", "rules", *map(str, scaled)],
                              capture_output=True, text=True, timeout=120, check=False)
        run.verify("scaled rules pass promtool", proc.returncode == 0, observed=f"{len(scaled)} files",
                   required="promtool check rules exit 0", hint=proc.stdout[-300:] + proc.stderr[-300:])


def cleanup(run: LabRun) -> None:
    with run.step("Clean up", "The monitoring stack, the API replicas (all slots) and the router; data stays.",
                  "pkill is never used: each process is stopped by its pid file"):
        stopped = stack.stop_stack(run.settings)
        run.target.cleanup()
        run.result(True, f"stopped {', '.join(stopped) or 'no monitoring process'}; replicas and router")


def main(argv: list[str] | None = None) -> int:
    return lab_main(SPEC, lesson, argv=argv, add_arguments=add_arguments,
                    check_arguments=check_arguments, plan=plan, cleanup=cleanup)


# %% [markdown]
# ## Run it
# From a shell: `python step05_production/06_production_monitoring.py [flags]`. In Jupyter
# the cells below run the lesson one step at a time with the default flags.

# %%
run = notebook_run(SPEC, add_arguments)  # None outside Jupyter
if run:
    check_arguments(run.args)
lab = ProductionMonitoring(run) if run else None

# %%
if lab:
    lab.slos_as_code()

# %%
if lab:
    lab.service_is_live()

# %%
if lab:
    lab.start_monitoring()

# %%
if lab:
    lab.start_load()

# %%
if lab:
    lab.incident("errors")

# %%
if lab:
    lab.incident("latency")

# %%
if lab:
    lab.incident("milvus")

# %%
if lab:
    lab.verify_drill()

# %%
if lab:
    lab.error_budget()

# %%
if lab:
    lab.plot()

# %%
if lab:
    lab.anomalies()

# %%
if lab:
    lab.health()

# %%
if run:
    notebook_finish(run)
elif __name__ == "__main__":
    sys.exit(main())
