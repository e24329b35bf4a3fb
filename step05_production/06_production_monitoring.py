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
# - Then: anomaly scores on the series read back from Prometheus, a backup -> disaster ->
#   restore drill (RPO/RTO), and `milvus-lab health`.
# - Drills: `--without-alertmanager` (alerts fire, nobody is told: the lab fails).
#
# ```
# python step05_production/06_production_monitoring.py
# ```

# %%
from __future__ import annotations

import sys
import time
from collections.abc import Callable

import yaml

from milvus_lab import labkit
from milvus_lab.baseline import ensure_baseline
from milvus_lab.errors import PrerequisiteError
from milvus_lab.labkit import Drill, LabRun, LabSpec, lab_main, run_steps
from milvus_lab.load import locustfile, open_live_panel, start_locust
from milvus_lab.load.runner import LocustRun
from milvus_lab.milvus import datasets
from milvus_lab.milvus.client import quiet_pymilvus
from milvus_lab.monitoring import (
    alertmanager,
    anomaly,
    backup,
    capacity_plan,
    drill,
    health,
    incidents,
    restore_drill,
    runbooks,
    slo,
    stack,
    tools,
)
from milvus_lab.monitoring.lab_options import add_arguments, check_arguments
from milvus_lab.monitoring.plots import plot_drill
from milvus_lab.releases import ALIAS, V1

ALERTS = {"errors": "SearchApiHighErrorRate", "latency": "SearchApiHighLatency", "milvus": "SearchApiHighErrorRate"}

SPEC = LabSpec(
    number="06", slug="production_monitoring",
    title="Production monitoring: SLOs, burn-rate alerts, incident and restore drills",
    learn=("define SLOs as code and generate multi-window multi-burn-rate alerts with Sloth",
           "run a real Prometheus + Alertmanager: routing, grouping, a page inhibits its ticket",
           "time an incident: injection -> alert -> notification -> fix -> recovery",
           "read the error budget, score anomalies, back up and restore a collection (RPO/RTO)"),
    targets=("local",), minutes=4,
    needs=frozenset(),
    exercise="lab06_monitoring",
    drills=(
        Drill("plain", (), exit_code=0,
              passes=("burn-rate thresholds match Sloth's rules",
                      *(f"{name} detected: {alert} page firing" for name, alert in ALERTS.items()),
                      "every incident notified at the webhook", "every incident recovered after the fix",
                      "no ticket delivered while its page fired", "restore verified (rows, checksum, searches)",
                      "milvus-lab health exits 0")),
        # one start-up covers three lessons: nobody is told without Alertmanager (exit 1), the
        # opt-in capacity plan (its held-out error is verified), and a second backup in the same
        # state directory (the drills share one; the plain run's backup is kept, not reused)
        Drill("no alertmanager + capacity", ("--incidents", "errors", "--without-alertmanager", "--detect-timeout",
                                             "20", "--capacity"),
              exit_code=1, passes=("errors detected: SearchApiHighErrorRate page firing",
                                   "capacity model within 15% on the held-out size",
                                   "restore verified (rows, checksum, searches)"),
              fails=("every incident notified at the webhook",)),
    ),
)


# %% [markdown]
# ## The lesson
# Each step below is printed as a numbered panel with the equivalent command.


# %%
class ProductionMonitoring:
    """Lab 06's steps over one LabRun; the mechanics live in milvus_lab.monitoring."""

    def __init__(self, run: LabRun) -> None:
        self.run, self.args, self.target, self.settings = run, run.args, run.target, run.settings
        self.rules_dir = run.settings.repo_root / stack.RULES_DIR
        self.mon: stack.MonitoringStack | None = None
        self.load: LocustRun | None = None
        self.timings: list[drill.IncidentTiming] = []
        self.drill_start = self.drill_end = 0.0

    def steps(self) -> list[Callable[[], None]]:
        drills = [lambda name=name: self.incident(name) for name in self.args.incident_list]
        return [self.slos_as_code, self.service_is_live, self.start_monitoring, self.start_load, *drills,
                self.verify_drill, self.error_budget, self.plot, self.anomalies, self.capacity, self.backup_restore,
                self.health]

    def slos_as_code(self) -> None:
        run, impl = self.run, self.run.impl
        with run.step("SLOs as code",
                      "deploy/slo/search-api.yaml declares two SLOs (99.9% of searches without 5xx, 99% under "
                      "500 ms, over 30 days). Sloth v0.12.0 generated the recording rules and the page/ticket "
                      "alerts in deploy/prometheus/rules/ (promtool tests prove them). Your exercise computes "
                      "the same burn-rate thresholds.",
                      "sloth generate -i deploy/slo/search-api.yaml -o deploy/prometheus/rules/search-api-slos.yml"):
            conditions = slo.rule_conditions(yaml.safe_load((self.settings.repo_root / slo.RULES).read_text()))
            wrong = slo.threshold_mismatches(conditions, impl.WINDOWS, impl.burn_rate, impl.error_ratio_threshold)
            run.verify("burn-rate thresholds match Sloth's rules", not wrong,
                       observed=f"{len(conditions) - len(wrong)} of {len(conditions)} equal; " + "; ".join(wrong[:2]),
                       required="burn x (1 - objective) for 14.4x/6x (page), 3x/1x (ticket)",
                       hint="solutions/lab06_monitoring.py: burn_rate and error_ratio_threshold")
            for alert in sorted({c.alert for c in conditions}):
                run.result(True, f"{alert}: runbook {runbooks.runbook_for(self.rules_dir, alert)}")
            run.section["scale"] = self.args.scale

    def service_is_live(self) -> None:
        with self.run.step("The search service is live",
                           f"{V1.collection} behind alias '{ALIAS}', API {V1.slot}/{V1.version} x{V1.replicas} "
                           f"through the router. Two faulty builds are deployed but get no traffic yet: "
                           f"{incidents.ERRORS_VERSION} (fails searches), {incidents.SLOW_VERSION} (slow searches).",
                           "client.load_collection('products_v1'); kubectl rollout status deploy/search-api"):
            base = ensure_baseline(self.target, V1)
            incidents.deploy_standby(self.target, V1.api_config(self.target.api_milvus_uri()))
            self.target.route({V1.slot: 100})
            self.run.result(True, f"live: {V1.slot} x{len(base.backends)} at {self.target.live_url()}; standby: "
                                  f"{incidents.ERRORS_SLOT}/{incidents.ERRORS_VERSION}, "
                                  f"{incidents.SLOW_SLOT}/{incidents.SLOW_VERSION}")

    def start_monitoring(self) -> None:
        run, args = self.run, self.args
        with run.step("Prometheus and Alertmanager",
                      f"A real Prometheus scrapes every API replica (file_sd, every 1 s) and evaluates the rules "
                      f"with every window divided by {args.scale:g}; a real Alertmanager routes pages and tickets "
                      "to a local webhook. Milvus Lite has no /metrics endpoint; Milvus standalone reports "
                      "milliseconds, converted to seconds by deploy/prometheus/rules/milvus.yml.",
                      "prometheus --config.file=prometheus.yml; alertmanager --config.file=alertmanager.yml"):
            self.mon = mon = stack.start_stack(
                self.settings, factor=args.scale, prometheus_port=args.prometheus_port or None,
                alertmanager_port=args.alertmanager_port or None, webhook_port=args.webhook_port or None)
            if not args.keep_running:
                run.on_exit(lambda: stack.stop_stack(self.settings))
            if args.without_alertmanager:
                alertmanager.stop(self.settings)
                run.result(True, "drill: Alertmanager stopped; Prometheus still evaluates the alerts")
            stack.wait_for_api_targets(mon, V1.replicas + 2)  # the live release and the two standby builds
            run.result(True, f"Prometheus {mon.prometheus_url} (4 API replicas up), Alertmanager "
                             f"{mon.alertmanager_url}, notifications -> {mon.notifications}")
            run.section["prometheus"] = mon.prometheus_url

    def start_load(self) -> None:
        run, args, mon = self.run, self.args, self._mon()
        with run.step("Load starts", f"{args.users} Locust users search continuously; the SLIs need a few scrapes.",
                      f"locust -f loadtests/search_api.py --host {self.target.live_url()} --headless -u {args.users}"):
            self.load = start_locust(
                locustfile("search_api"), self.target.live_url(), users=args.users, spawn_rate=args.users,
                run_time_s=None, out_dir=self.settings.path("load", "06"),
                env={"MILVUS_LAB_DATASET_DIR": str(datasets.dataset_dir(self.settings, V1.dataset.name)),
                     "MILVUS_LAB_USER_RPS": str(args.user_rps)})
            run.on_exit(self.load.stop)
            run.on_exit(open_live_panel(self.load, title="live traffic"))
            stack.wait_for_sli(mon)
            self.drill_start = time.time()
            run.result(True, f"Locust pid {self.load.pid}; SLIs recorded")

    def incident(self, name: str) -> None:
        run, mon, load = self.run, self._mon(), self.load
        incident = incidents.by_name(name, self.target, V1.slot, V1.collection, V1.dataset.dim)
        runbook = runbooks.runbook_for(self.rules_dir, incident.alert) or ""
        with run.step(f"Incident: {incident.name}",
                      f"{incident.description}. Watch {incident.alert} (severity page) fire in Prometheus, "
                      f"reach the webhook, and resolve after the fix ({incident.fix_text}).",
                      f"curl {mon.prometheus_url}/api/v1/alerts"):
            if not drill.wait_quiet(mon.api, self.args.detect_timeout):  # each detection time is the incident's own
                run.warn("a page still fires before the injection (is the machine too busy for the 500 ms SLO?): "
                         "this detection time is not the incident's own")
            if load:
                load.mark(f"{incident.name}: inject")
            t = drill.run_incident(incident, mon.api, mon.notifications, timeout_s=self.args.detect_timeout)
            if load:
                load.mark(f"{incident.name}: fixed")
            self.timings.append(t)
            run.verify(f"{name} detected: {incident.alert} page firing", t.firing_at is not None,
                       observed=f"after {drill.seconds(t.detection_s)}", required=f"within {self.args.detect_timeout:.0f}s",
                       hint="read the SLI panel of the plot: did the ratio cross the page threshold?")
            run.result(t.notified_at is not None, f"notification ({t.notified_via or 'none'}) after "
                                                  f"{drill.seconds(t.notification_s)}")
            run.result(True, f"runbook {runbook}: {runbooks.first_step(self.settings.repo_root, runbook)}")
            run.result(t.resolved_at is not None, f"fixed ({incident.fix_text}); resolved {drill.seconds(t.recovery_s)} later")
            for note in t.notes:
                run.warn(note)
            run.section["incidents"] = [t.to_dict() for t in self.timings]

    def verify_drill(self) -> None:
        run, timings, timeout = self.run, self.timings, self.args.detect_timeout
        if self.load:
            self.load.stop()
        self.drill_end = time.time()
        run.verify("every incident notified at the webhook", bool(timings) and all(t.notified_at for t in timings),
                   observed=", ".join(f"{t.name}: {drill.seconds(t.notification_s)}" for t in timings),
                   required="a firing notification through Alertmanager",
                   hint="is Alertmanager running? `amtool check-config deploy/alertmanager/alertmanager.yml`")
        run.verify("every incident recovered after the fix", bool(timings) and all(t.resolved_at for t in timings),
                   observed=", ".join(f"{t.name}: {drill.seconds(t.recovery_s)}" for t in timings),
                   required=f"alert resolved within {timeout:.0f}s of the fix",
                   hint="the 30m window (30 s scaled) must drain: wait longer, or check the fix worked")
        leaks = drill.tickets_during_pages(self._mon().notifications, timings)
        run.verify("no ticket delivered while its page fired", not leaks, observed=f"{len(leaks)} ticket(s)",
                   required="0 (inhibit_rules: a page inhibits the same SLO's ticket)",
                   hint="deploy/alertmanager/alertmanager.yml inhibit_rules: the equal labels must match")

    def error_budget(self) -> None:
        run = self.run
        with run.step("Error budget left",
                      "Sloth's slo:period_error_budget_remaining:ratio averages the error ratio over the (scaled) "
                      "30-day period, here the minutes Prometheus has seen; your budget_remaining counts the "
                      "drill's events. 1 = untouched, 0 = spent, < 0 = overspent.",
                      'slo:period_error_budget_remaining:ratio{sloth_slo="requests-availability"}'):
            budgets = slo.error_budgets(self._mon().api, self.drill_end - self.drill_start, self.drill_end,
                                        run.impl.budget_remaining)
            for name, budget in budgets.items():
                run.result(True, slo.budget_line(name, budget))
            run.section["error_budget"] = budgets

    def plot(self) -> None:
        with self.run.step("Plot", "SLIs (short and long window), burn rates, and the page alerts' firing bands."):
            png = plot_drill(self._mon().api, self.timings, self.drill_start - 10, self.drill_end,
                             self.settings.path("reports", "06_slo_drill.png"), self.args.scale)
            self.run.artifact(png, "SLIs and burn rates with the page alerts firing marked")
            self.run.result(True, str(png))

    def anomalies(self) -> None:
        run, mon = self.run, self._mon()
        with run.step("Anomaly detection",
                      "QPS, p95 latency and the 5xx rate read back from Prometheus's HTTP API, scored with a "
                      "running-median baseline and a robust z-score (|z| > 4); the flags are compared with the "
                      "injected incidents (precision = flags that were real, recall = incidents flagged).",
                      f"curl '{mon.prometheus_url}/api/v1/query_range?query=...&step=1'"):
            detections = anomaly.detect_lab_series(mon.api.query_range, self.drill_start - 10, self.drill_end)
            spans = [(t.injected_at, t.fixed_at or t.injected_at) for t in self.timings]
            ev = anomaly.score_against(detections, spans)
            run.result(True, f"precision {ev.precision:.2f}, recall {ev.recall:.2f} "
                             f"({ev.true_positives} true, {ev.false_positives} false flags)")
            png = anomaly.plot_detections(detections, spans, self.settings.path("reports", "06_anomalies.png"),
                                          incident_labels=[t.name for t in self.timings])
            run.artifact(png, "anomaly scores with the injected incidents")
            run.section["anomalies"] = {"evaluation": ev.summary(), "series": [d.summary() for d in detections]}

    def capacity(self) -> None:
        run, args = self.run, self.args
        if not args.capacity:
            return
        with run.step("Capacity plan",
                      f"Memory: a sizing model (raw vectors + {V1.index.label()} + scalars, x a fitted factor, + a "
                      "base) calibrated on the RSS of fresh Milvus Lite servers at 5k-20k rows, tested on 40k. "
                      "QPS: a Locust step test (closed loop, more users each step) finds where p95 passes 500 ms.",
                      "python benchmarks/capacity_calibration.py"):
            cap = capacity_plan.measure_and_plan(self.target.live_url(), self.settings, V1,
                                                 int(args.plan_vectors), args.plan_qps)
            held_out = cap.calibration.held_out_error_pct
            run.verify("capacity model within 15% on the held-out size", held_out <= 15.0,
                       observed=f"{held_out:.1f}%", required="<= 15%",
                       hint="read the fit plot: is the held-out point far off the line? re-run on a quieter machine")
            for line in cap.lines():
                run.result(True, line)
            for line in cap.plan.assumptions:
                run.info(line)
            run.artifact(cap.plot(self.settings.path("reports", "06_capacity_fit.png")),
                         "memory sizing model vs measured Milvus RSS (held-out error)")
            run.section["capacity"] = cap.section()

    def backup_restore(self) -> None:
        run = self.run
        if self.args.no_backup:
            return
        with run.step("Backup, disaster, restore",
                      f"Back up {V1.collection} to Parquet (query iterator + manifest with checksums), write 200 rows "
                      "the backup lacks, drop the collection (the disaster), restore it under its name, verify "
                      f"rows, content checksum and probe searches, point '{ALIAS}' at it. RPO = what the restore "
                      "lost; RTO = drop -> alias serves the verified restore.",
                      "python -m milvus_lab.monitoring.backup (pymilvus query_iterator -> pyarrow.parquet)"):
            directory = restore_drill.new_backup_dir(self.settings)
            dr = restore_drill.run(self.target, self.settings, V1, ALIAS, directory)
            manifest = directory / backup.MANIFEST
            run.verify("restore verified (rows, checksum, searches)", dr.ok, observed=restore_drill.observed(dr),
                       required="all equal", hint=f"read the backup's manifest: {manifest}")
            run.artifact(manifest, "the backup's manifest (files, rows, checksums)")
            run.result(True, restore_drill.timing(dr))
            run.section["backup"] = dr.summary()

    def health(self) -> None:
        with self.run.step("Health check", "Every component after the drills; the exit code has one bit per "
                                           "component (0 = all healthy).", "milvus-lab health"):
            skip = ("alertmanager",) if self.args.without_alertmanager else ()
            report = health.check_health(self.settings, components=[c for c in health.COMPONENTS if c not in skip])
            for c in report.components:
                self.run.result(c.state.value == "healthy", f"{c.name}: {c.state.value} ({c.detail})")
            self.run.verify("milvus-lab health exits 0", report.exit_code == 0, observed=report.exit_code,
                            required=0, hint="the failing component's line above says what is down")
            self.run.section["health"] = report.summary()

    def _mon(self) -> stack.MonitoringStack:
        if self.mon is None:
            raise PrerequisiteError("the monitoring stack is not running", fix="run the steps in order")
        return self.mon


def lesson(run: LabRun) -> None:
    # Milvus goes down on purpose, and Milvus Lite answers long reads' keepalives with GOAWAY:
    # pymilvus would log every reconnect with a traceback. Real failures still raise.
    with quiet_pymilvus():
        run_steps(run, ProductionMonitoring(run).steps())


# %% [markdown]
# ## Dry run and cleanup


# %%
def plan(run: LabRun) -> None:
    with run.step("Plan (dry run)", "Nothing is changed: this is what the lesson would do."):
        for line in (f"compare your burn-rate thresholds with Sloth's rules (windows / {run.args.scale:g} in the lab)",
                     f"ensure {V1.collection}, API {V1.slot} x{V1.replicas}, faulty builds on standby",
                     "start Prometheus, Alertmanager and the webhook receiver on 127.0.0.1",
                     f"Locust {run.args.users} users; incidents: {', '.join(run.args.incident_list)}",
                     "report detection / notification / recovery times, the error budget, plots, anomalies",
                     "back up, drop and restore the collection (RPO/RTO); milvus-lab health"):
            run.info(line)
        scaled = slo.write_scaled(run.settings.repo_root / stack.RULES_DIR,
                                  run.settings.state_dir / "monitoring" / "dry-run-rules", run.args.scale)
        proc = tools.check_rules(scaled)
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
run = labkit.notebook_run(SPEC, add_arguments)  # None outside Jupyter
if run:
    check_arguments(run.args)
lab = ProductionMonitoring(run) if run else None


def cell(step: Callable[[ProductionMonitoring], None]) -> None:
    """One lesson step in this notebook cell (nothing outside Jupyter)."""
    if lab:
        step(lab)


# %%
cell(ProductionMonitoring.slos_as_code)

# %%
cell(ProductionMonitoring.service_is_live)

# %%
cell(ProductionMonitoring.start_monitoring)

# %%
cell(ProductionMonitoring.start_load)

# %%
cell(lambda lab: lab.incident("errors"))

# %%
cell(lambda lab: lab.incident("latency"))

# %%
cell(lambda lab: lab.incident("milvus"))

# %%
cell(ProductionMonitoring.verify_drill)

# %%
cell(ProductionMonitoring.error_budget)

# %%
cell(ProductionMonitoring.plot)

# %%
cell(ProductionMonitoring.anomalies)

# %%
cell(ProductionMonitoring.capacity)

# %%
cell(ProductionMonitoring.backup_restore)

# %%
cell(ProductionMonitoring.health)

# %%
if run:
    labkit.notebook_finish(run)
elif __name__ == "__main__":
    sys.exit(main())
